"""Bounds for the quasi-Newton method: ``minimize(..., method='trust-lbfgs', bounds=...)``.

References are scipy's L-BFGS-B run to a tight tolerance on the same problem and box, exact
Hessians (numpy.linalg.eigh) for the curvature check, and a dense reference of the generalized
Cauchy point. Every oracle call is checked to lie in the box.
"""

import warnings

import numpy as np
import pytest
from scipy.optimize import Bounds, OptimizeWarning, rosen, rosen_der, rosen_hess

import curvopt
from curvopt.hvp.quasi_newton import QuasiNewtonHVP
from curvopt.testing import Counted

# the bounded problems, their L-BFGS-B reference and tolerance are those of trust-bounds' tests
from test_bounds import CASES, GTOL, case_id, lbfgsb, pg_inf, setup  # noqa: E402


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_same_solution_as_lbfgsb(case):
    problem, lower, upper = setup(case)
    x0 = np.clip(problem.x0, lower, upper)
    jac = Counted(problem.jac)
    res = curvopt.minimize(problem.fun, x0, jac=jac, method="trust-lbfgs", bounds=Bounds(lower, upper),
                           options={"gtol": GTOL})
    ref = lbfgsb(problem.fun, problem.jac, x0, lower, upper)
    assert res.success, res.message
    assert res.njev == jac.calls and res.n_hvp == 0  # no product: the model's cost no gradient call
    assert np.all(res.x >= lower) and np.all(res.x <= upper)
    assert pg_inf(problem.jac, res.x, lower, upper) <= GTOL
    assert res.pgnorm == pytest.approx(pg_inf(problem.jac, res.x, lower, upper), rel=1e-12, abs=1e-300)
    assert res.fun == pytest.approx(ref.fun, rel=1e-8, abs=1e-12)
    np.testing.assert_allclose(res.x, ref.x, atol=1e-4 * max(1.0, float(np.abs(ref.x).max())))
    expected = np.where(ref.x <= lower, -1, np.where(ref.x >= upper, 1, 0))
    np.testing.assert_array_equal(res.active_mask, expected)


def test_active_bounds_of_the_known_bounded_rosenbrock_minimum():
    lower, upper = np.full(4, -1.5), np.full(4, 0.8)
    res = curvopt.minimize(rosen, np.zeros(4), jac=rosen_der, method="trust-lbfgs", bounds=Bounds(lower, upper),
                           tol=1e-10)
    ref = lbfgsb(rosen, rosen_der, np.zeros(4), lower, upper)
    assert res.success and res.active_mask.tolist() == [1, 0, 0, 0]
    assert res.x[0] == 0.8  # exactly on the bound
    np.testing.assert_allclose(res.x, ref.x, atol=1e-7)


# -- the box is never left -------------------------------------------------------------------

LOWER, UPPER = np.array([0.1, -0.5, 0.2, 0.0]), np.array([0.6, 0.7, 1.5, 0.45])


def _guarded(seen):
    def check(x):
        x = np.asarray(x, dtype=float)
        seen.append(x.copy())
        if np.any(x < LOWER) or np.any(x > UPPER):
            raise AssertionError(f"evaluated outside the box: {x}")

    def fun(x):
        check(x)
        return rosen(x) + np.sum(np.log(x - LOWER + 1.0))  # the log would fail far below the box

    def jac(x):
        check(x)
        return rosen_der(x) + 1.0 / (x - LOWER + 1.0)

    return fun, jac


@pytest.mark.parametrize("mode", ["callable", "combined", "2-point", "3-point"])
def test_oracle_is_never_evaluated_outside_the_box(mode):
    seen = []
    fun, jac = _guarded(seen)
    kwargs = {"callable": {"jac": jac}, "2-point": {"jac": "2-point"}, "3-point": {"jac": "3-point"},
              "combined": {"jac": True}}[mode]
    objective = (lambda x: (fun(x), jac(x))) if mode == "combined" else fun
    x0 = np.array([0.0, 2.0, 1.0, 1.0])  # outside: clipped, with a warning
    with pytest.warns(OptimizeWarning, match="clipped"):
        res = curvopt.minimize(objective, x0, method="trust-lbfgs", bounds=list(zip(LOWER, UPPER)),
                               options={"gtol": 1e-6, "verify": True}, **kwargs)
    assert res.success, res.message
    assert len(seen) > 10
    ref = lbfgsb(fun, jac, np.clip(x0, LOWER, UPPER), LOWER, UPPER)
    np.testing.assert_allclose(res.x, ref.x, atol=1e-4)
    assert res.active_mask.tolist() == np.where(ref.x <= LOWER, -1, np.where(ref.x >= UPPER, 1, 0)).tolist()


