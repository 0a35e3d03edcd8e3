"""Independent evaluations sent out together: the `workers` option.

`minimize`, `HessianOperator`, `eigenmodes` and `curvopt.chem.vibrations`
take ``workers``, following scipy's convention (``scipy.optimize.
differential_evolution``, ``scipy.integrate.quad_vec``):

* ``None`` or ``1``: the calling process, exactly the serial code path;
* an int ``n > 1``: a local pool of ``n`` processes (``-1``: one per CPU),
  created when first needed and shut down when the call that made it ends
  (for a `HessianOperator`: by ``close()``, the ``with`` block, or garbage
  collection), with the platform's default start method as scipy's
  (``fork`` on Linux up to Python 3.13, ``forkserver`` from 3.14; ``spawn``
  on macOS and Windows; with any but ``fork`` the calling script needs an
  ``if __name__ == "__main__":`` guard);
* a map-like callable ``workers(func, iterable)`` returning the results in
  order, used as it is: ``concurrent.futures`` executors' ``map``,
  ``dask.distributed``'s ``Client.get_executor().map``,
  ``mpi4py.futures.MPIPoolExecutor().map``, ``multiprocessing.Pool.map``.
  An executor object itself (anything with a ``map`` method) is accepted too.

What goes out together is a set of evaluations that do not depend on each
other: the ``n`` (forward) or ``2 n`` (central) displaced points of a
finite-difference gradient of `fun`, the ``k`` (forward) or ``2 k``
(central) gradients of the finite-difference products of a block
(`HessianOperator.matmat`, block Lanczos in `eigenmodes` with
``block_size > 1``, the dense and ``method='full'`` paths of `vibrations`).
The truncated conjugate-gradient iterations of the trust-region methods are
sequential -- each product depends on the last -- so for `minimize` the gain
is in finite-difference gradients of `fun` (``jac='2-point'``/``'3-point'``),
in the two gradient calls of each central product (``hessp='3-point'``),
and in the curvature check at the end.  Single evaluations (the gradient
at each new iterate, a lone product) run in the calling process, and so do
the finite differences of 'trust-bounds', which keep every point in the box.

Every evaluation is counted in the calling process when it is sent, so
``nfev``, ``njev`` and the force-call counts are the same as without
workers, and so are the results: each evaluation is the same arithmetic on
the same numbers, only run elsewhere.  With a budget (``max_grad_calls``) a
block that does not fit in what is left is not sent at all.

The objective, gradient, ``hessp`` or ASE calculator must be picklable to
reach another process: define functions at module level (not lambdas or
closures).  This is checked once, up front, with a `TypeError` naming the
argument.

MPI
---
With ``mpi4py`` (``pip install "curvopt[mpi]"``, and an MPI runtime such as
MPICH or Open MPI), run the script under ``mpi4py.futures`` and pass the
executor's ``map``::

    # script.py
    from mpi4py.futures import MPIPoolExecutor
    from curvopt.chem import vibrations

    if __name__ == "__main__":
        with MPIPoolExecutor() as pool:
            res = vibrations(atoms, workers=pool.map)

    $ mpiexec -n 4 python -m mpi4py.futures script.py

Rank 0 runs the script, the other three ranks evaluate.  See
``examples/mpi_vibrations.py``.

References
----------
.. [1] scipy, ``scipy._lib._util.MapWrapper`` and the ``workers`` argument of
   ``scipy.optimize.differential_evolution``,
   https://docs.scipy.org/doc/scipy/reference/generated/scipy.optimize.differential_evolution.html
"""

from __future__ import annotations

import contextlib
import os
import pickle
import weakref

import numpy as np
from scipy.sparse.linalg import LinearOperator

__all__ = ["Workers", "resolve_workers", "check_picklable", "use_workers"]


