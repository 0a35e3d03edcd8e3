"""method='trust-lbfgs': trust region on a compact limited-memory quasi-Newton model."""

import numpy as np
import pytest
import scipy.optimize
from scipy.optimize import rosen, rosen_der

import curvopt
from curvopt.testing import Counted, problems
from curvopt.trust_region.quasi_newton import CompactModel, solve_subproblem

GTOL = 1e-6
PROBLEMS = [p for p in problems() if p.n <= 100]


def _scipy_solves(problem):
    ref = scipy.optimize.minimize(problem.fun, problem.x0, jac=problem.jac, hessp=problem.hessp,
                                  method="trust-ncg", options={"gtol": GTOL, "maxiter": 20_000})
    return ref.success


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.name)
def test_collection_honest_and_known_minima(problem):
    jac = Counted(problem.jac)
    maxiter = 1000 if problem.name in KNOWN_FAILURES else 20_000
    res = curvopt.minimize(problem.fun, problem.x0, jac=jac, method="trust-lbfgs",
                           options={"gtol": GTOL, "maxiter": maxiter, "verify": False})
    assert res.njev == jac.calls  # every gradient call counted
    assert res.fun == pytest.approx(problem.fun(res.x), rel=1e-12, abs=1e-300)
    if res.success:  # success only when the stopping test holds at the returned point
        assert np.linalg.norm(problem.jac(res.x)) <= GTOL
    if problem.name in KNOWN_FAILURES or not _scipy_solves(problem):
        return
    assert res.success, res.message
    assert problem.is_solution(res.x, res.fun), (res.fun, problem.f_min, problem.f_local)


# Badly scaled problems where the quasi-Newton model does not reach gtol 1e-6 in 20000 iterations
# (it ends honestly: iteration limit or radius floor, never success); see benchmarks/bench_efficiency.py.
KNOWN_FAILURES = {"powell_badly_scaled", "brown_badly_scaled", "meyer",
                  "penalty_2_4"}  # flat: ||g|| <= 1e-6 holds at f = 9.42e-6 > f_min 9.376e-6 (honest success)


def test_rosenbrock_result_keys_and_counts():
    jac = Counted(rosen_der)
    res = curvopt.minimize(rosen, np.array([-1.2, 1.0, -1.2, 1.0]), jac=jac, method="trust-lbfgs",
                           options={"verify": False})
    assert res.success and np.allclose(res.x, 1.0, atol=1e-4)
    for key in ("x", "fun", "jac", "nit", "nfev", "njev", "nhev", "status", "success", "message", "n_hvp",
                "cg_iterations", "n_nonfinite", "measure"):
        assert key in res
    assert res.njev == jac.calls and res.n_hvp == 0  # no product: the model is quasi-Newton
    assert res.measure == pytest.approx(np.linalg.norm(res.jac))


def test_verify_checks_curvature_with_products():
    jac = Counted(rosen_der)
    res = curvopt.minimize(rosen, np.array([-1.2, 1.0]), jac=jac, method="trust-lbfgs",
                           options={"verify": True})
    assert res.success and res.is_local_minimum is True and res.min_curvature > 0
    assert res.njev == jac.calls


def test_leaves_a_saddle():
    """x0 is a saddle of f = x^2 - y^2 + y^4: the check finds negative curvature and the run escapes."""
    def f(v):
        return v[0] ** 2 - v[1] ** 2 + v[1] ** 4

    def g(v):
        return np.array([2 * v[0], -2 * v[1] + 4 * v[1] ** 3])

    res = curvopt.minimize(f, np.zeros(2), jac=g, method="trust-lbfgs", options={"verify": True})
    assert res.success and res.is_local_minimum is True
    assert abs(abs(res.x[1]) - np.sqrt(0.5)) < 1e-4


def test_custom_measure_and_combined_jac():
    x0 = np.tile([-1.2, 1.0], 3)

    def fg(x):
        return rosen(x), rosen_der(x)

    res = curvopt.minimize(fg, x0, jac=True, method="trust-lbfgs",
                           options={"gtol": 1e-4, "measure": lambda g: np.max(np.abs(g)), "verify": False})
    assert res.success and np.max(np.abs(rosen_der(res.x))) <= 1e-4
    assert res.nfev == res.njev  # one call gives both


@pytest.mark.parametrize("kind", ["bfgs", "sr1"])
def test_model_matches_dense_and_subproblem_is_optimal(kind):
    rng = np.random.default_rng(0)
    n = 8
    A = rng.normal(size=(n, n))
    H = A @ A.T + (0 if kind == "bfgs" else -3) * np.eye(n)
    model = CompactModel(n, memory=4, kind=kind)
    for _ in range(4):
        s = rng.normal(size=n)
        model.update(s, H @ s)
    B = np.column_stack([model.matvec(e) for e in np.eye(n)])
    assert np.allclose(B, B.T, atol=1e-8)
    if kind == "bfgs":
        assert np.linalg.eigvalsh(B)[0] > 0
    S, Y = model.S, model.Y
    assert np.allclose(B @ S[:, -1], Y[:, -1], atol=1e-6 * np.abs(Y).max())  # secant condition
    g = rng.normal(size=n)
    for radius in (0.01, 0.3, 100.0):
        p, pred, on_boundary = solve_subproblem(model, g, radius)
        assert np.linalg.norm(p) <= radius * (1 + 1e-8)
        assert pred == pytest.approx(-(g @ p + 0.5 * p @ B @ p), rel=1e-8, abs=1e-12)
        # no feasible point does better (random points on the ball, and the scaled Cauchy step)
        for q in rng.normal(size=(200, n)):
            q *= radius * rng.uniform() / np.linalg.norm(q)
            assert g @ q + 0.5 * q @ B @ q >= -pred - 1e-8 * max(1.0, abs(pred))


def test_options_are_checked():
    with pytest.raises(ValueError):
        curvopt.minimize(rosen, np.zeros(2), method="trust-lbfgs", options={"model": "dfp"})
    with pytest.raises(ValueError):
        curvopt.minimize(rosen, np.zeros(2), method="trust-lbfgs", options={"memory": 0})