def test_jac_true_counts_one_call_per_point_and_matches_callable_jac():
    counted = Counted(lambda x: (rosen(x), rosen_der(x)))
    bounds = [(-1.5, 0.8)] * 4
    combined = curvopt.minimize(counted, np.zeros(4), jac=True, method="trust-lbfgs", bounds=bounds, tol=1e-9)
    separate = curvopt.minimize(rosen, np.zeros(4), jac=rosen_der, method="trust-lbfgs", bounds=bounds, tol=1e-9)
    assert combined.success and separate.success
    assert combined.nfev == counted.calls  # value and gradient: one call per point
    np.testing.assert_allclose(combined.x, separate.x, atol=1e-7)


# -- the curvature check uses true products -------------------------------------------------


def test_curvature_check_uses_true_products_on_the_free_face():
    lower, upper = np.full(4, -1.5), np.full(4, 0.8)
    res = curvopt.minimize(rosen, np.zeros(4), jac=rosen_der, method="trust-lbfgs", bounds=Bounds(lower, upper),
                           options={"gtol": 1e-10, "verify": True})
    assert res.success and res.is_local_minimum is True
    free = np.flatnonzero(res.active_mask == 0)
    exact = np.linalg.eigvalsh(rosen_hess(res.x)[np.ix_(free, free)])[0]
    # finite differences of the gradient, not the quasi-Newton model (whose eigenvalues differ)
    assert res.min_curvature == pytest.approx(exact, rel=1e-5)
    assert res.n_hvp == free.size  # the products of the check, and no others


# -- default method with bounds ------------------------------------------------------------


def test_bounds_with_a_gradient_default_to_trust_lbfgs():
    bounds = Bounds(np.full(4, -1.5), np.full(4, 0.8))
    default = curvopt.minimize(rosen, np.zeros(4), jac=rosen_der, bounds=bounds, tol=1e-9)
    explicit = curvopt.minimize(rosen, np.zeros(4), jac=rosen_der, method="TRUST-LBFGS", bounds=bounds, tol=1e-9)
    np.testing.assert_array_equal(default.x, explicit.x)
    assert (default.nit, default.njev, default.nfev) == (explicit.nit, explicit.njev, explicit.nfev)
    assert default.n_hvp == 0  # not trust-bounds, whose products would be finite differences


# -- the generalized Cauchy point ----------------------------------------------------------


def _dense_cauchy(x, g, lower, upper, B):
    """The first local minimizer of q(s) = g's + s'Bs/2 on s(t) = P[x - t g] - x, segment by segment."""
    with np.errstate(divide="ignore", invalid="ignore"):
        tb = np.where(g < 0, (x - upper) / g, np.where(g > 0, (x - lower) / g, np.inf))
    points = np.unique(np.concatenate([[0.0], tb[np.isfinite(tb) & (tb > 0)], [np.inf]]))
    for t0, t1 in zip(points[:-1], points[1:]):
        s0 = np.clip(x - t0 * g, lower, upper) - x
        d = np.where(tb > t0, -g, 0.0)
        f1 = g @ d + s0 @ B @ d
        f2 = d @ B @ d
        if f1 >= 0:
            return x + s0
        tau = -f1 / f2 if f2 > 0 else np.inf
        if tau < t1 - t0:
            return x + s0 + tau * d
    raise AssertionError("unbounded path")


@pytest.mark.parametrize("kind", ["bfgs", "sr1"])
def test_generalized_cauchy_point_matches_a_dense_reference(rng, kind):
    n = 12
    A = rng.standard_normal((n, n))
    H = A @ A.T / n + np.eye(n)
    products = QuasiNewtonHVP(n, memory=5, kind=kind)
    for _ in range(7):
        s = rng.standard_normal(n)
        products.observe(s, H @ s)
    B = np.column_stack([products(e) for e in np.eye(n)])
    lower, upper = -rng.uniform(0.05, 1.0, n), rng.uniform(0.05, 1.0, n)
    x = rng.uniform(lower, upper)
    x[0], x[1] = lower[0], upper[1]  # at bounds
    g = 3.0 * rng.standard_normal(n)
    xs, tr_limited = products.generalized_cauchy_point(x, g, lower, upper, 1e6)
    assert not tr_limited
    np.testing.assert_allclose(xs, _dense_cauchy(x, g, lower, upper, B), atol=1e-10)
    # within a small trust region the point is on its boundary, along the same path
    xs_small, limited = products.generalized_cauchy_point(x, g, lower, upper, 1e-3)
    assert limited and np.linalg.norm(xs_small - x) == pytest.approx(1e-3)
    step = xs_small - x
    assert np.all(step * g <= 0.0)


