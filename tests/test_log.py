"""The evaluation log (option `log`): durable writes, resume after SIGKILL, replay, refusal, the reader."""

import os
import runpy
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from scipy.optimize import Bounds, rosen, rosen_der, rosen_hess_prod

import curvopt
from curvopt import Status
from curvopt._log import LoggedError, digest, read_log
from curvopt._registry import METHODS
from curvopt.testing import Counted

X0 = np.tile([-1.2, 1.0], 3)

# A real script: Rosenbrock n = 20 whose gradient sleeps, so that a kill lands mid-run.  The
# counters live in the objective, as a user's would.
SCRIPT = textwrap.dedent(
    """
    import sys
    import time

    import numpy as np
    from scipy.optimize import rosen, rosen_der

    import curvopt

    CALLS = {"fun": 0, "jac": 0}
    DELAY = 0.0


    def fun(x):
        CALLS["fun"] += 1
        return rosen(x)


    def jac(x):
        CALLS["jac"] += 1
        time.sleep(DELAY)
        return rosen_der(x)


    def run(log):
        return curvopt.minimize(fun, np.tile([-1.2, 1.0], 10), jac=jac, method="trust-ncg",
                                options={"log": log})


    if __name__ == "__main__":
        DELAY = float(sys.argv[2])
        run(sys.argv[1])
    """
)


def _rows(path):
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
    except sqlite3.OperationalError:  # the table is not created yet
        return 0
    finally:
        db.close()


def _keys(path):
    """(kind, x bytes) of every logged evaluation, in order."""
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT kind, x FROM evaluations ORDER BY seq").fetchall()
    finally:
        db.close()


