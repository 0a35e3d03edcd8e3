"""A durable record of a run: every oracle evaluation and every iteration, in SQLite.

With ``options={'log': 'run.sqlite'}`` every call of the user's `fun` or `jac`
is written to the file as it completes (one transaction per call, in WAL
mode, so that a process killed by SIGKILL loses at most the call in flight;
with SQLite's ``synchronous=NORMAL`` a power cut or an operating-system crash
may also lose the last few committed calls), and so is every iteration.  Run the same script
again and the run *resumes*: a call whose kind and point match a logged
evaluation returns the logged result instead of calling the user.  curvopt's
methods are deterministic, so the second run retraces the first one's path
bitwise, paying nothing for it, and goes on with fresh calls where the log
ends.  `read_log` returns the history for plots.

Matching is by content, not by position: a call is replayed when the log
holds an evaluation of the same kind (``'fun'``, ``'jac'`` or
``'fun_and_jac'``) at a point with the same bytes.  Whatever changed between
the two runs (a larger ``maxiter`` or ``max_grad_calls``, another tolerance,
another curvopt version), no point is ever evaluated twice, and a path that
leaves the logged one simply makes fresh calls from there on.

What must not change is the problem: a log records the method, the dimension,
a digest of ``x0``, how the gradient is obtained, the objective's name and a
digest of ``args``.  Resuming with any of those different raises a
`ValueError` before any evaluation (the log would answer another problem's
values); delete the file or pass another path to start afresh.  A change
inside the objective's code cannot be detected: delete the log when the
objective changes.

The file holds four tables: ``meta`` (key, value), ``evaluations`` (seq,
kind, x, f, g, error, seconds, wall_time), ``iterations`` (nit, x, f, gnorm,
njev, trust_radius, accepted, wall_time) and ``attempts`` (one row per run of
the script: status, message, counts, final point).  Arrays are stored as
float64 bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import pickle
import sqlite3
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from ._oracle import OracleError, _as_real_array

__all__ = ["EvaluationLog", "LoggedError", "LogHistory", "open_log", "log_products", "read_log", "digest"]

# Kinds of evaluation: what the user's callable returned ('hvp': an exact Hessian-vector
# product from autograd or the user's `hessp`, at x along p).
FUN, JAC, FUN_AND_JAC, HVP = "fun", "jac", "fun_and_jac", "hvp"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, x BLOB NOT NULL, f REAL, g BLOB, error TEXT,
    seconds REAL NOT NULL, wall_time REAL NOT NULL, p BLOB);
CREATE TABLE IF NOT EXISTS iterations (
    nit INTEGER PRIMARY KEY, x BLOB NOT NULL, f REAL, gnorm REAL, njev INTEGER, trust_radius REAL,
    accepted INTEGER, wall_time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
    attempt INTEGER PRIMARY KEY, started REAL NOT NULL, finished REAL, status INTEGER, message TEXT,
    nit INTEGER, nfev INTEGER, njev INTEGER, n_replayed INTEGER, n_fresh INTEGER, x BLOB, f REAL);
"""

# The metadata that names the problem: a log whose values differ is another problem's.
_IDENTITY = ("method", "n", "x0_digest", "jac_mode", "fun", "args_digest")


class LoggedError(Exception):
    """An exception the objective or gradient raised in a logged run, replayed from the log.

    Its message is the original's ``"TypeName: message"``; the original
    object cannot be stored.
    """


