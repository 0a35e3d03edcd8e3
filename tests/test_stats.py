"""Standard errors from Hessian-vector products against statsmodels' Logit and Probit.

The data are simulated with a fixed seed (2000 observations, a constant and three regressors);
the estimates come from curvopt.minimize, the reference standard errors from statsmodels on the
same data: the inverse observed information (the default covariance) and White's robust
``cov_type='HC0'``. The singular case uses collinear regressors.
"""

import autograd.numpy as anp
import numpy as np
import pytest
from scipy.special import expit, log_ndtr

import curvopt
from curvopt.stats import CovarianceWarning, InverseHessian, covariance, hess_inv, standard_errors

sm = pytest.importorskip("statsmodels.api")

N_OBS = 2000
BETA = np.array([0.3, -0.8, 0.5, 1.2])
RTOL = 1e-5


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(20240601)
    X = np.column_stack([np.ones(N_OBS), rng.standard_normal((N_OBS, 3))])
    eta = X @ BETA
    y_logit = (rng.uniform(size=N_OBS) < expit(eta)).astype(float)
    y_probit = (rng.standard_normal(N_OBS) < eta).astype(float)
    return X, y_logit, y_probit


class Logit:
    def __init__(self, X, y):
        self.X, self.y = X, y

    def nll(self, b):
        eta = self.X @ b
        return float(np.sum(np.logaddexp(0.0, eta) - self.y * eta))

    def grad(self, b):
        return self.X.T @ (expit(self.X @ b) - self.y)

    def scores(self, b):
        return self.X * (self.y - expit(self.X @ b))[:, None]

    def nll_autograd(self, b):
        eta = anp.dot(self.X, b)
        return anp.sum(anp.logaddexp(0.0, eta) - self.y * eta)


class Probit:
    def __init__(self, X, y):
        self.X, self.y = X, y
        self.q = 2.0 * y - 1.0

    def nll(self, b):
        return float(-np.sum(log_ndtr(self.q * (self.X @ b))))

    def _mills(self, b):
        z = self.q * (self.X @ b)
        return self.q * np.exp(-0.5 * z * z - 0.5 * np.log(2.0 * np.pi) - log_ndtr(z))

    def grad(self, b):
        return -self.X.T @ self._mills(b)

    def scores(self, b):
        return self.X * self._mills(b)[:, None]


def fit(model):
    res = curvopt.minimize(model.nll, np.zeros(model.X.shape[1]), jac=model.grad, options={"gtol": 1e-9})
    assert res.success
    return res


@pytest.fixture(scope="module")
def logit(data):
    X, y, _ = data
    model = Logit(X, y)
    return model, fit(model), sm.Logit(y, X)


@pytest.fixture(scope="module")
def probit(data):
    X, _, y = data
    model = Probit(X, y)
    return model, fit(model), sm.Probit(y, X)


@pytest.mark.parametrize("which", ["logit", "probit"])
def test_standard_errors_match_statsmodels(which, request):
    model, res, sm_model = request.getfixturevalue(which)
    ref = sm_model.fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(res.x, ref.params, rtol=1e-7)  # the same estimate
    se = standard_errors(res, jac=model.grad)
    np.testing.assert_allclose(se, ref.bse, rtol=RTOL)
    np.testing.assert_allclose(covariance(res, jac=model.grad), ref.cov_params(), rtol=RTOL, atol=RTOL * 1e-3)


@pytest.mark.parametrize("which", ["logit", "probit"])
def test_robust_standard_errors_match_statsmodels_hc0(which, request):
    model, res, sm_model = request.getfixturevalue(which)
    ref = sm_model.fit(disp=0, tol=1e-12, cov_type="HC0")
    se = standard_errors(res, kind="sandwich", jac=model.grad, scores=model.scores)  # scores as a callable
    np.testing.assert_allclose(se, ref.bse, rtol=RTOL)
    se_array = standard_errors(res, kind="robust", jac=model.grad, scores=model.scores(res.x))
    np.testing.assert_allclose(se_array, ref.bse, rtol=RTOL)


def test_mean_objective_scales_with_n_obs(logit):
    model, _, sm_model = logit
    ref = sm_model.fit(disp=0, tol=1e-12)
    robust = sm_model.fit(disp=0, tol=1e-12, cov_type="HC0")
    mean_nll = lambda b: model.nll(b) / N_OBS  # noqa: E731
    mean_grad = lambda b: model.grad(b) / N_OBS  # noqa: E731
    res = curvopt.minimize(mean_nll, np.zeros(4), jac=mean_grad, options={"gtol": 1e-12})
    assert res.success
    np.testing.assert_allclose(standard_errors(res, jac=mean_grad, n_obs=N_OBS), ref.bse, rtol=RTOL)
    np.testing.assert_allclose(
        standard_errors(res, jac=mean_grad, n_obs=N_OBS, kind="sandwich", scores=model.scores), robust.bse, rtol=RTOL
    )


def test_exact_autograd_products(logit):
    model, res, sm_model = logit
    ref = sm_model.fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(standard_errors(res, fun=model.nll_autograd), ref.bse, rtol=RTOL)


def test_many_parameters_path_uses_cg_solves(logit):
    model, res, sm_model = logit
    ref = sm_model.fit(disp=0, tol=1e-12)
    se = standard_errors(res, jac=model.grad, max_dense=1)  # n CG solves instead of the dense Hessian
    np.testing.assert_allclose(se, ref.bse, rtol=RTOL)


