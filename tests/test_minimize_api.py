"""The scipy contract of curvopt.minimize: keys, callbacks, pass-through, counting, bad input."""

import io
import warnings
from contextlib import redirect_stdout

import autograd.numpy as anp
import numpy as np
import pytest
import scipy.optimize
from scipy.optimize import OptimizeWarning, rosen, rosen_der, rosen_hess, rosen_hess_prod

import curvopt
from curvopt._registry import METHODS, SCIPY_METHODS

SCIPY_KEYS = {"x", "fun", "jac", "nit", "nfev", "njev", "nhev", "status", "success", "message"}
X0 = np.array([-1.2, 1.0, -1.2, 1.0])


def rosen_autograd(x):
    return anp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_returns_every_key(method):
    res = curvopt.minimize(rosen, X0, jac=rosen_der, method=method)
    assert isinstance(res, curvopt.OptimizeResult)
    assert isinstance(res, scipy.optimize.OptimizeResult)
    assert SCIPY_KEYS <= set(res)
    assert {"n_hvp", "cg_iterations", "n_nonfinite", "hess_inv"} <= set(res)
    if METHODS[method].supports_bounds:
        assert {"pgnorm", "active_mask"} <= set(res) and not res.active_mask.any()
    assert res.success and res.status == curvopt.Status.SUCCESS
    np.testing.assert_allclose(res.x, 1.0, atol=1e-4)
    np.testing.assert_allclose(res.jac, rosen_der(res.x))
    assert res.fun == rosen(res.x)


@pytest.mark.parametrize("method", ["TRUST-NCG", "Trust-NCG", "Newton-CG", "newton-cg"])
def test_method_names_are_case_insensitive(method):
    assert curvopt.minimize(rosen, X0, jac=rosen_der, method=method).success


def test_default_method_is_trust_ncg_with_scipy_defaults():
    ours = curvopt.minimize(rosen, X0, jac=rosen_der, hessp=rosen_hess_prod)
    theirs = scipy.optimize.minimize(rosen, X0, jac=rosen_der, hessp=rosen_hess_prod, method="trust-ncg")
    # same algorithm and parameters: the same iterations, to round-off
    assert ours.nit == theirs.nit
    np.testing.assert_allclose(ours.x, theirs.x, rtol=1e-8)
    assert ours.nhev < theirs.nhev  # the predicted reduction costs curvopt no product


def test_unknown_method_lists_known_ones():
    with pytest.raises(ValueError, match="unknown method 'trust-magic'.*'trust-ncg'.*'l-bfgs-b'"):
        curvopt.minimize(rosen, X0, method="trust-magic")


@pytest.mark.parametrize("method", ["L-BFGS-B", "BFGS", "Nelder-Mead", "CG", "trust-exact", "SLSQP", "Powell"])
def test_scipy_methods_pass_through_unchanged(method):
    kwargs = dict(jac=rosen_der)
    if method == "trust-exact":
        kwargs["hess"] = rosen_hess
    if method in ("Nelder-Mead", "Powell"):
        kwargs = {}
    ours = curvopt.minimize(rosen, X0, method=method, options={"maxiter": 200}, **kwargs)
    theirs = scipy.optimize.minimize(rosen, X0, method=method, options={"maxiter": 200}, **kwargs)
    assert isinstance(ours, curvopt.OptimizeResult)
    np.testing.assert_array_equal(ours.x, theirs.x)
    assert ours.nit == theirs.nit and ours.status == theirs.status


def test_scipy_pass_through_takes_autograd_strings():
    ours = curvopt.minimize(rosen_autograd, X0, method="BFGS", jac="autograd")
    theirs = scipy.optimize.minimize(rosen, X0, method="BFGS", jac=rosen_der)
    np.testing.assert_allclose(ours.x, theirs.x, rtol=1e-10)


def test_scipy_method_list_is_scipys():
    # every pass-through name is a method scipy really has
    for name in SCIPY_METHODS:
        assert name in scipy.optimize._minimize.MINIMIZE_METHODS


# -- gradients -------------------------------------------------------------------------------


def rosen_combined(x):
    return rosen(x), rosen_der(x)


@pytest.mark.parametrize(
    "fun, jac",
    [
        (rosen, rosen_der),
        (rosen_combined, True),
        (rosen_autograd, "autograd"),
        (rosen_autograd, None),
        (rosen, "3-point"),
    ],
)
def test_gradient_sources_agree(fun, jac):
    res = curvopt.minimize(fun, X0, jac=jac, options={"gtol": 1e-6})
    assert res.success
    np.testing.assert_allclose(res.x, 1.0, atol=1e-5)