class Workers:
    """A map over independent evaluations: in process, a pool owned here, or the user's map.

    Parameters
    ----------
    workers : None, int or map-like callable
        See the module docstring.  Resolved once; the pool of an int is
        started at the first parallel map.
    argument : str
        The argument's name, for error messages.

    Attributes
    ----------
    parallel : bool
        False for None or 1 (calls happen here, in order).
    n_workers : int or None
        The pool size of an int `workers`; None for a user's map.
    """

    def __init__(self, workers=None, argument="workers"):
        self.spec = workers
        self.argument = argument
        self.n_workers = None
        self._map = None
        self._pool = None
        self._finalizer = None
        if workers is None or workers is map:
            self.parallel = False
            self.n_workers = 1
            return
        if isinstance(workers, (bool, np.bool_)):
            raise TypeError(f"`{argument}` must be None, an int or a map-like callable; got {workers!r}")
        if isinstance(workers, (int, np.integer)):
            n = int(workers)
            if n == -1:
                n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            elif n < 1:
                raise ValueError(f"`{argument}` must be a positive int, -1 (all CPUs) or a map-like callable; "
                                 f"got {workers!r}")
            self.n_workers = n
            self.parallel = n > 1
            return
        mapper = workers if callable(workers) else getattr(workers, "map", None)
        if not callable(mapper):
            raise TypeError(
                f"`{argument}` must be None, an int or a map-like callable such as "
                f"concurrent.futures.ProcessPoolExecutor().map; got {type(workers).__name__}"
            )
        self._map = mapper
        self.parallel = True

    @property
    def needs_pickling(self) -> bool:
        """Whether tasks cross a process boundary (False for a thread pool's map)."""
        if not self.parallel:
            return False
        owner = getattr(self._map, "__self__", None)
        from concurrent.futures import ThreadPoolExecutor
        from multiprocessing.pool import ThreadPool

        return not isinstance(owner, (ThreadPoolExecutor, ThreadPool))

    def __call__(self, func, iterable) -> list:
        """``list(map(func, iterable))``, run by the workers."""
        items = list(iterable)
        if self._map is not None:  # the user's map gets every evaluation: it may be where the code can run
            return list(self._map(func, items))
        if not self.parallel or len(items) <= 1:
            return [func(item) for item in items]
        # one task per worker, contiguous: pickling `func` once per worker, not per evaluation
        n_chunks = min(self.n_workers, len(items))
        bounds = np.linspace(0, len(items), n_chunks + 1).round().astype(int)
        chunks = [items[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        out = []
        for part in self._executor().map(_Chunk(func), chunks):
            out.extend(part)
        return out

    def _executor(self):
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor

            # the platform's default start method, as scipy's MapWrapper (multiprocessing.Pool) uses
            self._pool = ProcessPoolExecutor(max_workers=self.n_workers)
            self._finalizer = weakref.finalize(self, self._pool.shutdown, wait=True)
        return self._pool

    def close(self) -> None:
        """Shut down the pool this object started (a user's map is left alone)."""
        if self._finalizer is not None:
            self._finalizer()
        self._pool = None
        self._finalizer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<Workers {self.spec!r}>"


def resolve_workers(workers, argument="workers") -> Workers:
    """The map-like for a `workers` argument; a `Workers` passes through unchanged."""
    if isinstance(workers, Workers):
        return workers
    return Workers(workers, argument)


def check_picklable(obj, argument, workers) -> None:
    """Raise a TypeError naming `argument` when `obj` cannot be sent to another process."""
    try:
        pickle.dumps(obj)
    except Exception as err:  # noqa: BLE001 - pickling fails with many exception types
        raise TypeError(
            f"workers={_describe(workers)} needs a picklable {argument}: {type(err).__name__}: {err}; "
            "define it at module level (not a lambda or a closure) or use workers=None"
        ) from err


def _describe(workers):
    spec = workers.spec if isinstance(workers, Workers) else workers
    if isinstance(spec, (int, np.integer)) or spec is None:
        return repr(spec)
    return getattr(spec, "__qualname__", type(spec).__name__)


# ---------------------------------------------------------------------------- tasks (module level: picklable)
class _Chunk:
    """Apply `func` to each item of a chunk: one task per worker."""

    def __init__(self, func):
        self.func = func

    def __call__(self, items):
        return [self.func(item) for item in items]


class _Call:
    """``function(x, *args)``."""

    def __init__(self, function, args):
        self.function = function
        self.args = tuple(args)

    def __call__(self, x):
        return self.function(x, *self.args)


class _AutogradGradient:
    """autograd's gradient of ``fun(x, *args)``, built where it runs (its closures do not pickle)."""

    def __init__(self, fun, args):
        self.fun = fun
        self.args = tuple(args)

    def __call__(self, x):
        from autograd import grad

        return grad(lambda y: self.fun(y, *self.args))(x)


class _Product:
    """One Hessian-vector product ``backend(p)`` by a backend sent to the worker."""

    def __init__(self, backend):
        self.backend = backend

    def __call__(self, p):
        return self.backend._product(p)


class _AutogradProduct:
    """Exact autograd product at `x`, its JVP closure rebuilt where it runs."""

    def __init__(self, function, args, is_gradient, x):
        self.function = function
        self.args = tuple(args)
        self.is_gradient = is_gradient
        self.x = x

    def __call__(self, p):
        from autograd import grad, make_jvp

        g = (lambda y: self.function(y, *self.args)) if self.is_gradient else grad(lambda y: self.function(y, *self.args))
        return np.asarray(make_jvp(g)(self.x)(p)[1], dtype=float)


# ---------------------------------------------------------------------------- the oracle's batches
def oracle_task(oracle):
    """The picklable task computing one gradient of `oracle`'s user code, and what it returns.

    Returns ``(task, combined)``; with `combined` the task returns ``(f, g)``.
    None for the finite-difference modes (their displaced values are the tasks).
    """
    mode = oracle.jac_mode
    if mode == "callable":
        return _Call(oracle._jac, oracle.args), False
    if mode == "combined":
        return _Call(oracle._fun, oracle.args), True
    if mode == "autograd":
        return _AutogradGradient(oracle._fun, oracle.args), False
    return None, False


def check_oracle_picklable(oracle, workers) -> None:
    """Check once that what `oracle` sends to workers pickles; names the user's argument."""
    if not workers.needs_pickling:
        return
    if oracle.jac_mode == "callable":
        check_picklable(oracle._jac, "gradient `jac`", workers)
    else:
        check_picklable(oracle._fun, "objective `fun`", workers)
    if oracle.args:
        check_picklable(oracle.args, "`args`", workers)


def gradients(oracle, points) -> list:
    """Gradients of `oracle` at `points`, the evaluations sent together; counted here."""
    from ._oracle import BudgetExhausted, _as_gradient, _as_scalar

    mapper = oracle.workers
    task, combined = oracle_task(oracle)
    if task is None:  # a finite-difference gradient: its displacements go out together instead
        return [oracle.gradient(x) for x in points]
    out = [None] * len(points)
    todo = []
    for i, x in enumerate(points):
        if oracle._cache_g is not None and np.array_equal(x, oracle._cache_x):
            out[i] = oracle._cache_g  # the serial path would not pay for it either
        else:
            todo.append(i)
    if oracle.max_grad_calls is not None and oracle.njev + len(todo) > oracle.max_grad_calls:
        raise BudgetExhausted
    oracle.njev += len(todo)
    if combined:
        oracle.nfev += len(todo)
    values = _mapped(oracle, mapper, task, [points[i] for i in todo])
    n = points[0].size if len(points) else 0
    for i, value in zip(todo, values):
        if combined:
            if not (isinstance(value, tuple) and len(value) == 2):
                raise ValueError("with jac=True, `fun` must return a tuple (f, g); got " + type(value).__name__)
            _as_scalar(value[0])
            value = value[1]
        out[i] = _as_gradient(value, n)
    return out


def fd_gradient(oracle, x, f0):
    """`Oracle._fd_gradient` with its displaced values sent out together (same steps, same arithmetic)."""
    from ._oracle import _as_scalar

    n = x.size
    central = oracle.jac_mode == "3-point"
    rel = np.finfo(float).eps ** (1 / 3 if central else 1 / 2)
    points, steps = [], np.empty(n)
    if not central and f0 is None:
        points.append(np.array(x, dtype=float, copy=True))
    for i in range(n):
        h = rel * max(1.0, abs(x[i]))
        xt = np.array(x, dtype=float, copy=True)
        xt[i] = x[i] + h
        h = xt[i] - x[i]  # the step actually taken, after rounding
        steps[i] = h
        points.append(xt)
        if central:
            xm = np.array(x, dtype=float, copy=True)
            xm[i] = x[i] - h
            points.append(xm)
    oracle.nfev += len(points)
    values = [_as_scalar(v) for v in _mapped(oracle, oracle.workers, _Call(oracle._fun, oracle.args), points)]
    g = np.empty(n)
    if central:
        for i in range(n):
            g[i] = (values[2 * i] - values[2 * i + 1]) / (2 * steps[i])
    else:
        if f0 is None:
            f0, values = values[0], values[1:]
        for i in range(n):
            g[i] = (values[i] - f0) / steps[i]
    return g


def _mapped(oracle, mapper, task, points):
    from ._oracle import OracleError

    try:
        return mapper(task, points)
    except Exception as exc:  # noqa: BLE001 - the user's error, raised in a worker
        raise OracleError(f"{type(exc).__name__}: {exc}") from exc


# ---------------------------------------------------------------------------- wiring
LOG_AND_WORKERS = ("options `workers` and `log` cannot be used together yet: the evaluations sent to workers "
                   "in batches do not pass through the log; drop one of them")


def attach(oracle, backend, workers) -> None:
    """Send `oracle`'s and `backend`'s independent evaluations to `workers` (checked picklable)."""
    if getattr(oracle, "log", None) is not None:
        raise ValueError(LOG_AND_WORKERS)
    try:
        if oracle is not None:
            check_oracle_picklable(oracle, workers)
            oracle.workers = workers
        if backend is not None:
            backend.use_workers(workers)
    except Exception:
        detach(oracle, backend)
        raise


def detach(oracle, backend) -> None:
    if oracle is not None:
        oracle.workers = None
    if backend is not None:
        backend.use_workers(None)


@contextlib.contextmanager
def use_workers(workers, oracle, backend):
    """Within the block, `oracle` and `backend` use `workers`; a pool started here is shut down after."""
    if workers is None:
        yield None
        return
    mapper = resolve_workers(workers)
    owned = mapper is not workers
    try:
        if mapper.parallel:
            attach(oracle, backend, mapper)
        yield mapper
    finally:
        if mapper.parallel:
            detach(oracle, backend)
        if owned:
            mapper.close()


@contextlib.contextmanager
def parallel_operator(H, workers, argument="workers"):
    """`H` with the columns of its `matmat` sent to `workers` (for `eigenmodes`).

    A `HessianOperator` sends its own gradient calls (counted in its oracle);
    any other operator (an array, a sparse matrix, a picklable
    LinearOperator) is sent whole with each chunk of columns.
    """
    from .hvp.operator import HessianOperator

    mapper = resolve_workers(workers, argument)
    owned = mapper is not workers
    try:
        if not mapper.parallel:
            yield H
        elif isinstance(H, HessianOperator):
            if H._workers is not None:
                raise ValueError(f"`{argument}` given, but the HessianOperator has its own workers: "
                                 "give them to one of the two")
            H.use_workers(mapper)
            try:
                yield H
            finally:
                H.use_workers(None)
        else:
            from scipy.sparse.linalg import aslinearoperator

            op = aslinearoperator(H)
            if mapper.needs_pickling:
                check_picklable(op, "operator `H`", mapper)
            yield _ColumnsOperator(op, mapper)
    finally:
        if owned:
            mapper.close()


class _ColumnsOperator(LinearOperator):
    """`op` with the columns of a block sent to `mapper` (products counted by the caller's counter)."""

    def __init__(self, op, mapper):
        super().__init__(dtype=op.dtype, shape=op.shape)
        self.op = op
        self.mapper = mapper

    def _matvec(self, v):
        return self.op.matvec(v)

    def _matmat(self, V):
        columns = [np.ascontiguousarray(V[:, j]) for j in range(V.shape[1])]
        return np.column_stack(self.mapper(_Matvec(self.op), columns))


class _Matvec:
    def __init__(self, op):
        self.op = op

    def __call__(self, v):
        return np.asarray(self.op.matvec(v), dtype=float).reshape(-1)