def digest(value) -> str:
    """A stable digest of arrays, numbers, strings, containers of them, and other data (sha256, hex).

    scipy sparse matrices contribute their CSR arrays, array-likes (pandas,
    anything with ``__array__``) their values, and any other object its
    pickle (not its ``repr``, which may hold a memory address that differs
    from one process to the next).  An object that none of these can read
    raises a ValueError: a log must not answer a problem whose data it
    cannot tell apart.
    """
    h = hashlib.sha256()

    def feed(v):
        if isinstance(v, np.ndarray):
            h.update(f"ndarray{v.dtype.str}{v.shape}".encode())
            h.update(np.ascontiguousarray(v).tobytes() if v.dtype != object else repr(v.tolist()).encode())
        elif isinstance(v, (bool, numbers.Number, str, bytes, type(None))):
            h.update(f"{type(v).__name__}:{v!r};".encode())
        elif isinstance(v, (tuple, list)):
            h.update(f"{type(v).__name__}[{len(v)}](".encode())
            for item in v:
                feed(item)
            h.update(b")")
        elif isinstance(v, dict):
            h.update(f"dict[{len(v)}](".encode())
            for key in sorted(v, key=repr):
                feed(key)
                feed(v[key])
            h.update(b")")
        elif callable(v) and not hasattr(v, "__array__"):
            # a function among the arguments: its name (its code cannot be compared anyway)
            h.update(f"<callable {getattr(v, '__module__', '')}.{getattr(v, '__qualname__', repr(type(v)))}>".encode())
        elif _is_sparse(v):
            csr = v.tocsr()
            h.update(f"sparse{csr.shape}".encode())
            for part in (csr.data, csr.indices, csr.indptr):
                feed(np.asarray(part))
        elif hasattr(v, "__array__") or hasattr(v, "to_numpy"):
            feed(np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v))
        else:
            try:
                h.update(f"<{type(v).__module__}.{type(v).__qualname__}>".encode() + pickle.dumps(v, protocol=4))
            except Exception as exc:
                raise ValueError(
                    f"option `log` cannot tell this run's `args` from another's: an argument of type "
                    f"{type(v).__name__} is neither data nor picklable ({exc}); pass plain arrays, or no log"
                ) from None

    feed(value)
    return h.hexdigest()


def _is_sparse(v) -> bool:
    try:
        import scipy.sparse
    except ImportError:  # pragma: no cover - scipy is a dependency
        return False
    return scipy.sparse.issparse(v)


def _name_of(fun) -> str:
    return getattr(fun, "__qualname__", None) or type(fun).__qualname__


def _as_blob(array) -> bytes:
    return np.ascontiguousarray(array, dtype=np.float64).tobytes()


def _from_blob(blob):
    return None if blob is None else np.frombuffer(blob, dtype=np.float64).copy()