# -- bad input -----------------------------------------------------------------------------


def test_lower_above_upper_is_a_clear_error():
    with pytest.raises(ValueError, match=r"`bounds`: lower bound above the upper bound at indices \[1\]"):
        curvopt.minimize(rosen, np.zeros(2), jac=rosen_der, method="trust-lbfgs", bounds=[(0, 1), (2, 1)])


def test_x0_outside_is_clipped_with_a_warning_at_the_users_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = curvopt.minimize(rosen, [2.0, -1.0], jac=rosen_der, method="trust-lbfgs", bounds=[(0, 1), (0, 1)])
    assert [w.category for w in caught] == [OptimizeWarning]
    assert caught[0].filename == __file__
    assert res.success and np.allclose(res.x, 1.0, atol=1e-4)


def test_measure_option_with_bounds_is_refused():
    with pytest.raises(ValueError, match="option `measure`.*bounds"):
        curvopt.minimize(rosen, np.zeros(2), jac=rosen_der, method="trust-lbfgs", bounds=[(0, 1)] * 2,
                         options={"measure": lambda g: np.abs(g).max()})


def test_unbounded_coordinates_and_infinite_bounds_are_the_unconstrained_method():
    free = curvopt.minimize(rosen, [-1.2, 1.0], jac=rosen_der, method="trust-lbfgs")
    infinite = curvopt.minimize(rosen, [-1.2, 1.0], jac=rosen_der, method="trust-lbfgs", bounds=[(None, None)] * 2)
    assert (free.nit, free.njev) == (infinite.nit, infinite.njev)
    assert free.pgnorm == np.abs(free.jac).max() and not free.active_mask.any()
    half = curvopt.minimize(rosen, [-1.2, 1.0], jac=rosen_der, method="trust-lbfgs",
                            bounds=[(None, 0.5), (None, None)], tol=1e-9)
    assert half.success and half.x[0] == 0.5
    np.testing.assert_allclose(half.x, [0.5, 0.25], atol=1e-6)  # the bounded minimizer: x1 = x0^2


def test_deflate_with_bounds_is_refused():
    with pytest.raises(ValueError, match="option `deflate` is for unconstrained runs"):
        curvopt.minimize(rosen, np.zeros(4), jac=rosen_der, method="trust-lbfgs", bounds=[(-2, 2)] * 4,
                         options={"deflate": np.eye(4)[:, :1]})


def test_default_with_bounds_follows_the_gradient_source():
    """jac=None: autograd when it traces `fun` (exact products: trust-bounds), else forward differences of
    `fun` (trust-lbfgs); deciding costs no extra call of `fun`."""
    import autograd.numpy as anp

    calls = {"n": 0}

    def plain(x):  # in-place assignment: autograd cannot trace it
        calls["n"] += 1
        y = np.array(x, dtype=float)
        y[0] = y[0] - 1.0
        return float(y @ y)

    def traced(x):
        return anp.sum((x - 1.0) ** 2)

    bounds = [(-2, 0.5)] * 3
    with pytest.warns(RuntimeWarning, match="no gradient given"):
        res = curvopt.minimize(plain, np.zeros(3), bounds=bounds)
    assert calls["n"] == res.nfev + 1  # one traced call to learn autograd cannot differentiate it, no more
    lbfgs = curvopt.minimize(plain, np.zeros(3), jac="2-point", method="trust-lbfgs", bounds=bounds)
    assert res.success and np.array_equal(res.x, lbfgs.x) and res.nfev == lbfgs.nfev
    np.testing.assert_allclose(res.x, [0.5, 0.0, 0.0], atol=1e-6)  # f = (x0 - 1)^2 + x1^2 + x2^2 in the box
    exact = curvopt.minimize(traced, np.zeros(3), bounds=bounds)
    newton = curvopt.minimize(traced, np.zeros(3), jac="autograd", method="trust-bounds", bounds=bounds)
    assert exact.success and np.array_equal(exact.x, newton.x) and exact.nit == newton.nit
    np.testing.assert_allclose(exact.x, [0.5, 0.5, 0.5])