def test_jac_none_without_autograd_warns_and_says_how():
    def opaque(x):
        x = np.asarray(x, dtype=float)  # autograd cannot trace through this
        return float(rosen(x))

    with pytest.warns(RuntimeWarning, match="jac=<gradient callable>") as record:
        res = curvopt.minimize(opaque, X0)
    assert record[0].filename == __file__  # the warning points at the user's line
    assert res.success


def test_counts_are_exact(counted):
    fun, jac = counted(rosen), counted(rosen_der)
    res = curvopt.minimize(fun, X0, jac=jac)  # forward-difference products
    assert res.nfev == fun.calls and res.njev == jac.calls
    assert res.njev > res.nit  # the products' gradient calls are in
    fun, jac, hessp = counted(rosen), counted(rosen_der), counted(rosen_hess_prod)
    res = curvopt.minimize(fun, X0, jac=jac, hessp=hessp, method="newton-cg")
    assert (res.nfev, res.njev, res.nhev) == (fun.calls, jac.calls, hessp.calls)
    combined = counted(rosen_combined)
    res = curvopt.minimize(combined, X0, jac=True, hessp=rosen_hess_prod)
    assert res.nfev == res.njev == combined.calls


def test_central_products_cost_two_gradient_calls(counted):
    jac = counted(rosen_der)
    res = curvopt.minimize(rosen, X0, jac=jac, hessp="3-point")
    assert res.njev == jac.calls
    assert res.njev == 2 * res.n_hvp + (res.njev - 2 * res.n_hvp)  # the rest are iterates
    assert res.njev - 2 * res.n_hvp <= res.nit + 1


def test_user_hess_counts_hessian_evaluations(counted):
    hess = counted(rosen_hess)
    res = curvopt.minimize(rosen, X0, jac=rosen_der, hess=hess)
    # one Hessian per iterate, and one more at the end for the curvature check
    assert res.success and res.nhev == hess.calls <= res.nit + 1
    assert res.n_hvp >= res.nhev


def test_sparse_and_operator_hess():
    import scipy.sparse

    res1 = curvopt.minimize(rosen, X0, jac=rosen_der, hess=lambda x: scipy.sparse.csr_matrix(rosen_hess(x)))
    res2 = curvopt.minimize(rosen, X0, jac=rosen_der,
                            hess=lambda x: scipy.sparse.linalg.aslinearoperator(rosen_hess(x)))
    res3 = curvopt.minimize(rosen, X0, jac=rosen_der, hess=rosen_hess)
    np.testing.assert_allclose(res1.x, res3.x, rtol=1e-12)
    np.testing.assert_allclose(res2.x, res3.x, rtol=1e-12)


def test_gradient_budget_keeps_best_point():
    res = curvopt.minimize(rosen, X0, jac=rosen_der, options={"max_grad_calls": 20})
    assert not res.success and res.status == curvopt.Status.EVAL_BUDGET
    assert res.njev == 20
    assert res.fun < rosen(X0) and res.fun == rosen(res.x)


# -- callback --------------------------------------------------------------------------------


def test_callback_xk_protocol():
    seen = []
    res = curvopt.minimize(rosen, X0, jac=rosen_der, callback=lambda xk: seen.append(xk))
    assert len(seen) == res.nit
    np.testing.assert_array_equal(seen[-1], res.x)


def test_callback_intermediate_result_protocol():
    seen = []

    def callback(intermediate_result):
        assert isinstance(intermediate_result, scipy.optimize.OptimizeResult)
        seen.append(intermediate_result.fun)

    res = curvopt.minimize(rosen, X0, jac=rosen_der, method="newton-cg", callback=callback)
    assert len(seen) == res.nit and seen[-1] == res.fun


# scipy's method of the same kind: for the bounded method, scipy's bounded default
SCIPY_COUNTERPART = {"trust-bounds": "L-BFGS-B", "trust-lbfgs": "L-BFGS-B"}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_stop_iteration_ends_run_like_scipy(method):
    def stop_after(k):
        calls = []

        def callback(intermediate_result):
            calls.append(intermediate_result.fun)
            if len(calls) == k:
                raise StopIteration

        return callback

    ours = curvopt.minimize(rosen, X0, jac=rosen_der, method=method, callback=stop_after(3))
    counterpart = SCIPY_COUNTERPART.get(method, method)
    theirs = scipy.optimize.minimize(rosen, X0, jac=rosen_der, hessp=None if counterpart == "L-BFGS-B" else rosen_hess_prod,
                                     method=counterpart, callback=stop_after(3))
    assert ours.nit == 3
    assert (ours.status, ours.success, ours.message) == (theirs.status, theirs.success, theirs.message)