class EvaluationLog:
    """An open log: replays the evaluations it holds and appends the fresh ones.

    Parameters
    ----------
    path : str or os.PathLike
        The SQLite file; created if it does not exist.
    meta : dict
        What the run is (see `open_log`); the keys in ``_IDENTITY`` must
        match those of an existing log.

    Attributes
    ----------
    n_replayed, n_fresh : int
        Calls answered from the log, and calls of the user's code, in this
        attempt.
    attempt : int
        The attempt number (1 for a new log, 2 for the first resume, ...).

    Raises
    ------
    ValueError
        The file holds the log of another problem, or is not a curvopt log.
    """

    def __init__(self, path, meta):
        self.path = os.fspath(path)
        self.n_replayed = 0
        self.n_fresh = 0
        # Threads may evaluate together (parallel finite differences): one writer at a time.
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise ValueError(f"option `log`: cannot open {self.path!r} as an SQLite file ({exc})") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL keeps every committed transaction through a crash of the
            # process (SIGKILL); only a power cut may lose the last ones.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._check_meta(meta)
            self._replay = self._load()
            self._seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM evaluations").fetchone()[0]
            self.attempt = self._db.execute("SELECT COALESCE(MAX(attempt), 0) FROM attempts").fetchone()[0] + 1
            self._db.execute("INSERT INTO attempts (attempt, started) VALUES (?, ?)", (self.attempt, time.time()))
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise ValueError(f"option `log`: {self.path!r} is not a curvopt log ({exc})") from None
        except BaseException:
            self._db.close()
            raise

    # ------------------------------------------------------------------ opening

    def _check_meta(self, meta):
        logged = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        now = {key: json.dumps(value) for key, value in meta.items()}
        if not logged:
            self._db.executemany("INSERT INTO meta VALUES (?, ?)", now.items())
            return
        for key in _IDENTITY:
            if key in logged and key in now and logged[key] != now[key]:
                raise ValueError(
                    f"option `log`: {self.path!r} holds the log of a different run ({key}: logged "
                    f"{json.loads(logged[key])!r}, now {json.loads(now[key])!r}); resuming from it would "
                    "replay another problem's evaluations. Delete the file or pass another `log` path."
                )

    def _load(self):
        replay = {}
        rows = self._db.execute("SELECT kind, x, p, f, g, error FROM evaluations ORDER BY seq")
        for kind, x, p, f, g, error in rows:
            # The first record of a point wins: a deterministic objective gives the same again.
            replay.setdefault((kind, bytes(x) + (b"" if p is None else bytes(p))), (f, g, error))
        return replay

    # ------------------------------------------------------------------ evaluations

    def lookup(self, kind, x, p=None):
        """The logged result of `kind` at `x` (along `p` for a product): ``(True, output)``, or
        ``(False, key)`` to pass to `record`.

        A logged exception is raised again, as `OracleError` from a `LoggedError`.
        """
        key = (kind, _as_blob(x) + (b"" if p is None else _as_blob(p)))
        hit = self._replay.get(key)
        if hit is None:
            return False, key
        self.n_replayed += 1
        f, g, error = hit
        if error is not None:
            raise OracleError(error) from LoggedError(error)
        f = math.nan if f is None else float(f)  # SQLite stores NaN as NULL
        if kind == FUN:
            return True, f
        if kind in (JAC, HVP):
            return True, _from_blob(g)
        return True, (f, _from_blob(g))

    def record(self, key, output=None, error=None, seconds=0.0):
        """Append one fresh evaluation (and commit it): `output` as the user returned it, or `error`."""
        self.n_fresh += 1
        kind, xbytes = key
        pbytes = None
        if kind == HVP:  # the key holds x and p, of equal lengths
            xbytes, pbytes = xbytes[:len(xbytes) // 2], xbytes[len(xbytes) // 2:]
        f = g = None
        if error is None:
            try:
                f, g = _encode(kind, output)
            except (TypeError, ValueError):
                return  # malformed output: the oracle's own check raises on it, nothing to replay
        with self._lock:
            self._seq += 1
            self._db.execute(
                "INSERT INTO evaluations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self._seq, kind, xbytes, f, g, error, seconds, time.time(), pbytes),
            )
        self._replay.setdefault(key, (f, g, error))

    def evaluate(self, kind, call, x, p=None):
        """``call(x)`` unless the log answers; a fresh result (or `OracleError`) is logged."""
        hit, value = self.lookup(kind, x, p)
        if hit:
            return value
        start = time.perf_counter()
        try:
            output = call(x)
        except OracleError as err:
            self.record(value, error=str(err), seconds=time.perf_counter() - start)
            raise
        self.record(value, output, seconds=time.perf_counter() - start)
        return output

    # ------------------------------------------------------------------ iterations and the end

    def iteration(self, nit, x, f, gnorm, njev, trust_radius=None, accepted=None):
        """Record iteration `nit` (a resumed run rewrites the rows it retraces)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO iterations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (int(nit), _as_blob(x), _real(f), _real(gnorm), int(njev), _real(trust_radius),
                 None if accepted is None else int(bool(accepted)), time.time()),
            )

    def finish(self, result):
        """Record how the attempt ended, and add ``n_replayed`` and ``n_fresh`` to `result`."""
        result["n_replayed"] = self.n_replayed
        result["n_fresh"] = self.n_fresh
        x = result.get("x")
        with self._lock:
            self._db.execute(
                "UPDATE attempts SET finished=?, status=?, message=?, nit=?, nfev=?, njev=?, n_replayed=?, "
                "n_fresh=?, x=?, f=? WHERE attempt=?",
                (time.time(), int(result.get("status", -1)), str(result.get("message", "")), result.get("nit"),
                 result.get("nfev"), result.get("njev"), self.n_replayed, self.n_fresh,
                 None if x is None else _as_blob(x), _real(result.get("fun")), self.attempt),
            )

    def close(self):
        with self._lock:
            self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _real(value):
    return None if value is None else float(value)


def _encode(kind, output):
    """(f, g bytes) of what the user's callable returned; ValueError if it is malformed."""
    if kind == FUN:
        return _scalar(output), None
    if kind in (JAC, HVP):
        return None, _vector(output)
    if not (isinstance(output, tuple) and len(output) == 2):
        raise ValueError("not a pair")
    return _scalar(output[0]), _vector(output[1])


def _scalar(value) -> float:
    arr = _as_real_array(value, "not real")
    if arr.size != 1:
        raise ValueError("not a scalar")
    return float(arr.reshape(()))


def _vector(value) -> bytes:
    arr = _as_real_array(value, "not real")
    if arr.ndim != 1:
        raise ValueError("not a vector")
    return _as_blob(arr)


def log_products(backend, log):
    """Send the exact Hessian-vector products of `backend` (autograd's, the user's `hessp`)
    through `log` too: they call the user's code.  Finite-difference products are gradient
    calls, logged by the oracle; a user `hess` is evaluated once per point and not logged."""
    from .hvp.backends import AutogradHVP, UserHessp

    if log is None or not isinstance(backend, (AutogradHVP, UserHessp)):
        return
    product = backend._product

    def logged_product(p):
        return log.evaluate(HVP, lambda _: product(p), backend.x, p)

    backend._product = logged_product


def open_log(path, *, method, x0, fun, jac_mode, args=(), options=None):
    """An `EvaluationLog` at `path` for a run of `method` from `x0`, or None when `path` is None.

    Parameters
    ----------
    path : str, os.PathLike or None
        The value of the ``log`` option.
    method : str
        The method's name.
    x0 : ndarray
        The starting point (after any clipping into bounds).
    fun : callable
        The user's objective (its name goes into the log).
    jac_mode : str
        How the gradient is obtained (`curvopt._oracle.Oracle.jac_mode`).
    args : tuple
        Extra arguments of `fun` (a digest goes into the log).
    options : dict, optional
        Options to record as text for the reader (`minimize` records its common
        options: the budget, `hvp_eps`, `max_failures`; not the method's own).
    """
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"option `log` must be a file path (str or os.PathLike) or None; got {type(path).__name__}")
    from . import __version__

    meta = {
        "method": method,
        "n": int(x0.size),
        "x0_digest": digest(np.asarray(x0, dtype=np.float64)),
        "jac_mode": jac_mode,
        "fun": _name_of(fun),
        "args_digest": digest(tuple(args)),
        "curvopt_version": __version__,
        "options": repr(sorted((options or {}).items())),
        "created": time.time(),
    }
    return EvaluationLog(path, meta)


