"""Every Hessian-vector product backend against exact products."""

import autograd.numpy as anp
import numpy as np
import pytest
import scipy.sparse.linalg as spla
from scipy.optimize import rosen, rosen_der, rosen_hess, rosen_hess_prod

from curvopt import HessianOperator


def rosen_autograd(x):
    return anp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@pytest.fixture
def point(rng):
    return rng.uniform(-1.5, 1.5, 12)


@pytest.mark.parametrize(
    "kwargs, rtol",
    [
        (dict(jac=rosen_der, method="2-point"), 1e-5),
        (dict(jac=rosen_der, method="3-point"), 1e-8),
        (dict(fun=rosen_autograd, method="autograd"), 1e-12),
        (dict(fun=rosen_autograd), 1e-12),  # default: autograd when fun can be traced
        (dict(jac=rosen_der), 1e-8),  # default with a gradient: central differences
        (dict(hessp=rosen_hess_prod), 1e-14),
    ],
)
def test_products_match_exact(kwargs, rtol, point, rng):
    H = HessianOperator(point, **kwargs)
    exact = rosen_hess(point)
    for _ in range(3):
        v = rng.standard_normal(point.size)
        np.testing.assert_allclose(H @ v, exact @ v, rtol=rtol, atol=rtol * np.linalg.norm(exact @ v))
    V = rng.standard_normal((point.size, 4))
    np.testing.assert_allclose(H @ V, exact @ V, rtol=rtol, atol=rtol * np.abs(exact @ V).max())
    assert H.n_products == 3 + 4


def test_autograd_forward_mode_of_an_autograd_gradient(point, rng):
    from autograd import grad

    H = HessianOperator(point, jac=grad(rosen_autograd), method="autograd")
    v = rng.standard_normal(point.size)
    np.testing.assert_allclose(H @ v, rosen_hess(point) @ v, rtol=1e-12)


def test_gradient_calls_are_counted(point, counted, rng):
    jac = counted(rosen_der)
    forward = HessianOperator(point, jac=jac, method="2-point")
    for _ in range(5):
        forward @ rng.standard_normal(point.size)
    # one call for g(x), reused, and one per product
    assert jac.calls == forward.n_grad_calls == 6
    jac = counted(rosen_der)
    central = HessianOperator(point, jac=jac, method="3-point")
    central @ rng.standard_normal((point.size, 3))
    assert jac.calls == central.n_grad_calls == 6


def test_operator_is_symmetric_and_plugs_into_scipy(point):
    exact = rosen_hess(point)
    shift = abs(np.linalg.eigvalsh(exact)).max()  # make it positive definite for cg
    H = HessianOperator(point, hessp=lambda x, p: rosen_hess_prod(x, p) + 1.1 * shift * p)
    A = exact + 1.1 * shift * np.eye(point.size)
    b = np.arange(1.0, point.size + 1)
    x_cg, info = spla.cg(H, b, rtol=1e-12, maxiter=500)
    assert info == 0
    np.testing.assert_allclose(x_cg, np.linalg.solve(A, b), rtol=1e-8)
    x_mr, info = spla.minres(HessianOperator(point, jac=rosen_der), b, rtol=1e-12, maxiter=500)
    np.testing.assert_allclose(exact @ x_mr, b, rtol=1e-5, atol=1e-5 * np.linalg.norm(b))
    vals = spla.eigsh(HessianOperator(point, jac=rosen_der), k=3, which="LA", tol=1e-10,
                      return_eigenvectors=False)
    np.testing.assert_allclose(np.sort(vals), np.linalg.eigvalsh(exact)[-3:], rtol=1e-7)
    assert H.H is H and H.T is H


def test_fd_step_scales_with_x_and_p():
    # A quadratic whose gradient is exact in floating point: the difference is exact only if the
    # step keeps x + h p representable, which the (1 + ||x||)/||p|| scaling guarantees at any scale.
    A = np.diag([1.0, 10.0, 100.0])
    jac = lambda x: A @ x  # noqa: E731
    for scale in (1e-6, 1.0, 1e6):
        x = np.full(3, scale)
        H = HessianOperator(x, jac=jac, method="2-point")
        for pscale in (1e-8, 1.0, 1e8):
            p = np.array([1.0, -2.0, 0.5]) * pscale
            np.testing.assert_allclose(H @ p, A @ p, rtol=1e-6)


def test_zero_vector_costs_nothing(point, counted):
    jac = counted(rosen_der)
    H = HessianOperator(point, jac=jac, method="2-point")
    np.testing.assert_array_equal(H @ np.zeros(point.size), 0.0)
    assert jac.calls == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(), "needs `jac`"),
        (dict(jac=rosen_der, method="4-point"), "`method` must be"),
        (dict(jac=rosen_der, method="autograd"), "autograd"),
        (dict(jac="rosen"), "`jac` must be callable"),
        (dict(fun=lambda x: float(np.asarray(x) @ np.asarray(x)), method="2-point"), "needs `jac`"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        HessianOperator(np.ones(3), **kwargs)


def test_bad_point():
    with pytest.raises(ValueError, match="`x` must be finite"):
        HessianOperator(np.array([1.0, np.nan]), jac=rosen_der)
    with pytest.raises(ValueError, match="`x` must be 1-D"):
        HessianOperator(np.ones((2, 2)), jac=rosen_der)


def test_wrong_gradient_shape_is_named(point):
    H = HessianOperator(point, jac=lambda x: np.ones(x.size + 1), method="2-point")
    with pytest.raises(ValueError, match=r"`jac` must return an array of shape \(12,\)"):
        H @ np.ones(point.size)


def test_user_hessp_shape_is_checked(point):
    H = HessianOperator(point, hessp=lambda x, p: np.ones(2))
    with pytest.raises(ValueError, match="`hessp` must return"):
        H @ np.ones(point.size)


def test_rosen_value_unchanged():
    # guards the fixture: the autograd Rosenbrock is scipy's
    x = np.linspace(-1, 1, 7)
    assert rosen_autograd(x) == pytest.approx(rosen(x), rel=1e-14)


def test_user_exception_surfaces_as_itself(point):
    def broken(x):
        raise FloatingPointError("model diverged")

    H = HessianOperator(point, jac=broken, method="3-point")
    with pytest.raises(FloatingPointError, match="model diverged"):
        H @ np.ones(point.size)