def test_hess_inv_applies_the_inverse_hessian(logit, rng):
    model, res, sm_model = logit
    H_ref = -sm_model.hessian(res.x)  # statsmodels' analytic Hessian of the log-likelihood
    Hinv = hess_inv(res, jac=model.grad)
    assert isinstance(Hinv, InverseHessian) and Hinv.shape == (4, 4)
    for _ in range(3):
        b = rng.standard_normal(4)
        np.testing.assert_allclose(Hinv @ b, np.linalg.solve(H_ref, b), rtol=1e-7)
    assert Hinv.n_solves == 3 and Hinv.hessian.n_products <= 3 * 10 * 4


def test_result_carries_hess_inv(logit, rng):
    """``result.hess_inv``, as scipy's BFGS result has one: here exact to the CG tolerance, checked
    against statsmodels' analytic Hessian, and free until used."""
    model, _, sm_model = logit
    for method in ("trust-ncg", "trust-lbfgs"):
        res = curvopt.minimize(model.nll, np.zeros(4), jac=model.grad, method=method, options={"gtol": 1e-8})
        Hinv = res.hess_inv
        assert isinstance(Hinv, InverseHessian) and Hinv.hessian.n_grad_calls == 0  # nothing spent yet
        H_ref = -sm_model.hessian(res.x)
        b = rng.standard_normal(4)
        np.testing.assert_allclose(Hinv @ b, np.linalg.solve(H_ref, b), rtol=1e-7)
        np.testing.assert_allclose(Hinv.todense(), np.linalg.inv(H_ref), rtol=1e-7)
        assert Hinv.hessian.n_grad_calls > 0  # central-difference products of the user's gradient
    bounded = curvopt.minimize(model.nll, np.zeros(4), jac=model.grad, bounds=[(-5, 5)] * 4,
                               options={"gtol": 1e-8})
    np.testing.assert_allclose(bounded.hess_inv.todense(), np.linalg.inv(-sm_model.hessian(bounded.x)), rtol=1e-7)


def test_collinear_regressors_warn(data):
    X, y, _ = data
    X_collinear = np.column_stack([X, X[:, 1] + X[:, 2]])  # the fifth regressor is the sum of two others
    model = Logit(X_collinear, y)
    res = curvopt.minimize(model.nll, np.zeros(5), jac=model.grad, options={"gtol": 1e-8})
    with pytest.warns(CovarianceWarning, match="not positive definite|nearly singular"):
        standard_errors(res, jac=model.grad)
    with pytest.warns(CovarianceWarning):
        standard_errors(res, jac=model.grad, max_dense=1)
    assert issubclass(CovarianceWarning, RuntimeWarning)


def test_saddle_point_warns():
    jac = lambda x: np.array([2.0 * x[0], -2.0 * x[1]])  # noqa: E731  f = x0^2 - x1^2
    with pytest.warns(CovarianceWarning, match="not positive definite"):
        se = standard_errors(np.zeros(2), jac=jac)
    assert se[0] == pytest.approx(np.sqrt(0.5)) and np.isnan(se[1])  # a negative variance shows as NaN
    with pytest.warns(CovarianceWarning, match="non-positive curvature"):
        hess_inv(np.zeros(2), jac=jac) @ np.array([1.0, 1.0])


def test_estimate_on_a_bound_warns(logit):
    model, res, _ = logit
    at_bound = curvopt.OptimizeResult(x=res.x, active_mask=np.array([0, 1, 0, 0]))
    with pytest.warns(CovarianceWarning, match="on a bound in parameters \\[1\\]"):
        covariance(at_bound, jac=model.grad)


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="hc3"), "`kind`"),
    (dict(kind="sandwich"), "needs `scores`"),
    (dict(kind="sandwich", scores=np.ones((10, 3))), r"`scores` must be an \(n_obs, 4\) array"),
    (dict(n_obs=0), "`n_obs`"),
    (dict(jac=None), "give the gradient"),
])
def test_bad_input(logit, kwargs, match):
    model, res, _ = logit
    kwargs = {"jac": model.grad, **kwargs}
    with pytest.raises(ValueError, match=match):
        covariance(res, **kwargs)


def test_bounds_keep_products_inside_the_box():
    # a model that raises below zero, fitted with x >= 0: the estimate is on the bound in x1, and
    # the central-difference products there must step inward only
    from curvopt.trust_region.bounded import minimize_bounded

    w = np.array([1.0, 4.0, 0.5])
    c = np.array([1.0, -1.0, 2.0])

    def jac(x):
        if np.any(x < 0):
            raise ValueError("outside the model's domain")
        return 2.0 * w * (x - c) + x**3  # the Hessian is diag(2 w + 3 x^2)

    def fun(x):
        if np.any(x < 0):
            raise ValueError("outside the model's domain")
        return float(np.sum(w * (x - c) ** 2) + np.sum(x**4) / 4)

    res = minimize_bounded(fun, np.ones(3), jac=jac, bounds=[(0.0, None)] * 3, options={"gtol": 1e-12})
    assert res.success and res.active_mask.tolist() == [0, -1, 0]
    expected = np.linalg.inv(np.diag(2.0 * w + 3.0 * res.x**2))  # analytic
    with pytest.warns(CovarianceWarning, match="on a bound in parameters \\[1\\]"):
        cov = covariance(res, jac=jac, bounds=[(0.0, None)] * 3)
    np.testing.assert_allclose(cov, expected, rtol=1e-6, atol=1e-9)
    with pytest.raises(Exception, match="outside the model's domain"):
        covariance(res.x, jac=jac)  # without the bounds, the products step below zero