# ---------------------------------------------------------------------- the reader


@dataclass
class Evaluations:
    """The logged evaluations, in the order they were made (replayed calls are not rows)."""

    seq: np.ndarray  # (m,) int
    kind: list  # (m,) 'fun', 'jac' or 'fun_and_jac'
    x: np.ndarray  # (m, n)
    f: np.ndarray  # (m,) NaN where the call gave no value (a gradient call) or raised
    g: np.ndarray  # (m, n) the gradient, or the product H p of an 'hvp' row; NaN rows where none
    error: list  # (m,) None, or the exception "TypeName: message"
    seconds: np.ndarray  # (m,) duration of each call
    wall_time: np.ndarray  # (m,) when it completed (seconds since the epoch)
    p: np.ndarray  # (m, n) the direction of an 'hvp' row, NaN rows elsewhere

    @property
    def n_gradient_calls(self) -> np.ndarray:
        """Cumulative gradient calls after each evaluation (the x axis of a convergence plot)."""
        return np.cumsum([k in (JAC, FUN_AND_JAC) for k in self.kind]).astype(int)


@dataclass
class Iterations:
    """The logged iterations (the state at the end of each)."""

    nit: np.ndarray  # (k,) int
    x: np.ndarray  # (k, n)
    f: np.ndarray
    gnorm: np.ndarray
    njev: np.ndarray  # gradient calls used so far
    trust_radius: np.ndarray  # NaN where the method has none
    accepted: np.ndarray  # float: 1, 0, or NaN where not known
    wall_time: np.ndarray


