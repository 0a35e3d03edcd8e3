"""Tests of the Taylor-remainder derivative checks `check_grad` and `check_hvp`."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curvopt.testing import TaylorCheck, check_grad, check_hvp
from curvopt.testing.derivatives import DEFAULT_STEPS


def quartic(x, scale=1.0):
    return scale * (np.sum(x ** 4) + x[0] * x[1] + np.sum(np.sin(x)))


def quartic_grad(x, scale=1.0):
    g = 4.0 * x ** 3 + np.cos(x)
    g[0] += x[1]
    g[1] += x[0]
    return scale * g


def quartic_hessp(x, p, scale=1.0):
    hp = (12.0 * x ** 2 - np.sin(x)) * p
    hp[0] += p[1]
    hp[1] += p[0]
    return scale * hp


X = np.array([0.3, -1.2, 2.0, 0.7])


def test_exact_gradient_passes_with_slope_two():
    result = check_grad(quartic, quartic_grad, X, rng=0)
    assert isinstance(result, TaylorCheck)
    assert result.passed and bool(result)
    assert result.slope == pytest.approx(2.0, abs=0.05)
    assert result.steps.shape == result.remainders.shape == DEFAULT_STEPS.shape
    assert result.fitted.sum() >= 5
    assert np.linalg.norm(result.direction) == pytest.approx(1.0)
    assert "consistent" in result.message


@pytest.mark.parametrize("factor", [1.01, 0.9, -1.0])
def test_scaled_gradient_fails_with_slope_one(factor):
    result = check_grad(quartic, lambda x: factor * quartic_grad(x), X, rng=0)
    assert not result.passed
    assert result.slope == pytest.approx(1.0, abs=0.1)
    assert "NOT consistent" in result.message


def test_gradient_with_one_wrong_component_fails():
    def wrong(x):
        g = quartic_grad(x)
        g[2] += 1e-3
        return g

    assert not check_grad(quartic, wrong, X, rng=1).passed


def test_exact_hvp_passes_and_wrong_hvp_fails():
    good = check_hvp(quartic_grad, quartic_hessp, X, rng=0)
    assert good.passed
    assert good.slope == pytest.approx(2.0, abs=0.05)
    bad = check_hvp(quartic_grad, lambda x, p: 1.01 * quartic_hessp(x, p), X, rng=0)
    assert not bad.passed
    assert bad.slope == pytest.approx(1.0, abs=0.1)
    transposed_error = check_hvp(quartic_grad, lambda x, p: quartic_hessp(x, p) + 1e-3 * p[::-1], X, rng=0)
    assert not transposed_error.passed


def test_args_are_passed_through():
    assert check_grad(quartic, quartic_grad, X, args=(3.0,), rng=0).passed
    assert not check_grad(quartic, lambda x, s: quartic_grad(x), X, args=(3.0,), rng=0).passed
    assert check_hvp(quartic_grad, quartic_hessp, X, args=(3.0,), rng=0).passed


def test_given_direction_is_used_after_normalization():
    d = np.array([0.0, 0.0, 3.0, 4.0])
    result = check_grad(quartic, quartic_grad, X, direction=d)
    np.testing.assert_allclose(result.direction, d / 5.0)
    # an error in a component orthogonal to d is invisible along d
    def wrong_first(x):
        g = quartic_grad(x)
        g[0] += 1.0
        return g

    assert check_grad(quartic, wrong_first, X, direction=d).passed
    assert not check_grad(quartic, wrong_first, X, direction=[1.0, 0, 0, 0]).passed


def test_rng_makes_the_direction_reproducible():
    a = check_grad(quartic, quartic_grad, X, rng=42)
    b = check_grad(quartic, quartic_grad, X, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a.direction, b.direction)
    np.testing.assert_array_equal(a.remainders, b.remainders)


def test_degenerate_minimizer_gives_higher_slope_and_passes():
    # f = sum x^4 at 0: the remainder is t^4 along every direction
    result = check_grad(lambda x: np.sum(x ** 4), lambda x: 4 * x ** 3, np.zeros(3), rng=0)
    assert result.passed
    assert result.slope == pytest.approx(4.0, abs=0.1)


def test_linear_function_passes_at_round_off_level():
    b = np.array([1.0, -2.0, 0.5])
    result = check_grad(lambda x: b @ x, lambda x: b.copy(), np.ones(3), rng=0)
    assert result.passed
    assert np.isnan(result.slope)
    assert "round-off" in result.message


def test_quadratic_hvp_is_exact():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    result = check_hvp(lambda x: a @ x, lambda x, p: a @ p, np.array([1.0, -1.0]), rng=0)
    assert result.passed


def test_badly_scaled_point_and_large_values():
    x = np.array([1e6, 2e-6])

    def f(z):
        return (z[0] - 1e6) ** 2 + (z[1] - 2e-6) ** 2 + (z[0] * z[1] - 2.0) ** 2 + 1e12

    def g(z):
        r3 = z[0] * z[1] - 2.0
        return np.array([2 * (z[0] - 1e6) + 2 * r3 * z[1], 2 * (z[1] - 2e-6) + 2 * r3 * z[0]])

    x = x + np.array([3.0, 1e-3])
    assert check_grad(f, g, x, rng=0).passed
    assert not check_grad(f, lambda z: 1.01 * g(z), x, rng=0).passed


def test_default_grid_is_extended_when_curvature_is_small_against_the_value():
    def f(x):
        return 1e14 + 0.01 * np.sum(x ** 2)

    def g(x):
        return 0.02 * x

    result = check_grad(f, g, np.ones(3), rng=0)
    assert result.steps.size > DEFAULT_STEPS.size and result.steps[-1] > 1.0
    assert result.passed
    assert result.slope == pytest.approx(2.0, abs=0.1)
    assert not check_grad(f, lambda x: 0.02 * x + 1.0, np.ones(3), rng=0).passed


def test_custom_steps():
    steps = np.logspace(-6, -1, 11)
    result = check_grad(quartic, quartic_grad, X, rng=0, steps=steps)
    np.testing.assert_array_equal(result.steps, steps)
    assert result.passed
    with pytest.raises(ValueError, match="steps"):
        check_grad(quartic, quartic_grad, X, steps=[1e-3])


def test_wrong_gradient_shape_names_jac():
    with pytest.raises(ValueError, match=r"jac must return an array of shape \(4,\)"):
        check_grad(quartic, lambda x: quartic_grad(x)[:3], X)
    with pytest.raises(ValueError, match="jac"):
        check_grad(quartic, lambda x: quartic_grad(x)[:, None], X)
    with pytest.raises(ValueError, match="jac"):
        check_hvp(lambda x: quartic_grad(x)[:2], quartic_hessp, X)


def test_wrong_hvp_shape_names_hessp():
    with pytest.raises(ValueError, match="hessp must return"):
        check_hvp(quartic_grad, lambda x, p: np.outer(p, p), X)


def test_non_scalar_objective_names_fun():
    with pytest.raises(ValueError, match="fun must return a scalar"):
        check_grad(lambda x: x, quartic_grad, X)


def test_invalid_direction_and_point():
    with pytest.raises(ValueError, match="direction"):
        check_grad(quartic, quartic_grad, X, direction=np.zeros(4))
    with pytest.raises(ValueError, match="direction"):
        check_grad(quartic, quartic_grad, X, direction=np.ones(3))
    with pytest.raises(ValueError, match="1-D"):
        check_grad(quartic, quartic_grad, np.ones((2, 2)))


def test_non_finite_values_are_ignored():
    # f overflows for the largest steps: those remainders are NaN and left out of the fit
    def f(x):
        return float(np.sum(np.exp(60.0 * x)))

    def g(x):
        return 60.0 * np.exp(60.0 * x)

    x = np.array([11.5, 11.5])
    result = check_grad(f, g, x, direction=[1.0, 1.0])
    assert np.isnan(result.remainders[-1])
    assert not result.fitted[-1]
    assert result.passed


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 12), seed=st.integers(0, 2**32 - 1), log_scale=st.floats(-3.0, 3.0))
def test_random_cubic_models(n, seed, log_scale):
    """Exact derivatives of random cubics pass; a 2% error in the gradient or HVP fails."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    a = a + a.T
    c = rng.standard_normal(n)
    b = rng.standard_normal(n)
    scale = 10.0 ** log_scale

    def f(x):
        return scale * (0.5 * x @ a @ x + b @ x + np.sum(c * x ** 3))

    def g(x):
        return scale * (a @ x + b + 3.0 * c * x ** 2)

    def hp(x, p):
        return scale * (a @ p + 6.0 * c * x * p)

    x = rng.standard_normal(n)
    assert check_grad(f, g, x, rng=seed).passed
    assert check_hvp(g, hp, x, rng=seed).passed
    d = rng.standard_normal(n)
    if abs(g(x) @ d) > 1e-3 * scale * np.linalg.norm(d):
        assert not check_grad(f, lambda z: 1.02 * g(z), x, direction=d).passed
    if np.linalg.norm(hp(x, d)) > 1e-3 * scale * np.linalg.norm(d):
        assert not check_hvp(g, lambda z, p: 1.02 * hp(z, p), x, direction=d).passed


def test_no_plotting_library_is_imported():
    code = ("import sys, curvopt.testing.derivatives; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
