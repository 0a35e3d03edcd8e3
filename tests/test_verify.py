"""Verified minima: never success at a saddle; curvature keys against explicit Hessians."""

import autograd.numpy as anp
import numpy as np
import pytest
import scipy.optimize

import curvopt
from curvopt._registry import METHODS
from curvopt.testing import get_problem


def saddle(x):
    """x^2 - y^2 + y^4/4: a saddle at the origin, minima -1 at (0, +-sqrt(2))."""
    return x[0] ** 2 - x[1] ** 2 + 0.25 * x[1] ** 4


def saddle_grad(x):
    return np.array([2 * x[0], -2 * x[1] + x[1] ** 3])


def saddle_hess(x):
    return np.diag([2.0, -2.0 + 3 * x[1] ** 2])


def saddle_hessp(x, p):
    return saddle_hess(x) @ p


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("products", ["2-point", "exact", "autograd"])
def test_never_success_at_a_saddle(method, products):
    kwargs = {"jac": saddle_grad}
    if products == "exact":
        kwargs["hessp"] = saddle_hessp
    elif products == "autograd":
        kwargs = {"jac": "autograd"}
    res = curvopt.minimize(saddle, np.zeros(2), method=method, tol=1e-8, **kwargs)  # started on the saddle
    assert res.success
    assert res.fun == pytest.approx(-1.0, abs=1e-10)
    assert np.linalg.eigvalsh(saddle_hess(res.x)).min() > 0  # independent: the explicit Hessian
    assert res.is_local_minimum
    assert res.min_curvature == pytest.approx(np.linalg.eigvalsh(saddle_hess(res.x)).min(), rel=1e-3)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_saddle_in_higher_dimension(method):
    # a quadratic saddle with one negative direction among 30, bounded below by quartic terms
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    lam = np.linspace(1.0, 10.0, 30)
    lam[0] = -1.0
    A = Q @ np.diag(lam) @ Q.T

    def fun(x):
        y = Q.T @ x
        return 0.5 * x @ A @ x + 0.25 * y[0] ** 4

    def jac(x):
        y = Q.T @ x
        return A @ x + Q[:, 0] * y[0] ** 3

    res = curvopt.minimize(fun, np.zeros(30), jac=jac, method=method, tol=1e-8, options={"verify": True})
    assert res.success and res.is_local_minimum
    assert res.fun == pytest.approx(-0.25, rel=1e-6)  # min of -y^2/2 + y^4/4 is -1/4 at y = +-1


def test_verify_false_keeps_scipys_behaviour():
    res = curvopt.minimize(saddle, np.zeros(2), jac=saddle_grad, options={"verify": False})
    assert res.success and res.nit == 0 and "is_local_minimum" not in res


def test_biggs_exp6_scipy_stops_at_a_saddle_curvopt_does_not():
    problem = get_problem("biggs_exp6")
    ref = scipy.optimize.minimize(problem.fun, problem.x0, jac=problem.jac, hessp=problem.hessp,
                                  method="trust-ncg", options={"gtol": 1e-9, "maxiter": 20_000})
    assert ref.success and np.linalg.eigvalsh(problem.hess(ref.x)).min() < -1e-3  # a saddle
    res = curvopt.minimize(problem.fun, problem.x0, jac=problem.jac, hessp=problem.hessp,
                           options={"gtol": 1e-9, "maxiter": 20_000})
    assert res.success and res.is_local_minimum
    assert res.fun == pytest.approx(0.0, abs=1e-12)
    assert np.linalg.eigvalsh(problem.hess(res.x)).min() > -1e-8


@pytest.mark.parametrize("name", ["rosenbrock", "wood", "helical_valley", "osborne_1", "watson_9"])
def test_min_curvature_matches_explicit_hessian(name):
    problem = get_problem(name)
    res = curvopt.minimize(problem.fun, problem.x0, jac=problem.jac, hessp=problem.hessp,
                           options={"gtol": 1e-8, "maxiter": 20_000})
    eig = np.linalg.eigvalsh(problem.hess(res.x))
    assert res.success and res.is_local_minimum == (eig.min() > -1e-6 * abs(eig).max())
    assert res.min_curvature == pytest.approx(eig.min(), rel=1e-2, abs=1e-3 * abs(eig).max())


def test_bad_verify_option():
    with pytest.raises(ValueError, match="`verify`"):
        curvopt.minimize(saddle, np.ones(2), jac=saddle_grad, options={"verify": "yes"})


def test_autograd_saddle_runs_through_default_jac():
    def f(x):
        return x[0] ** 2 - x[1] ** 2 + 0.25 * anp.sum(x[1:] ** 4)

    res = curvopt.minimize(f, np.zeros(2))
    assert res.success and res.fun == pytest.approx(-1.0, abs=1e-8)