@dataclass
class LogHistory:
    """What `read_log` returns: the run's metadata, evaluations, iterations and attempts."""

    meta: dict
    evaluations: Evaluations
    iterations: Iterations
    attempts: list = field(default_factory=list)  # one dict per run of the script


def read_log(path) -> LogHistory:
    """Read a log written with ``options={'log': path}`` (also while the run is still going).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    LogHistory
        ``meta`` (dict), ``evaluations`` and ``iterations`` (arrays, one
        row per record) and ``attempts`` (a list of dicts: one per run of the
        script, with its status, counts and final point).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from scipy.optimize import rosen, rosen_der
    >>> import curvopt
    >>> from curvopt._log import read_log
    >>> path = os.path.join(tempfile.mkdtemp(), "run.sqlite")
    >>> res = curvopt.minimize(rosen, np.zeros(4), jac=rosen_der, options={"log": path})
    >>> history = read_log(path)
    >>> len(history.evaluations.seq) == res.n_fresh, bool(history.iterations.nit[-1] == res.nit)
    (True, True)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no log file at {path!r}")
    db = sqlite3.connect(path)
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"meta", "evaluations", "iterations", "attempts"} <= tables:
            raise ValueError(f"{path!r} is not a curvopt log (tables found: {sorted(tables)})")
        meta = {key: json.loads(value) for key, value in db.execute("SELECT key, value FROM meta")}
        n = int(meta.get("n", 0))
        ev = db.execute("SELECT seq, kind, x, f, g, error, seconds, wall_time, p FROM evaluations "
                        "ORDER BY seq").fetchall()
        it = db.execute("SELECT nit, x, f, gnorm, njev, trust_radius, accepted, wall_time FROM iterations "
                        "ORDER BY nit").fetchall()
        attempts = []
        for row in db.execute("SELECT attempt, started, finished, status, message, nit, nfev, njev, n_replayed, "
                              "n_fresh, x, f FROM attempts ORDER BY attempt"):
            keys = ("attempt", "started", "finished", "status", "message", "nit", "nfev", "njev", "n_replayed",
                    "n_fresh", "x", "fun")
            attempt = dict(zip(keys, row))
            attempt["x"] = _from_blob(attempt["x"])
            attempts.append(attempt)
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path!r} is not a curvopt log ({exc})") from None
    finally:
        db.close()

    def column(rows, i, dtype=float):
        return np.array([np.nan if r[i] is None else r[i] for r in rows], dtype=dtype)

    def matrix(rows, i):
        out = np.full((len(rows), n), np.nan)
        for j, r in enumerate(rows):
            if r[i] is not None:
                out[j] = np.frombuffer(r[i], dtype=np.float64)
        return out

    f_ev = column(ev, 3)
    evaluations = Evaluations(
        seq=np.array([r[0] for r in ev], dtype=int), kind=[r[1] for r in ev], x=matrix(ev, 2), f=f_ev,
        g=matrix(ev, 4), error=[r[5] for r in ev], seconds=column(ev, 6), wall_time=column(ev, 7),
        p=matrix(ev, 8),
    )
    iterations = Iterations(
        nit=np.array([r[0] for r in it], dtype=int), x=matrix(it, 1), f=column(it, 2), gnorm=column(it, 3),
        njev=np.array([r[4] for r in it], dtype=int), trust_radius=column(it, 5), accepted=column(it, 6),
        wall_time=column(it, 7),
    )
    return LogHistory(meta, evaluations, iterations, attempts)
