"""Taylor-remainder checks of a gradient and of a Hessian-vector product.

If ``g`` is the gradient of ``f`` then along a direction ``d`` the remainder
``|f(x + t d) - f(x) - t g(x)'d|`` is ``O(t^2)``; if ``g`` is wrong it is only
``O(t)``.  Likewise ``||g(x + t d) - g(x) - t H(x) d||`` is ``O(t^2)`` exactly
when ``H(x) d`` is the derivative of the gradient along ``d``.  `check_grad`
and `check_hvp` evaluate the remainder on a logarithmic grid of steps and fit
its slope in a log-log plot over the smallest steps at which it stands clear
of round-off; the check passes when the slope is at least ``2 - slope_tol``.
(A slope above 2 is also correct: it means the second-order term vanishes
along ``d``, e.g. at a degenerate minimizer.)

The result carries the steps and remainders, so it can be plotted by the
caller; this module imports no plotting library.

References
----------
.. [1] N. Boumal, An Introduction to Optimization on Smooth Manifolds,
   Cambridge University Press, 2023 (numerical check of a gradient by the
   Taylor remainder).
.. [2] J. Townsend, N. Koep and S. Weichwald, "Pymanopt: a Python toolbox for
   optimization on manifolds using automatic differentiation", JMLR
   17(137):1-5, 2016 (``check_gradient``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TaylorCheck", "check_grad", "check_hvp", "DEFAULT_STEPS"]

#: Default steps: 33 points, 4 per decade, from 1e-8 to 1.
DEFAULT_STEPS = np.logspace(-8.0, 0.0, 33)

#: Steps added to the default grid when too few default steps stand above
#: round-off (functions whose curvature is small against their value).
EXTRA_STEPS = np.logspace(0.25, 4.0, 16)

#: Steps at which the Taylor remainder is below round-off for any smooth
#: function of moderate scale; the remainders there estimate the noise floor.
_NOISE_STEPS = (1e-14, 1e-13, 1e-12, 1e-11, 1e-10)

#: Multiple of the machine epsilon times the magnitude of the terms of a
#: remainder, used as a lower bound of its round-off at each step.
_ROUNDING_FACTOR = 2.0

#: A remainder counts as signal when it exceeds this multiple of the noise floor.
_SIGNAL_FACTOR = 100.0

#: Number of consecutive signal points used in the slope fit (two decades on the
#: default grid), and the fewest for a slope verdict (one decade).
_FIT_POINTS = 9
_MIN_FIT_POINTS = 5

#: With fewer than `_MIN_FIT_POINTS` signal points, accept when the first-order
#: term can be wrong by at most this fraction of itself.
_INCONCLUSIVE_RTOL = 1e-6


@dataclass(frozen=True)
class TaylorCheck:
    """Outcome of `check_grad` or `check_hvp`.

    Attributes
    ----------
    passed : bool
        True when `slope` >= ``2 - slope_tol``; or when every remainder is at
        round-off level (the first-order model is exact within round-off along
        the direction); or, when fewer than five steps stand above round-off
        (too few for a slope), when the first-order term can be wrong by at
        most 1e-6 of itself.
    slope : float
        Least-squares slope of ``log(remainder)`` against ``log(step)`` over the
        fitted points; NaN when fewer than two points stand above round-off.
    steps : ndarray
        The steps ``t`` (the default grid may have been extended, see `check_grad`).
    remainders : ndarray
        The Taylor remainders at `steps` (NaN where an evaluation was not finite).
    fitted : ndarray of bool
        Which steps entered the fit.
    noise : ndarray
        Estimated round-off level of the remainder at each step.
    direction : ndarray
        The direction ``d`` used.
    message : str
        One-line explanation.
    """

    passed: bool
    slope: float
    steps: np.ndarray
    remainders: np.ndarray
    fitted: np.ndarray
    noise: np.ndarray
    direction: np.ndarray
    message: str

    def __bool__(self):
        return bool(self.passed)


def _prepare(x, direction, rng):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be a 1-D array, got shape {x.shape}")
    if direction is None:
        rng = np.random.default_rng(rng)
        direction = rng.standard_normal(x.size)
    direction = np.asarray(direction, dtype=np.float64)
    if direction.shape != x.shape:
        raise ValueError(f"direction has shape {direction.shape}, expected {x.shape}")
    norm = np.linalg.norm(direction)
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("direction must be finite and nonzero")
    return x, direction / norm


def _call_scalar(fun, z, args):
    value = np.asarray(fun(z, *args))
    if value.size != 1:
        raise ValueError(f"fun must return a scalar, got an array of shape {value.shape}")
    return float(value.reshape(()))


def _call_vector(func, name, z, args, n, *extra):
    value = np.asarray(func(z, *extra, *args), dtype=np.float64)
    if value.shape != (n,):
        raise ValueError(f"{name} must return an array of shape ({n},) for x of shape ({n},), "
                         f"got shape {value.shape}")
    return value


def _fit(steps, remainders, noise, first_order, slope_tol):
    """Slope test on the remainders; see `check_grad` for the rules."""
    expected = 2.0
    with np.errstate(invalid="ignore"):
        signal = np.isfinite(remainders) & (remainders > _SIGNAL_FACTOR * noise)
    fitted = np.zeros(steps.shape, dtype=bool)
    if not signal.any():
        return True, float("nan"), fitted, "the remainder is at round-off level at every step"
    first = int(np.argmax(signal))
    stop = first
    while stop < steps.size and signal[stop] and stop - first < _FIT_POINTS:
        stop += 1
    fitted[first:stop] = True
    count = stop - first
    slope = float("nan")
    if count >= 2:
        slope = float(np.polyfit(np.log10(steps[fitted]), np.log10(remainders[fitted]), 1)[0])
    span = f"t in [{steps[first]:.1e}, {steps[stop - 1]:.1e}]"
    if count >= _MIN_FIT_POINTS:
        passed = slope >= expected - slope_tol
        verdict = "consistent" if passed else "NOT consistent"
        return passed, slope, fitted, (f"remainder slope {slope:.3f} over {span}: {verdict} with exact "
                                       f"derivatives (expected >= {expected - slope_tol:.2f})")
    # Too few steps above round-off for a reliable slope (they sit at the largest
    # steps, where higher-order terms blur it).  An error in the first-order term
    # would add |error| * t to the remainder, so |error| <= min e(t)/t over the
    # signal steps; accept when that bound is negligible against the term itself.
    bound = float(np.min(remainders[fitted] / steps[fitted]))
    relative = bound / first_order if first_order > 0 else np.inf
    passed = (count >= 2 and slope >= expected - slope_tol) or relative <= _INCONCLUSIVE_RTOL
    verdict = "consistent" if passed else "NOT consistent"
    return passed, slope, fitted, (
        f"only {count} step(s) with a remainder above round-off ({span}, slope {slope:.3f}); any error "
        f"in the first-order term is below {relative:.1e} of it: {verdict} with exact derivatives")


def _steps_and_noise_steps(steps):
    """The step grid and whether it may be extended (only the default grid is)."""
    if steps is None:
        return DEFAULT_STEPS.copy(), True
    steps = np.sort(np.asarray(steps, dtype=np.float64))
    if steps.ndim != 1 or steps.size < 2 or not np.all(steps > 0):
        raise ValueError("steps must be a 1-D array of at least two positive numbers")
    return steps, False


def _evaluate_and_fit(remainder, steps, extend, first_order, slope_tol):
    """Remainders on the grid (extended by `EXTRA_STEPS` if needed), noise levels and the fit."""
    floor = max([e for e, _ in map(remainder, _NOISE_STEPS) if np.isfinite(e)] + [0.0])

    def evaluate(grid):
        pairs = [remainder(t) for t in grid]
        values = np.array([e for e, _ in pairs])
        noise = np.maximum(floor, np.array([r for _, r in pairs]))
        return values, noise

    remainders, noise = evaluate(steps)
    outcome = _fit(steps, remainders, noise, first_order, slope_tol)
    if extend and np.count_nonzero(outcome[2]) < _MIN_FIT_POINTS:
        extra_remainders, extra_noise = evaluate(EXTRA_STEPS)
        steps = np.concatenate([steps, EXTRA_STEPS])
        remainders = np.concatenate([remainders, extra_remainders])
        noise = np.concatenate([noise, extra_noise])
        outcome = _fit(steps, remainders, noise, first_order, slope_tol)
    return steps, remainders, noise, outcome


def check_grad(fun, jac, x, *, args=(), direction=None, rng=None, steps=None, slope_tol=0.2):
    """Check a gradient by the decay of the first-order Taylor remainder.

    Computes ``e(t) = |f(x + s) - f(x) - g(x)'s|`` with ``s = (x + t d) - x``
    (the step actually representable at `x`) for each step ``t``, and fits the
    slope of ``log e`` against ``log t`` over up to two decades of the smallest
    steps at which ``e`` exceeds 100 times its round-off level.  The round-off
    level at a step is the larger of ``2 eps (|f(x+s)| + |f(x)| + |g's|)`` and
    the largest remainder at steps 1e-14 to 1e-10, where any Taylor remainder
    of a moderately scaled function is below round-off.  With an exact
    gradient the slope is 2 (or more); a wrong gradient gives slope 1.  When
    fewer than five steps stand above round-off (a function whose curvature is
    tiny against its value), the slope is not trusted and the check passes if
    the remainders bound the error of ``g'd`` below 1e-6 of ``|g'd|``.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float``.
    jac : callable
        ``jac(x, *args) -> ndarray`` of shape ``(n,)``.
    x : array_like, shape (n,)
        Point at which to check.
    args : tuple, optional
        Extra arguments passed to `fun` and `jac`.
    direction : array_like, shape (n,), optional
        Direction ``d`` (normalized to unit length).  Default: random normal.
    rng : int or numpy.random.Generator, optional
        Seed or generator for the default direction.
    steps : array_like, optional
        Steps ``t``.  Default: `DEFAULT_STEPS` (1e-8 to 1, 4 per decade),
        extended by `EXTRA_STEPS` (up to 1e4) when fewer than five of them stand
        above round-off.
    slope_tol : float, default 0.2
        The check passes when the slope is at least ``2 - slope_tol``.

    Returns
    -------
    TaylorCheck

    Raises
    ------
    ValueError
        If `jac` does not return an array of shape ``(n,)``, or `fun` is not
        scalar.

    References
    ----------
    .. [1] N. Boumal, An Introduction to Optimization on Smooth Manifolds,
       Cambridge University Press, 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from curvopt.testing import check_grad
    >>> result = check_grad(lambda x: np.sum(x**4), lambda x: 4 * x**3, np.ones(3), rng=0)
    >>> result.passed
    True
    """
    x, d = _prepare(x, direction, rng)
    steps, extend = _steps_and_noise_steps(steps)
    f0 = _call_scalar(fun, x, args)
    g0 = _call_vector(jac, "jac", x, args, x.size)
    eps = np.finfo(np.float64).eps

    def remainder(t):
        """Remainder at step t and its round-off scale."""
        s = (x + t * d) - x
        with np.errstate(all="ignore"):
            f1 = _call_scalar(fun, x + s, args)
            linear = float(np.dot(g0, s))
            value = abs(f1 - f0 - linear)
        if not np.isfinite(value):
            return np.nan, np.inf
        return value, _ROUNDING_FACTOR * eps * (abs(f1) + abs(f0) + abs(linear))

    first_order = abs(float(np.dot(g0, d)))
    steps, remainders, noise, (passed, slope, fitted, message) = _evaluate_and_fit(
        remainder, steps, extend, first_order, slope_tol)
    return TaylorCheck(passed=passed, slope=slope, steps=steps, remainders=remainders, fitted=fitted,
                       noise=noise, direction=d, message="check_grad: " + message)


def check_hvp(jac, hessp, x, *, args=(), direction=None, rng=None, steps=None, slope_tol=0.2):
    """Check a Hessian-vector product by the decay of the gradient's Taylor remainder.

    Computes ``e(t) = ||g(x + s) - g(x) - H(x) s||`` with ``s = (x + t d) - x``
    and ``H(x) s = hessp(x, s)``, and fits its log-log slope as `check_grad`
    does.  An exact Hessian-vector product gives slope 2 (or more); a wrong one
    gives slope 1.

    Parameters
    ----------
    jac : callable
        ``jac(x, *args) -> ndarray`` of shape ``(n,)``, the gradient (assumed correct).
    hessp : callable
        ``hessp(x, p, *args) -> ndarray`` of shape ``(n,)``.
    x : array_like, shape (n,)
    args : tuple, optional
        Extra arguments passed to `jac` and `hessp` (after ``p``).
    direction, rng, steps, slope_tol
        As for `check_grad`.

    Returns
    -------
    TaylorCheck

    Raises
    ------
    ValueError
        If `jac` or `hessp` does not return an array of shape ``(n,)``.

    References
    ----------
    .. [1] N. Boumal, An Introduction to Optimization on Smooth Manifolds,
       Cambridge University Press, 2023 (the same test applied to the
       gradient map).

    Examples
    --------
    >>> import numpy as np
    >>> from curvopt.testing import check_hvp
    >>> check_hvp(lambda x: 4 * x**3, lambda x, p: 12 * x**2 * p, np.ones(3), rng=0).passed
    True
    """
    x, d = _prepare(x, direction, rng)
    steps, extend = _steps_and_noise_steps(steps)
    n = x.size
    g0 = _call_vector(jac, "jac", x, args, n)
    hd = _call_vector(hessp, "hessp", x, args, n, d)
    eps = np.finfo(np.float64).eps

    def remainder(t):
        """Remainder at step t and its round-off scale."""
        s = (x + t * d) - x
        with np.errstate(all="ignore"):
            g1 = _call_vector(jac, "jac", x + s, args, n)
            hs = _call_vector(hessp, "hessp", x, args, n, s)
            value = float(np.linalg.norm(g1 - g0 - hs))
            scale = float(np.linalg.norm(g1) + np.linalg.norm(g0) + np.linalg.norm(hs))
        if not np.isfinite(value):
            return np.nan, np.inf
        return value, _ROUNDING_FACTOR * eps * scale

    first_order = float(np.linalg.norm(hd))
    steps, remainders, noise, (passed, slope, fitted, message) = _evaluate_and_fit(
        remainder, steps, extend, first_order, slope_tol)
    return TaylorCheck(passed=passed, slope=slope, steps=steps, remainders=remainders, fitted=fitted,
                       noise=noise, direction=d, message="check_hvp: " + message)
