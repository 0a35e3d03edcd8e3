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


# ---------------------------------------------------------------------------
# Deflated checks: rigid-body zero modes left out
# ---------------------------------------------------------------------------

def _lj_minimum(n_atoms, seed=0):
    from curvopt.testing.potentials import lennard_jones

    rng = np.random.default_rng(seed)
    side = int(np.ceil(n_atoms ** (1 / 3)))
    grid = np.array([(i, j, k) for i in range(side) for j in range(side) for k in range(side)], float)[:n_atoms]
    x0 = (1.12 * grid + rng.normal(0, 0.05, grid.shape)).ravel()
    res = scipy.optimize.minimize(lennard_jones, x0, jac=True, method="L-BFGS-B",
                                  options={"gtol": 1e-10, "ftol": 0.0, "maxiter": 10000})
    return res.x, lennard_jones


def _deflated_reference(jac, x, D):
    """Least eigenvalue of the central-difference Hessian on the complement of span(D), by numpy."""
    n, h = x.size, 1e-5
    H = np.column_stack([(jac(x + h * e) - jac(x - h * e)) / (2 * h) for e in np.eye(n)])
    C = np.linalg.qr(np.column_stack([D, np.eye(n)]))[0][:, D.shape[1]:n]
    return np.linalg.eigvalsh(C.T @ (0.5 * (H + H.T)) @ C)[0]


@pytest.mark.parametrize("n_atoms", [8, 20])  # n - 6 = 18 <= 40: the compressed Hessian; 54 > 40: Lanczos
def test_deflate_leaves_rigid_body_modes_out_of_the_check(n_atoms):
    from curvopt._rigid import rigid_body_basis

    x, fun = _lj_minimum(n_atoms)
    jac = lambda y: fun(y)[1]  # noqa: E731
    rigid = lambda y: rigid_body_basis(y.reshape(-1, 3))[0]  # noqa: E731
    assert np.linalg.norm(jac(x)) < 1e-4  # a stationary start: the run is the check alone
    res = curvopt.minimize(fun, x, jac=True, method="trust-lbfgs",
                           options={"gtol": 1e-4, "verify": True, "deflate": rigid})
    reference = _deflated_reference(jac, x, rigid(x))
    assert reference > 0  # a true minimum once the six zero modes are out
    assert res.success and res.is_local_minimum is True and res.nit == 0
    assert res.min_curvature >= reference - 1e-4 * abs(reference)  # a Ritz value bounds it from above
    if n_atoms == 8:
        assert res.min_curvature == pytest.approx(reference, rel=1e-4)


def test_deflate_option_checks_its_shape():
    with pytest.raises(ValueError, match="option `deflate` must give a finite \\(4, m\\) array"):
        curvopt.minimize(scipy.optimize.rosen, np.zeros(4), jac=scipy.optimize.rosen_der, method="trust-ncg",
                         options={"deflate": np.ones((3, 1))})