def test_resume_after_sigkill_repeats_no_call_and_ends_where_an_uninterrupted_run_ends(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    log = str(tmp_path / "run.sqlite")

    # The reference: the same script, uninterrupted, without and with a log of its own.
    reference = runpy.run_path(str(script))
    ref = reference["run"](None)
    ref_log = str(tmp_path / "reference.sqlite")
    ref_logged = runpy.run_path(str(script))["run"](ref_log)
    assert ref.success and np.array_equal(ref_logged.x, ref.x)
    total = ref.nfev + ref.njev
    distinct = _rows(ref_log)  # the log answers a call it already holds, even in one run

    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, str(script), log, "0.003"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kill_at = 250
    deadline = time.monotonic() + 120
    try:
        while not (os.path.exists(log) and _rows(log) >= kill_at):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the subprocess never logged enough evaluations"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    logged = _rows(log)
    assert kill_at <= logged < distinct  # killed mid-run, every committed call kept
    assert read_log(log).attempts[0]["finished"] is None  # the killed attempt never ended

    resumed_script = runpy.run_path(str(script))
    res = resumed_script["run"](log)
    calls = resumed_script["CALLS"]

    np.testing.assert_array_equal(res.x, ref.x)  # bitwise
    assert res.fun == ref.fun and res.nit == ref.nit
    assert (res.nfev, res.njev) == (ref.nfev, ref.njev)  # the evaluations the algorithm used
    assert res.n_replayed + res.n_fresh == total
    assert calls["fun"] + calls["jac"] == res.n_fresh  # the objective's own count
    assert res.n_fresh == distinct - logged  # every logged call replayed, none repeated
    keys = _keys(log)
    assert len(keys) == len(set(keys)) == distinct
    history, reference_history = read_log(log), read_log(ref_log)
    np.testing.assert_array_equal(history.iterations.x, reference_history.iterations.x)
    assert [a["status"] for a in history.attempts] == [None, 0]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_second_run_replays_everything_for_every_method(method, tmp_path):
    log = str(tmp_path / "run.sqlite")
    plain = curvopt.minimize(rosen, X0, jac=rosen_der, method=method)
    fun, jac = Counted(rosen), Counted(rosen_der)
    first = curvopt.minimize(fun, X0, jac=jac, method=method, options={"log": log})
    assert first.n_fresh == fun.calls + jac.calls == _rows(log)
    assert first.n_replayed + first.n_fresh == first.nfev + first.njev
    np.testing.assert_array_equal(first.x, plain.x)
    assert (first.nfev, first.njev, first.nit) == (plain.nfev, plain.njev, plain.nit)

    fun, jac = Counted(rosen), Counted(rosen_der)
    second = curvopt.minimize(fun, X0, jac=jac, method=method, options={"log": log})
    assert fun.calls == jac.calls == 0 and second.n_fresh == 0
    assert second.n_replayed == plain.nfev + plain.njev
    np.testing.assert_array_equal(second.x, plain.x)
    assert second.status == plain.status and second.nit == plain.nit


def _autograd_rosen(x):
    import autograd.numpy as anp

    return anp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _rosen_and_der(x):
    return rosen(x), rosen_der(x)


@pytest.mark.parametrize("jac", ["autograd", True, "2-point", "3-point"])
def test_every_gradient_mode_is_logged_and_replayed(jac, tmp_path):
    fun = {"autograd": _autograd_rosen, True: _rosen_and_der}.get(jac, rosen)
    log = str(tmp_path / "run.sqlite")
    plain = curvopt.minimize(fun, X0, jac=jac, options={"maxiter": 15})
    first = curvopt.minimize(Counted(fun), X0, jac=jac, options={"maxiter": 15, "log": log})
    counted = Counted(fun)
    second = curvopt.minimize(counted, X0, jac=jac, options={"maxiter": 15, "log": log})
    np.testing.assert_array_equal(first.x, plain.x)
    np.testing.assert_array_equal(second.x, plain.x)
    # autograd traces `fun` once at x0, outside the oracle, to check that it can differentiate it
    assert counted.calls == (1 if jac == "autograd" else 0) and second.n_fresh == 0
    assert (second.nfev, second.njev) == (plain.nfev, plain.njev)
    # The logged values are the objective's, checked against scipy's Rosenbrock.
    history = read_log(log)
    ev = history.evaluations
    for kind, x, f, g, p in zip(ev.kind, ev.x, ev.f, ev.g, ev.p):
        if kind in ("fun", "fun_and_jac"):
            assert f == pytest.approx(rosen(x), rel=1e-14)
        if kind in ("jac", "fun_and_jac"):
            np.testing.assert_allclose(g, rosen_der(x), rtol=1e-12, atol=1e-12)
        if kind == "hvp":  # autograd's exact products
            np.testing.assert_allclose(g, rosen_hess_prod(x, p), rtol=1e-12, atol=1e-9)
    assert ("hvp" in ev.kind) == (jac == "autograd")


def test_bounded_finite_difference_run_is_replayed(tmp_path):
    log = str(tmp_path / "run.sqlite")
    bounds = Bounds(np.full(6, -1.5), np.full(6, 1.0))  # the minimizer (1, ..., 1) on the upper bound
    plain = curvopt.minimize(rosen, X0, jac="2-point", bounds=bounds)
    first = curvopt.minimize(Counted(rosen), X0, jac="2-point", bounds=bounds, options={"log": log})
    counted = Counted(rosen)
    second = curvopt.minimize(counted, X0, jac="2-point", bounds=bounds, options={"log": log})
    np.testing.assert_array_equal(first.x, plain.x)
    np.testing.assert_array_equal(second.x, plain.x)
    assert counted.calls == 0
    assert np.all(read_log(log).evaluations.x <= 1.0) and np.all(read_log(log).evaluations.x >= -1.5)


def test_keyboard_interrupt_keeps_the_best_point_and_the_log_and_the_rerun_finishes(tmp_path):
    log = str(tmp_path / "run.sqlite")
    reference = curvopt.minimize(rosen, X0, jac=rosen_der)

    class Interrupting:
        def __init__(self, at):
            self.calls, self.at = 0, at

        def __call__(self, x):
            self.calls += 1
            if self.calls == self.at:
                raise KeyboardInterrupt
            return rosen_der(x)

    jac = Interrupting(at=60)
    res = curvopt.minimize(Counted(rosen), X0, jac=jac, options={"log": log})
    assert res.status == Status.INTERRUPTED and not res.success
    assert res.fun == rosen(res.x) < rosen(X0)  # the best point so far, honestly valued
    history = read_log(log)
    assert history.attempts[0]["status"] == Status.INTERRUPTED  # the end was written
    np.testing.assert_array_equal(history.attempts[0]["x"], res.x)
    assert history.evaluations.kind.count("jac") == 59  # every completed call, not the one interrupted
    assert any(np.array_equal(res.x, x) for x in history.iterations.x)

    fun, jac = Counted(rosen), Counted(rosen_der)
    resumed = curvopt.minimize(fun, X0, jac=jac, options={"log": log})
    np.testing.assert_array_equal(resumed.x, reference.x)
    assert (resumed.nfev, resumed.njev) == (reference.nfev, reference.njev)
    assert fun.calls + jac.calls == resumed.n_fresh
    keys = _keys(log)
    assert len(keys) == len(set(keys))


def test_an_exception_at_a_trial_point_is_logged_and_replayed(tmp_path):
    log = str(tmp_path / "run.sqlite")

    def fun(x):
        if np.max(x) > 1.03:
            raise ArithmeticError("outside the model's domain")
        return rosen(x)

    first = curvopt.minimize(Counted(fun), X0, jac=rosen_der, options={"log": log})
    assert first.success and first.n_nonfinite > 0
    history = read_log(log)
    errors = [e for e in history.evaluations.error if e is not None]
    assert len(errors) == first.n_nonfinite and errors[0] == "ArithmeticError: outside the model's domain"
    counted = Counted(fun)
    second = curvopt.minimize(counted, X0, jac=rosen_der, options={"log": log})
    assert counted.calls == 0 and second.n_nonfinite == first.n_nonfinite
    np.testing.assert_array_equal(second.x, first.x)


def test_an_exception_replayed_at_an_accepted_point_is_in_the_result(tmp_path):
    log = str(tmp_path / "run.sqlite")
    state = {"raise": True}

    def jac(x):
        if state["raise"] and np.linalg.norm(x - X0) > 0.5:
            raise RuntimeError("gradient server down")
        return rosen_der(x)

    first = curvopt.minimize(rosen, X0, jac=jac, method="newton-cg", options={"log": log})
    assert first.status == Status.ORACLE_ERROR and isinstance(first.exception, RuntimeError)
    state["raise"] = False  # the server is back, but the log says the call failed: replayed as it was
    second = curvopt.minimize(rosen, X0, jac=jac, method="newton-cg", options={"log": log})
    assert second.status == Status.ORACLE_ERROR and isinstance(second.exception, LoggedError)
    assert "RuntimeError: gradient server down" in str(second.exception)
    np.testing.assert_array_equal(second.x, first.x)


def test_nan_values_survive_the_log(tmp_path):
    log = str(tmp_path / "run.sqlite")

    def fun(x):
        return np.nan if np.max(x) > 1.03 else rosen(x)

    first = curvopt.minimize(Counted(fun), X0, jac=rosen_der, options={"log": log})
    assert first.n_nonfinite > 0
    counted = Counted(fun)
    second = curvopt.minimize(counted, X0, jac=rosen_der, options={"log": log})
    assert counted.calls == 0 and second.n_nonfinite == first.n_nonfinite
    np.testing.assert_array_equal(second.x, first.x)
    assert np.isnan(read_log(log).evaluations.f).any()


def test_a_longer_run_continues_from_a_shorter_ones_log(tmp_path):
    log = str(tmp_path / "run.sqlite")
    full = curvopt.minimize(rosen, X0, jac=rosen_der)
    short = curvopt.minimize(Counted(rosen), X0, jac=rosen_der, options={"log": log, "maxiter": 10})
    assert short.status == Status.MAXITER
    fun, jac = Counted(rosen), Counted(rosen_der)
    longer = curvopt.minimize(fun, X0, jac=jac, options={"log": log})
    np.testing.assert_array_equal(longer.x, full.x)
    assert longer.n_replayed >= short.n_fresh and fun.calls + jac.calls == longer.n_fresh
    assert [a["status"] for a in read_log(log).attempts] == [Status.MAXITER, Status.SUCCESS]


CALLS = []


def _objective(x, *args):
    CALLS.append(x)
    return rosen(x)


def _another_objective(x, *args):
    CALLS.append(x)
    return rosen(x)


def _gradient(x, *args):
    CALLS.append(x)
    return rosen_der(x)


@pytest.mark.parametrize("change, field", [
    (dict(x0=X0 + 1e-9), "x0_digest"),
    (dict(x0=np.zeros(4)), "n"),
    (dict(method="newton-cg"), "method"),
    (dict(jac="2-point"), "jac_mode"),
    (dict(args=(2.0,)), "args_digest"),
    (dict(fun=_another_objective), "fun"),
])
def test_a_log_of_another_problem_is_refused_before_any_call(change, field, tmp_path):
    log = str(tmp_path / "run.sqlite")
    call = dict(fun=_objective, x0=X0, jac=_gradient, method="trust-ncg", args=(1.0,))
    curvopt.minimize(**call, options={"log": log, "maxiter": 3})
    rows = _rows(log)
    CALLS.clear()
    with pytest.raises(ValueError, match=f"holds the log of a different run \\({field}:.*another `log` path"):
        curvopt.minimize(**{**call, **change}, options={"log": log})
    assert CALLS == [] and _rows(log) == rows


def test_bad_log_arguments_get_clear_errors(tmp_path):
    with pytest.raises(TypeError, match="option `log` must be a file path"):
        curvopt.minimize(rosen, X0, jac=rosen_der, options={"log": 3})
    other = tmp_path / "not_a_log.sqlite"
    other.write_bytes(b"this is not an SQLite database, just some bytes" * 100)
    with pytest.raises(ValueError, match="not a curvopt log"):
        curvopt.minimize(rosen, X0, jac=rosen_der, options={"log": str(other)})
    with pytest.raises(ValueError, match="cannot open"):
        curvopt.minimize(rosen, X0, jac=rosen_der, options={"log": str(tmp_path / "no" / "such" / "dir.sqlite")})
    with pytest.raises(FileNotFoundError, match="no log file"):
        read_log(tmp_path / "missing.sqlite")
    foreign = tmp_path / "foreign.sqlite"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE t (a)")
    db.commit()
    db.close()
    with pytest.raises(ValueError, match="not a curvopt log"):
        read_log(foreign)


def test_the_reader_gives_a_convergence_history(tmp_path):
    log = tmp_path / "run.sqlite"  # a pathlib.Path works as well as a str
    fun, jac = Counted(rosen), Counted(rosen_der)
    res = curvopt.minimize(fun, X0, jac=jac, options={"log": log})
    history = read_log(log)
    it, ev = history.iterations, history.evaluations
    np.testing.assert_array_equal(it.nit, np.arange(1, res.nit + 1))
    assert it.njev[-1] <= res.njev and np.all(np.diff(it.njev) >= 0)  # the final check may cost more
    np.testing.assert_array_equal(it.x[-1], res.x)
    assert it.f[-1] == res.fun
    for x, f, gnorm in zip(it.x, it.f, it.gnorm):
        assert f == rosen(x) and gnorm == pytest.approx(np.linalg.norm(rosen_der(x)), rel=1e-14)
    assert np.all(np.isfinite(it.trust_radius)) and set(np.unique(it.accepted)) <= {0.0, 1.0}
    assert ev.x.shape == (fun.calls + jac.calls, X0.size) == (res.n_fresh, X0.size)
    np.testing.assert_array_equal(ev.x[0], X0)
    assert ev.n_gradient_calls[-1] == jac.calls
    assert np.all(np.diff(ev.seq) == 1) and np.all(ev.seconds >= 0)
    assert history.meta["method"] == "trust-ncg" and history.meta["n"] == X0.size
    assert history.meta["x0_digest"] == digest(X0) and history.meta["fun"] == "Counted"
    newton = curvopt.minimize(rosen, X0, jac=rosen_der, method="newton-cg", options={"log": tmp_path / "n.sqlite"})
    radius = read_log(tmp_path / "n.sqlite").iterations.trust_radius
    assert radius.shape == (newton.nit,) and np.all(np.isnan(radius))  # a line search has no radius


def test_the_log_can_be_read_while_a_run_writes_it(tmp_path):
    log = str(tmp_path / "run.sqlite")
    seen = []

    def callback(intermediate_result):
        seen.append(len(read_log(log).iterations.nit))

    curvopt.minimize(rosen, X0, jac=rosen_der, callback=callback, options={"log": log})
    assert seen == list(range(1, len(seen) + 1))  # each iteration visible to a reader at once


def test_the_compiled_path_gives_way_to_the_log(tmp_path):
    pytest.importorskip("numba")
    from curvopt.testing._numba_kernels import chained_rosenbrock_fun as fun, chained_rosenbrock_jac as jac

    plain = curvopt.minimize(fun, X0, jac=jac, options={"compiled": False})
    res = curvopt.minimize(fun, X0, jac=jac, options={"log": str(tmp_path / "run.sqlite")})
    assert "n_replayed" in res and _rows(str(tmp_path / "run.sqlite")) == res.n_fresh > 0
    np.testing.assert_array_equal(res.x, plain.x)
    np.testing.assert_allclose(res.x, 1.0, atol=1e-4)
    with pytest.raises(ValueError, match="log"):
        curvopt.minimize(fun, X0, jac=jac, options={"compiled": True, "log": str(tmp_path / "b.sqlite")})


def test_the_users_hessp_is_logged_and_replayed(tmp_path):
    log = str(tmp_path / "run.sqlite")
    plain = curvopt.minimize(rosen, X0, jac=rosen_der, hessp=rosen_hess_prod)
    first = curvopt.minimize(rosen, X0, jac=rosen_der, hessp=Counted(rosen_hess_prod), options={"log": log})
    hessp = Counted(rosen_hess_prod)
    second = curvopt.minimize(rosen, X0, jac=rosen_der, hessp=hessp, options={"log": log})
    assert hessp.calls == 0 and second.n_fresh == 0 and second.n_hvp == plain.n_hvp
    np.testing.assert_array_equal(first.x, plain.x)
    np.testing.assert_array_equal(second.x, plain.x)


def test_a_log_of_other_sparse_or_object_args_is_refused(tmp_path):
    """args are told apart by their data: a sparse matrix, or an object pickled, not by its type's name."""
    import scipy.sparse

    def f(x, A):
        r = A @ x - 1.0
        return 0.5 * float(r @ r)

    def g(x, A):
        return A.T @ (A @ x - 1.0)

    path = str(tmp_path / "run.sqlite")
    A1 = scipy.sparse.csr_matrix(np.diag([1.0, 2.0, 3.0]))
    A2 = scipy.sparse.csr_matrix(np.diag([5.0, 7.0, 11.0]))
    first = curvopt.minimize(f, np.zeros(3), args=(A1,), jac=g, options={"log": path})
    np.testing.assert_allclose(first.x, [1.0, 0.5, 1 / 3], rtol=1e-6)
    with pytest.raises(ValueError, match="args"):
        curvopt.minimize(f, np.zeros(3), args=(A2,), jac=g, options={"log": path})
    again = curvopt.minimize(f, np.zeros(3), args=(scipy.sparse.csr_matrix(np.diag([1.0, 2.0, 3.0])),), jac=g,
                             options={"log": path})
    assert again.n_fresh == 0 and np.array_equal(again.x, first.x)  # the same data replays


def test_log_and_workers_are_refused_before_the_log_is_made(tmp_path):
    path = tmp_path / "run.sqlite"
    with pytest.raises(ValueError, match="`workers` and `log` cannot be used together"):
        curvopt.minimize(rosen, np.zeros(3), jac=rosen_der, options={"log": str(path), "workers": 2})
    assert not path.exists()
