"""Faults in the user's oracle: failed trial points (option `max_failures`), failures at accepted
points, KeyboardInterrupt -- every one ends in an honest result holding the best point so far."""

import math

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der

import curvopt
from curvopt import Status
from curvopt._registry import METHODS

X0 = np.tile([-1.2, 1.0], 3)
TRUST_REGION_METHODS = sorted(m for m in METHODS if m != "newton-cg")  # newton-cg backtracks instead


class Iterates:
    """A callback keeping every iterate: the independent record of the best point so far."""

    def __init__(self, x0):
        self.xs = [np.array(x0, dtype=float)]

    def __call__(self, intermediate_result):
        self.xs.append(intermediate_result.x.copy())

    @property
    def last(self):
        return self.xs[-1]


def _only_at(x0, failure):
    """An objective defined at x0 alone: anywhere else it fails with `failure` ('nan', 'inf', 'raise')."""
    def fun(x):
        if np.array_equal(x, x0):
            return rosen(x)
        if failure == "raise":
            raise FloatingPointError("no value here")
        return math.nan if failure == "nan" else math.inf
    return fun


@pytest.mark.parametrize("method", TRUST_REGION_METHODS)
@pytest.mark.parametrize("max_failures", [0, 3, 10, 20])
@pytest.mark.parametrize("failure", ["nan", "inf", "raise"])
def test_the_run_stops_after_max_failures_consecutive_failed_trial_points(method, max_failures, failure):
    fun = _only_at(X0, failure)
    res = curvopt.minimize(fun, X0, jac=rosen_der, method=method, options={"max_failures": max_failures})
    assert res.n_nonfinite == max_failures + 1  # each rejected; the one over the limit ends the run
    expected = Status.ORACLE_ERROR if failure == "raise" else Status.NAN_RESULT
    assert res.status == expected and not res.success and res.message == expected.message
    np.testing.assert_array_equal(res.x, X0)  # the best (only) point, with its own value
    assert res.fun == rosen(X0)
    if failure == "raise":
        assert isinstance(res.exception, FloatingPointError) and "no value here" in str(res.exception)


@pytest.mark.parametrize("method", TRUST_REGION_METHODS)
def test_the_default_limit_is_ten(method):
    res = curvopt.minimize(_only_at(X0, "nan"), X0, jac=rosen_der, method=method)
    assert res.status == Status.NAN_RESULT and res.n_nonfinite == 11


@pytest.mark.parametrize("method", TRUST_REGION_METHODS)
@pytest.mark.parametrize("failure", ["nan", "raise"])
def test_failed_trial_points_shrink_the_radius_and_the_run_still_converges(method, failure):
    def fun(x):
        if np.max(x) > 1.03:  # outside the model's domain, near the minimizer (1, ..., 1)
            if failure == "raise":
                raise ArithmeticError("outside the domain")
            return math.nan
        return rosen(x)

    res = curvopt.minimize(fun, X0, jac=rosen_der, method=method)
    assert res.success and res.n_nonfinite > 0
    np.testing.assert_allclose(res.x, np.ones(6), atol=1e-3)  # the known minimizer
    assert res.fun == rosen(res.x)
    assert "exception" not in res  # the failures were recovered from


@pytest.mark.parametrize("value", [-1, 2.5, True, "3", np.float64(3.0)])
def test_max_failures_must_be_a_nonnegative_integer(value):
    with pytest.raises(ValueError, match="option `max_failures` must be an integer >= 0"):
        curvopt.minimize(rosen, X0, jac=rosen_der, options={"max_failures": value})


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_gradient_that_breaks_for_good_ends_the_run_at_the_best_point(method):
    calls = {"n": 0}

    def jac(x):
        calls["n"] += 1
        if calls["n"] > 25:
            raise ConnectionError("gradient server down")
        return rosen_der(x)

    iterates = Iterates(X0)
    res = curvopt.minimize(rosen, X0, jac=jac, method=method, callback=iterates)
    assert res.status == Status.ORACLE_ERROR and not res.success
    assert isinstance(res.exception, ConnectionError)
    # wherever it broke (a trial point, a product, an accepted point) the result is the last
    # accepted iterate, with its own value and gradient
    np.testing.assert_array_equal(res.x, iterates.last)
    assert res.fun == rosen(res.x) < rosen(X0)
    np.testing.assert_array_equal(res.jac, rosen_der(res.x))


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("where", ["fun", "jac"])
def test_keyboard_interrupt_in_the_oracle_returns_the_best_point(method, where):
    calls = {"n": 0}

    def interrupting(function):
        def wrapped(x):
            calls["n"] += 1
            if calls["n"] == 30:
                raise KeyboardInterrupt
            return function(x)
        return wrapped

    fun, jac = (interrupting(rosen), rosen_der) if where == "fun" else (rosen, interrupting(rosen_der))
    iterates = Iterates(X0)
    res = curvopt.minimize(fun, X0, jac=jac, method=method, callback=iterates)
    assert res.status == Status.INTERRUPTED and not res.success
    assert res.message == Status.INTERRUPTED.message
    np.testing.assert_array_equal(res.x, iterates.last)
    assert res.fun == rosen(res.x) and res.fun <= rosen(X0)


def test_a_failure_at_x0_is_the_users_own_error():
    def fun(x):
        raise ZeroDivisionError("at the start")

    with pytest.raises(ZeroDivisionError, match="at the start"):
        curvopt.minimize(fun, X0, jac=rosen_der)
    with pytest.raises(ValueError, match="finite scalar at x0"):
        curvopt.minimize(lambda x: math.nan, X0, jac=rosen_der)
    with pytest.raises(ValueError, match="non-finite gradient at x0"):
        curvopt.minimize(rosen, X0, jac=lambda x: np.full(6, np.inf))


@pytest.mark.parametrize("bad, message", [
    (lambda x: None, "`fun` must return a real scalar; got NoneType"),
    (lambda x: "1.0e3", "`fun` must return a real scalar; got str"),
    (lambda x: 1.0 + 2.0j, "`fun` must return a real scalar; got complex"),
    (lambda x: np.ones(2), "`fun` must return a scalar; got an array of shape"),
])
def test_malformed_values_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        curvopt.minimize(bad, X0, jac=rosen_der)


@pytest.mark.parametrize("bad, message", [
    (lambda x: None, "`jac` must return an array of real numbers; got NoneType"),
    (lambda x: rosen_der(x) + 0j, "`jac` must return an array of real numbers"),
    (lambda x: rosen_der(x)[:-1], r"`jac` must return an array of shape \(6,\)"),
])
def test_malformed_gradients_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        curvopt.minimize(rosen, X0, jac=bad)


def test_a_malformed_gradient_later_in_the_run_is_named_too():
    def jac(x):
        return rosen_der(x) if np.array_equal(x, X0) else rosen_der(x)[:3]

    with pytest.raises(ValueError, match=r"`jac` must return an array of shape \(6,\), like x0; got shape \(3,\)"):
        curvopt.minimize(rosen, X0, jac=jac)