# -- options ---------------------------------------------------------------------------------


def test_unknown_option_warns_at_the_users_line():
    with pytest.warns(OptimizeWarning, match="Unknown solver options.*gtoll") as record:
        curvopt.minimize(rosen, X0, jac=rosen_der, options={"gtoll": 1e-3})
    assert record[0].filename == __file__


def test_tol_sets_gtol():
    loose = curvopt.minimize(rosen, X0, jac=rosen_der, tol=1e-2)
    tight = curvopt.minimize(rosen, X0, jac=rosen_der, tol=1e-9)
    assert np.linalg.norm(loose.jac) <= 1e-2 and np.linalg.norm(tight.jac) <= 1e-9
    assert loose.nit < tight.nit


def test_maxiter_and_return_all():
    res = curvopt.minimize(rosen, X0, jac=rosen_der, options={"maxiter": 5, "return_all": True})
    assert res.nit == 5 and not res.success and res.status == curvopt.Status.MAXITER
    assert len(res.allvecs) >= 2
    np.testing.assert_array_equal(res.allvecs[0], X0)


def test_disp_prints_a_table_and_summary():
    out = io.StringIO()
    with redirect_stdout(out):
        res = curvopt.minimize(rosen, X0, jac=rosen_der, options={"disp": True})
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:3] == ["iter", "f", "gnorm"]
    assert len(lines) >= res.nit + 2
    assert "Optimization terminated successfully." in out.getvalue()
    out = io.StringIO()
    with redirect_stdout(out):
        curvopt.minimize(rosen, X0, jac=rosen_der)
    assert out.getvalue() == ""


@pytest.mark.parametrize("options, match", [
    ({"eta": 0.5}, "`eta`"),
    ({"initial_trust_radius": -1.0}, "initial_trust_radius"),
    ({"maxiter": 0}, "`maxiter`"),
    ({"gtol": -1.0}, "`gtol`"),
])
def test_bad_option_values(options, match):
    with pytest.raises(ValueError, match=match):
        curvopt.minimize(rosen, X0, jac=rosen_der, options=options)


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("x0, match", [
    (np.array([1.0, np.nan]), "`x0` must be finite"),
    (np.array([1.0, np.inf]), "`x0` must be finite"),
    (np.ones((2, 2)), "`x0` must be 1-D"),
    ([], "`x0` must not be empty"),
    (["a", "b"], "`x0` must be a 1-D array of real numbers"),
])
def test_bad_x0(x0, match):
    with pytest.raises(ValueError, match=match):
        curvopt.minimize(rosen, x0, jac=rosen_der)


def test_fun_must_return_finite_scalar_at_x0():
    with pytest.raises(ValueError, match="`fun` must return a scalar"):
        curvopt.minimize(lambda x: x, X0, jac=rosen_der)
    with pytest.raises(ValueError, match="`fun` must return a finite scalar at x0"):
        curvopt.minimize(lambda x: np.nan, X0, jac=rosen_der)


def test_jac_shape_and_finiteness_at_x0():
    with pytest.raises(ValueError, match=r"`jac` must return an array of shape \(4,\)"):
        curvopt.minimize(rosen, X0, jac=lambda x: np.ones(3))
    with pytest.raises(ValueError, match="non-finite gradient at x0"):
        curvopt.minimize(rosen, X0, jac=lambda x: np.full(4, np.nan))
    with pytest.raises(ValueError, match="`jac` must be a callable, True"):
        curvopt.minimize(rosen, X0, jac="5-point")


def test_hess_and_hessp_both():
    with pytest.raises(ValueError, match="either `hess` or `hessp`, not both"):
        curvopt.minimize(rosen, X0, jac=rosen_der, hess=rosen_hess, hessp=rosen_hess_prod)


def test_bounds_and_constraints_name_the_methods_that_take_them():
    for method in ("trust-ncg", "trust-krylov", "newton-cg"):
        with pytest.raises(ValueError, match=f"'{method}' does not take `bounds`.*'trust-bounds'.*L-BFGS-B"):
            curvopt.minimize(rosen, X0, jac=rosen_der, method=method, bounds=[(0, 2)] * 4)
    for method in (None, "trust-bounds"):
        with pytest.raises(ValueError, match="does not take `constraints`.*SLSQP"):
            curvopt.minimize(rosen, X0, jac=rosen_der, method=method, bounds=[(0, 2)] * 4,
                             constraints=[{"type": "eq", "fun": lambda x: x[0]}])
    with pytest.raises(ValueError, match="does not take `constraints`.*SLSQP"):
        curvopt.minimize(rosen, X0, jac=rosen_der, constraints=[{"type": "eq", "fun": lambda x: x[0]}])


def test_default_method_with_bounds_matches_lbfgsb():
    # scipy's default with bounds is L-BFGS-B; curvopt's, given a gradient and no Hessian, is 'trust-lbfgs'
    # with bounds (the same projected-gradient stopping test); with exact products it is 'trust-bounds'.
    bounds = [(-2, 0.8)] * 4
    x0 = np.array([-1.2, 0.8, -1.2, 0.8])
    ours = curvopt.minimize(rosen, x0, jac=rosen_der, bounds=bounds)
    theirs = scipy.optimize.minimize(rosen, x0, jac=rosen_der, bounds=bounds)
    assert theirs.success and ours.success
    assert ours.pgnorm <= 1e-5  # L-BFGS-B's default pgtol
    assert ours.active_mask.tolist() == [1, 0, 0, 0] and theirs.x[0] == 0.8
    np.testing.assert_allclose(ours.x, theirs.x, atol=1e-5)
    assert ours.fun == pytest.approx(theirs.fun, rel=1e-6, abs=1e-10)
    explicit = curvopt.minimize(rosen, x0, jac=rosen_der, method="trust-lbfgs", bounds=bounds)
    np.testing.assert_array_equal(explicit.x, ours.x)
    with_hessp = curvopt.minimize(rosen, x0, jac=rosen_der, hessp=scipy.optimize.rosen_hess_prod, bounds=bounds)
    newton = curvopt.minimize(rosen, x0, jac=rosen_der, hessp=scipy.optimize.rosen_hess_prod, bounds=bounds,
                              method="trust-bounds")
    np.testing.assert_array_equal(with_hessp.x, newton.x)  # exact products: the Newton method


def test_update_strategy_hess_is_refused():
    with pytest.raises(ValueError, match="HessianUpdateStrategy"):
        curvopt.minimize(rosen, X0, jac=rosen_der, hess=scipy.optimize.BFGS())


def test_user_error_at_x0_is_the_users():
    def broken(x):
        raise ZeroDivisionError("model blew up")

    with pytest.raises(ZeroDivisionError, match="model blew up"):
        curvopt.minimize(broken, X0, jac=rosen_der)


# -- failures during the run -----------------------------------------------------------------


def walled(x):
    """Rosenbrock inside the ball ||x|| < 2.5, NaN outside."""
    return rosen(x) if np.linalg.norm(x) < 2.5 else np.nan


@pytest.mark.parametrize("method", sorted(METHODS))
def test_nan_at_trial_points_is_a_rejected_step(method):
    x0 = np.array([-1.2, 1.0])
    options = {"initial_trust_radius": 10.0} if method.startswith("trust") else None
    res = curvopt.minimize(walled, x0, jac=rosen_der, method=method, tol=1e-8, options=options)
    assert res.success
    np.testing.assert_allclose(res.x, 1.0, atol=1e-4)
    assert res.n_nonfinite >= 1


def test_exception_at_trial_point_is_a_rejected_step():
    def fragile(x):
        if np.linalg.norm(x) >= 2.5:
            raise RuntimeError("solver did not converge")
        return rosen(x)

    res = curvopt.minimize(fragile, np.array([-1.2, 1.0]), jac=rosen_der, options={"initial_trust_radius": 10.0})
    assert res.success and res.n_nonfinite >= 1


def test_gradient_failure_at_accepted_point_keeps_the_work():
    calls = {"n": 0}

    def flaky_jac(x):
        calls["n"] += 1
        if calls["n"] > 15:
            raise RuntimeError("cluster node died")
        return rosen_der(x)

    res = curvopt.minimize(rosen, X0, jac=flaky_jac, hessp=rosen_hess_prod)
    assert not res.success and res.status == curvopt.Status.ORACLE_ERROR
    assert isinstance(res.exception, RuntimeError)
    assert res.fun < rosen(X0) and res.fun == rosen(res.x)


def test_keyboard_interrupt_returns_best_point():
    calls = {"n": 0}

    def impatient(x):
        calls["n"] += 1
        if calls["n"] > 10:
            raise KeyboardInterrupt
        return rosen(x)

    res = curvopt.minimize(impatient, X0, jac=rosen_der)
    assert res.status == curvopt.Status.INTERRUPTED and not res.success
    assert res.fun < rosen(X0)


def test_no_warnings_on_a_clean_run():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curvopt.minimize(rosen, X0, jac=rosen_der)
