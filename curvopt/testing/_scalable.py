"""Test problems of free dimension n (MGH problems 20-32, chained Rosenbrock, quadratics).

Each builder returns a `Problem` named ``"<base>_<n>"``.  Nothing is built at
import; arrays of size n are made only when a problem is built, and the
hand-written derivatives are O(n) so that n = 1e5 is quick.

References
----------
.. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
   optimization software", ACM Trans. Math. Software 7(1):17-41, 1981.
.. [2] Y.-W. Shang and Y.-H. Qiu, "A note on the extended Rosenbrock function",
   Evolutionary Computation 14(1):119-126, 2006.
.. [3] S. Kok and C. Sandrock, "Locating and characterizing the stationary points
   of the extended Rosenbrock function", Evolutionary Computation
   17(3):437-453, 2009.
"""

from __future__ import annotations

import functools
import math
import operator

import numpy as np

from . import _fast
from ._build import build_problem, mgh_reference


class _LazyResiduals:
    """Access to `_mgh_residuals` that imports it (and autograd) on first use."""

    def __getattr__(self, name):
        from . import _mgh_residuals

        return getattr(_mgh_residuals, name)


res = _LazyResiduals()


def _check_n(n, *, minimum=1, multiple=1, name="n"):
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {n!r}") from None
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    if n % multiple:
        raise ValueError(f"{name} must be a multiple of {multiple}, got {n}")
    return n


def _dense_from_hessp(hessp):
    """Dense Hessian assembled column by column from an exact Hessian-vector product."""

    def hess(x):
        x = np.asarray(x, dtype=np.float64)
        eye = np.eye(x.size)
        return np.column_stack([hessp(x, eye[:, j]) for j in range(x.size)])

    return hess


def _rosenbrock_start(n):
    x0 = np.ones(n)
    x0[0::2] = -1.2
    return x0


# ------------------------------------------------------------- chained Rosenbrock
#: Local-minimum values of the chained Rosenbrock function near (-1, 1, ..., 1),
#: which exists for n >= 4 [3]_.  Computed once with scipy (trust-exact from
#: (-1, 1, ..., 1) with gtol 1e-14, then three Newton steps; gradient < 1e-13).
#: From n = 28 on the value no longer changes in double precision.
CHAINED_ROSENBROCK_LOCAL = {
    4: 3.701428610430018, 5: 3.930839434133028, 6: 3.973940500930295,
    7: 3.983600536424854, 8: 3.9858877695994903, 9: 3.9864428232478137,
    10: 3.9865791123471386, 11: 3.986612769450977, 12: 3.986621104720593,
    13: 3.9866231718644927, 14: 3.9866236848722387, 15: 3.986623812230602,
    16: 3.986623843853806, 17: 3.9866238517065526, 18: 3.986623853656648,
    19: 3.9866238541409307, 20: 3.986623854261198, 21: 3.9866238542910666,
    22: 3.986623854298483, 23: 3.986623854300326, 24: 3.9866238543007824,
    25: 3.986623854300897, 26: 3.986623854300925, 27: 3.986623854300932,
}
CHAINED_ROSENBROCK_LOCAL_LIMIT = 3.986623854300934


def chained_rosenbrock_local_minimum(n):
    """Value of the non-global local minimum of the chained Rosenbrock function (None for n < 4)."""
    if n < 4:
        return None
    return CHAINED_ROSENBROCK_LOCAL.get(n, CHAINED_ROSENBROCK_LOCAL_LIMIT)


def chained_rosenbrock(n):
    """Chained Rosenbrock function, as `scipy.optimize.rosen`.

    ``f(x) = sum_{i=1}^{n-1} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2``, started at
    ``(-1.2, 1, -1.2, 1, ...)``; global minimum 0 at ``(1, ..., 1)``.  For
    ``n >= 4`` there is also a local minimum near ``(-1, 1, ..., 1)`` with
    ``f ~ 3.70`` (n = 4) to ``3.98662`` (n >= 28), listed in `f_local`.

    Parameters
    ----------
    n : int
        Dimension, ``n >= 2``.  Vectorised O(n) derivatives; no dense Hessian
        above n = 2000.

    Returns
    -------
    Problem

    References
    ----------
    .. [1] H. H. Rosenbrock, "An automatic method for finding the greatest or least
       value of a function", The Computer Journal 3(3):175-184, 1960.
    .. [2] S. Kok and C. Sandrock, "Locating and characterizing the stationary
       points of the extended Rosenbrock function", Evolutionary Computation
       17(3):437-453, 2009.
    """
    n = _check_n(n, minimum=2)
    from . import _numba_kernels as nk

    local = chained_rosenbrock_local_minimum(n)
    return build_problem(
        name=f"chained_rosenbrock_{n}", x0=_rosenbrock_start(n), residual=res.chained_rosenbrock,
        fast={"fun": _fast.chained_rosenbrock_fun, "jac": _fast.chained_rosenbrock_jac,
              "hessp": _fast.chained_rosenbrock_hessp, "hess": _fast.chained_rosenbrock_hess},
        numba=(nk.chained_rosenbrock_fun, nk.chained_rosenbrock_jac, nk.chained_rosenbrock_hessp),
        f_min=0.0, x_min=np.ones(n), f_local=() if local is None else (local,),
        reference="scipy.optimize.rosen; Rosenbrock 1960; local minima: Kok & Sandrock 2009",
        tags={"scalable", "zero-residual", "rosenbrock"})


def extended_rosenbrock(n):
    """Extended Rosenbrock function (MGH 21): n/2 independent Rosenbrock pairs.

    ``f(x) = sum_{i=1}^{n/2} 100 (x_{2i} - x_{2i-1}^2)^2 + (1 - x_{2i-1})^2``,
    x0 = ``(-1.2, 1, ...)``, minimum 0 at ``(1, ..., 1)``.

    Parameters
    ----------
    n : int
        Even dimension.

    References
    ----------
    .. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
       optimization software", ACM TOMS 7(1):17-41, 1981, problem 21.
    """
    n = _check_n(n, minimum=2, multiple=2)
    from . import _numba_kernels as nk

    return build_problem(
        name=f"extended_rosenbrock_{n}", x0=_rosenbrock_start(n), residual=res.extended_rosenbrock,
        fast={"fun": _fast.extended_rosenbrock_fun, "jac": _fast.extended_rosenbrock_jac,
              "hessp": _fast.extended_rosenbrock_hessp, "hess": _fast.extended_rosenbrock_hess},
        numba=(nk.extended_rosenbrock_fun, nk.extended_rosenbrock_jac, nk.extended_rosenbrock_hessp),
        f_min=0.0, x_min=np.ones(n), reference=mgh_reference(21),
        tags={"mgh", "scalable", "zero-residual", "rosenbrock"})


def extended_powell(n):
    """Extended Powell singular function (MGH 22): n/4 independent Powell blocks.

    Block ``(a, b, c, d)`` contributes ``(a + 10 b)^2 + 5 (c - d)^2 + (b - 2c)^4 +
    10 (a - d)^4``; x0 = ``(3, -1, 0, 1, ...)``; minimum 0 at the origin, where
    the Hessian is singular (so convergence is only linear).

    Parameters
    ----------
    n : int
        Dimension, a multiple of 4.

    References
    ----------
    .. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
       optimization software", ACM TOMS 7(1):17-41, 1981, problem 22.
    """
    n = _check_n(n, minimum=4, multiple=4)
    from . import _numba_kernels as nk

    return build_problem(
        name=f"extended_powell_{n}", x0=np.tile([3.0, -1.0, 0.0, 1.0], n // 4),
        residual=res.extended_powell,
        fast={"fun": _fast.extended_powell_fun, "jac": _fast.extended_powell_jac,
              "hessp": _fast.extended_powell_hessp, "hess": _fast.extended_powell_hess},
        numba=(nk.extended_powell_fun, nk.extended_powell_jac, nk.extended_powell_hessp),
        f_min=0.0, x_min=np.zeros(n), reference=mgh_reference(22),
        tags={"mgh", "scalable", "zero-residual", "singular-hessian"})


@functools.lru_cache(maxsize=None)
def _quadratic_numba_kernels(cond):
    from . import _numba_kernels as nk

    return nk.make_quadratic_kernels(cond)


def ill_conditioned_quadratic(n, cond=1e6):
    """Diagonal convex quadratic with condition number `cond`.

    ``f(x) = 0.5 (x - 1)' A (x - 1)`` with ``A = diag(logspace(0, log10(cond), n))``
    (eigenvalues geometrically spaced from 1 to `cond`), started at ``x0 = 0``.
    The minimizer is ``(1, ..., 1)`` with ``f_min = 0``.  (This is
    ``0.5 x'Ax - b'x + c`` with ``b = A 1`` and ``c = 0.5 * sum(diag(A))``, written
    around the minimizer so that f has no cancellation near it.)

    Parameters
    ----------
    n : int
        Dimension.
    cond : float, default 1e6
        Condition number of ``A`` (>= 1).

    References
    ----------
    .. [1] J. Nocedal and S. J. Wright, Numerical Optimization, 2nd ed.,
       Springer, 2006, section 5.1 (conjugate gradients on quadratics).
    """
    n = _check_n(n, minimum=1)
    cond = float(cond)
    if not (cond >= 1.0 and math.isfinite(cond)):
        raise ValueError(f"cond must be a finite number >= 1, got {cond!r}")
    diagonal = _fast.quadratic_diagonal(n, cond)
    quadratic = _fast.DiagonalQuadratic(diagonal)

    def objective(x):
        e = x - 1.0
        return 0.5 * (diagonal * e) @ e

    name = f"ill_conditioned_quadratic_{n}" + ("" if cond == 1e6 else f"_cond{cond:g}")
    return build_problem(
        name=name, x0=np.zeros(n), objective=objective,
        fast={"fun": quadratic.fun, "jac": quadratic.jac, "hessp": quadratic.hessp,
              "hess": quadratic.hess},
        numba=_quadratic_numba_kernels(cond),
        f_min=0.0, x_min=np.ones(n), reference="diagonal quadratic, eigenvalues logspace(0, log10(cond), n)",
        tags={"scalable", "quadratic", "ill-conditioned", "zero-residual"},
        notes=f"condition number {cond:g}")


#: Values of a local minimum of the Broyden tridiagonal function (positive
#: definite Hessian), not reported by MGH.  Found here: scipy's L-BFGS-B
#: (ftol 1e-15, gtol 1e-10, maxcor 20) started at x0 for n = 1000 ends in it;
#: it is localized at the end x_n and exists for every n >= 2.  Values computed
#: once with scipy (trust-exact from that minimizer's profile, gtol 1e-13, then
#: three Newton steps; gradient < 2e-14).  From n = 24 on the value no longer
#: changes in double precision.
BROYDEN_TRIDIAGONAL_LOCAL = {
    2: 0.6287664480758848, 3: 0.9229865927291503, 4: 0.778546443943378,
    5: 0.7265969764771318, 6: 0.7152362069150431, 7: 0.7130327210944296,
    8: 0.7126209392903667, 9: 0.7125449823698604, 10: 0.7125310379651943,
    11: 0.712528482498657, 12: 0.7125280144839973, 13: 0.7125279287909865,
    14: 0.7125279131020534, 15: 0.7125279102297686, 16: 0.7125279097039257,
    17: 0.7125279096076562, 18: 0.7125279095900326, 19: 0.7125279095868061,
    20: 0.7125279095862154, 21: 0.7125279095861075, 22: 0.712527909586087,
    23: 0.7125279095860837,
}
BROYDEN_TRIDIAGONAL_LOCAL_LIMIT = 0.7125279095860828


def broyden_tridiagonal(n):
    """Broyden tridiagonal function (MGH 30): ``r_i = (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1``.

    x0 = ``(-1, ..., -1)``, minimum 0 (minimizer not in closed form).  For
    every ``n >= 2`` there is also a local minimum (``f = 0.71252790958608``
    for ``n >= 24``), listed in `f_local`; L-BFGS-B from x0 ends there for
    n = 1000.

    References
    ----------
    .. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
       optimization software", ACM TOMS 7(1):17-41, 1981, problem 30.
    """
    n = _check_n(n, minimum=1)
    from . import _numba_kernels as nk

    return build_problem(
        name=f"broyden_tridiagonal_{n}", x0=-np.ones(n), residual=res.broyden_tridiagonal,
        fast={"fun": _fast.broyden_tridiagonal_fun, "jac": _fast.broyden_tridiagonal_jac,
              "hessp": _fast.broyden_tridiagonal_hessp, "hess": _fast.broyden_tridiagonal_hess},
        numba=(nk.broyden_tridiagonal_fun, nk.broyden_tridiagonal_jac, nk.broyden_tridiagonal_hessp),
        f_min=0.0, x_min=None,
        f_local=(BROYDEN_TRIDIAGONAL_LOCAL.get(n, BROYDEN_TRIDIAGONAL_LOCAL_LIMIT),) if n >= 2 else (),
        reference=mgh_reference(30), tags={"mgh", "scalable", "zero-residual"},
        notes="The local minimum in f_local was found for this package (not reported by MGH).")


def broyden_banded(n):
    """Broyden banded function (MGH 31), lower bandwidth 5, upper bandwidth 1.

    ``r_i = x_i (2 + 5 x_i^2) + 1 - sum_{j in J_i} x_j (1 + x_j)``; x0 = ``-1``; minimum 0.

    References
    ----------
    .. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
       optimization software", ACM TOMS 7(1):17-41, 1981, problem 31.
    """
    n = _check_n(n, minimum=1)
    return build_problem(
        name=f"broyden_banded_{n}", x0=-np.ones(n), residual=res.broyden_banded,
        f_min=0.0, x_min=None, reference=mgh_reference(31), tags={"mgh", "scalable", "zero-residual"})


def _boundary_start(n):
    t = np.arange(1.0, n + 1.0) / (n + 1.0)
    return t * (t - 1.0)


def discrete_boundary_value(n):
    """Discrete boundary value function (MGH 28); x0 = ``t (t - 1)``, ``t_i = i/(n+1)``; minimum 0.

    References
    ----------
    .. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
       optimization software", ACM TOMS 7(1):17-41, 1981, problem 28.
    """
    n = _check_n(n, minimum=1)
    hessp = _fast.discrete_boundary_value_hessp
    return build_problem(
        name=f"discrete_boundary_value_{n}", x0=_boundary_start(n), residual=res.discrete_boundary_value,
        fast={"fun": _fast.discrete_boundary_value_fun, "jac": _fast.discrete_boundary_value_jac,
              "hessp": hessp, "hess": _dense_from_hessp(hessp)},
        f_min=0.0, x_min=None, reference=mgh_reference(28), tags={"mgh", "scalable", "zero-residual"})


def discrete_integral_equation(n):
    """Discrete integral equation function (MGH 29); x0 = ``t (t - 1)``; minimum 0.

    References
    ----------
    .. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
       optimization software", ACM TOMS 7(1):17-41, 1981, problem 29.
    """
    n = _check_n(n, minimum=1)
    return build_problem(
        name=f"discrete_integral_equation_{n}", x0=_boundary_start(n),
        residual=res.discrete_integral_equation,
        f_min=0.0, x_min=None, reference=mgh_reference(29), tags={"mgh", "scalable", "zero-residual"})


def variably_dimensioned(n):
    """Variably dimensioned function (MGH 25); x0 = ``1 - j/n``; minimum 0 at ``(1, ..., 1)``.

    References
    ----------
    .. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
       optimization software", ACM TOMS 7(1):17-41, 1981, problem 25.
    """
    n = _check_n(n, minimum=1)
    return build_problem(
        name=f"variably_dimensioned_{n}", x0=1.0 - np.arange(1.0, n + 1.0) / n,
        residual=res.variably_dimensioned,
        fast={"fun": _fast.variably_dimensioned_fun, "jac": _fast.variably_dimensioned_jac,
              "hessp": _fast.variably_dimensioned_hessp, "hess": _fast.variably_dimensioned_hess},
        f_min=0.0, x_min=np.ones(n), reference=mgh_reference(25),
        tags={"mgh", "scalable", "zero-residual"})


#: Local minima reached from x0 = 1/n by trust-exact, trust-ncg, BFGS and L-BFGS-B
#: (scipy), refined with scipy as for `_mgh`; MGH give only the global value 0.
TRIGONOMETRIC_LOCAL = {10: (2.79505612187894e-05,)}


def trigonometric(n):
    """Trigonometric function (MGH 26); x0 = ``1/n``; global minimum 0 at the origin.

    ``r_i = n - sum_j cos x_j + i (1 - cos x_i) - sin x_i``.  The function has
    many local minima; from x0 local methods usually end in one (for n = 10 at
    ``f = 2.79506e-5``, listed in `f_local`; for other n the values are not
    recorded here).

    References
    ----------
    .. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
       optimization software", ACM TOMS 7(1):17-41, 1981, problem 26.
    """
    n = _check_n(n, minimum=1)
    hessp = _fast.trigonometric_hessp
    return build_problem(
        name=f"trigonometric_{n}", x0=np.full(n, 1.0 / n), residual=res.trigonometric,
        fast={"fun": _fast.trigonometric_fun, "jac": _fast.trigonometric_jac,
              "hessp": hessp, "hess": _dense_from_hessp(hessp)},
        f_min=0.0, x_min=np.zeros(n), f_local=TRIGONOMETRIC_LOCAL.get(n, ()),
        reference=mgh_reference(26), tags={"mgh", "scalable", "zero-residual"},
        notes="" if n in TRIGONOMETRIC_LOCAL else
        "Local methods started at x0 often end in a local minimum whose value is not recorded for this n.")


def brown_almost_linear(n):
    """Brown almost-linear function (MGH 27); x0 = ``1/2``; minimum 0 at ``(1, ..., 1)``.

    Also 0 at ``(a, ..., a, a^(1-n))`` with ``n a^n - (n+1) a^(n-1) + 1 = 0``,
    and a local minimum ``f = 1`` at ``(0, ..., 0, n+1)`` for ``n >= 4``
    (a saddle point for n = 3).

    References
    ----------
    .. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
       optimization software", ACM TOMS 7(1):17-41, 1981, problem 27.
    """
    n = _check_n(n, minimum=2)
    return build_problem(
        name=f"brown_almost_linear_{n}", x0=np.full(n, 0.5), residual=res.brown_almost_linear,
        f_min=0.0, x_min=np.ones(n), f_local=(1.0,) if n >= 4 else (),
        reference=mgh_reference(27), tags={"mgh", "scalable", "zero-residual"},
        notes="Derivatives by automatic differentiation; slow for large n.")


def penalty_1_minimum(n, a=_fast.PENALTY_A):
    """Exact minimum of penalty function I: ``(f_min, c)`` with minimizer ``c * ones(n)``.

    Every stationary point has equal components ``x_i = c`` (the gradient
    condition reads ``x_i (a + 2 (|x|^2 - 1/4)) = a``), so the minimum is that
    of ``phi(c) = a n (c - 1)^2 + (n c^2 - 1/4)^2``, whose stationary points are
    the real roots of ``2 n c^3 + (a - 1/2) c - a = 0``.
    """
    roots = np.roots([2.0 * n, 0.0, a - 0.5, -a])
    real = roots[np.abs(roots.imag) <= 1e-12 * np.abs(roots)].real

    def phi(c):
        return a * n * (c - 1.0) ** 2 + (n * c * c - 0.25) ** 2

    c = min(real, key=phi)
    for _ in range(3):  # Newton polish on the cubic
        c -= (2.0 * n * c ** 3 + (a - 0.5) * c - a) / (6.0 * n * c * c + (a - 0.5))
    return float(phi(c)), float(c)


def penalty_1(n):
    """Penalty function I (MGH 23); x0 = ``(1, 2, ..., n)``.

    ``f = a sum (x_i - 1)^2 + (sum x_i^2 - 1/4)^2`` with ``a = 1e-5``.  The
    minimum is computed for any n from a one-dimensional reduction (see
    `penalty_1_minimum`): n = 4 gives 2.24997...e-5 and n = 10 gives
    7.08765...e-5, as published by MGH.

    References
    ----------
    .. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
       optimization software", ACM TOMS 7(1):17-41, 1981, problem 23.
    """
    n = _check_n(n, minimum=1)
    f_min, c = penalty_1_minimum(n)
    return build_problem(
        name=f"penalty_1_{n}", x0=np.arange(1.0, n + 1.0), residual=res.penalty_1,
        fast={"fun": _fast.penalty_1_fun, "jac": _fast.penalty_1_jac,
              "hessp": _fast.penalty_1_hessp, "hess": _fast.penalty_1_hess},
        f_min=f_min, x_min=np.full(n, c), reference=mgh_reference(23),
        tags={"mgh", "scalable", "nonzero-residual"})


#: Penalty II minima, refined with scipy as for `_mgh` (MGH: 9.37629e-6, 2.93660e-4).
PENALTY_2_MINIMUM = {4: 9.37629300735544e-06, 10: 2.93660537456746e-04}


def penalty_2(n):
    """Penalty function II (MGH 24); x0 = ``(1/2, ..., 1/2)``; n = 4 or 10.

    References
    ----------
    .. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
       optimization software", ACM TOMS 7(1):17-41, 1981, problem 24.
    """
    n = _check_n(n, minimum=2)
    if n not in PENALTY_2_MINIMUM:
        raise ValueError(f"penalty_2: the minimum is recorded only for n in {sorted(PENALTY_2_MINIMUM)}, got {n}")
    return build_problem(
        name=f"penalty_2_{n}", x0=np.full(n, 0.5), residual=res.penalty_2,
        f_min=PENALTY_2_MINIMUM[n], x_min=None, reference=mgh_reference(24),
        tags={"mgh", "scalable", "nonzero-residual"})


#: Watson minima (m = 31), refined with scipy as for `_mgh`
#: (MGH: 2.28767e-3, 1.39976e-6, 4.72238e-10).
WATSON_MINIMUM = {6: 2.28767005355238e-03, 9: 1.39976013809396e-06, 12: 4.72238110424543e-10}


def watson(n):
    """Watson function (MGH 20), m = 31; x0 = 0; n = 6, 9 or 12 (increasingly ill-conditioned).

    References
    ----------
    .. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
       optimization software", ACM TOMS 7(1):17-41, 1981, problem 20.
    """
    n = _check_n(n, minimum=2)
    if n not in WATSON_MINIMUM:
        raise ValueError(f"watson: the minimum is recorded only for n in {sorted(WATSON_MINIMUM)}, got {n}")
    tags = {"mgh", "scalable", "nonzero-residual"}
    if n >= 9:
        tags.add("ill-conditioned")
    return build_problem(
        name=f"watson_{n}", x0=np.zeros(n), residual=res.watson,
        f_min=WATSON_MINIMUM[n], x_min=None, reference=mgh_reference(20), tags=tags)


def linear_full_rank(n, m=None):
    """Linear function, full rank (MGH 32): a least-squares quadratic with ``f_min = m - n`` at ``-1``.

    Parameters
    ----------
    n : int
    m : int, optional
        Number of residuals, ``m >= n``; default ``2 n``.

    References
    ----------
    .. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
       optimization software", ACM TOMS 7(1):17-41, 1981, problem 32.
    """
    n = _check_n(n, minimum=1)
    m = 2 * n if m is None else _check_n(m, minimum=n, name="m")
    linear = _fast.LinearFullRank(m)
    name = f"linear_full_rank_{n}" + ("" if m == 2 * n else f"_m{m}")
    return build_problem(
        name=name, x0=np.ones(n), residual=lambda x: res.linear_full_rank(x, m),
        fast={"fun": linear.fun, "jac": linear.jac, "hessp": linear.hessp, "hess": linear.hess},
        f_min=float(m - n), x_min=-np.ones(n), reference=mgh_reference(32),
        tags={"mgh", "scalable", "quadratic", "nonzero-residual"})


#: base name -> (builder, default dimensions in the collection)
SCALABLE_BUILDERS = {
    "watson": (watson, (6, 9)),
    "extended_rosenbrock": (extended_rosenbrock, (10, 1000)),
    "extended_powell": (extended_powell, (12, 1000)),
    "penalty_1": (penalty_1, (4, 10)),
    "penalty_2": (penalty_2, (4, 10)),
    "variably_dimensioned": (variably_dimensioned, (10,)),
    "trigonometric": (trigonometric, (10,)),
    "brown_almost_linear": (brown_almost_linear, (10,)),
    "discrete_boundary_value": (discrete_boundary_value, (10,)),
    "discrete_integral_equation": (discrete_integral_equation, (10,)),
    "broyden_tridiagonal": (broyden_tridiagonal, (10, 1000)),
    "broyden_banded": (broyden_banded, (10,)),
    "linear_full_rank": (linear_full_rank, (10,)),
    "chained_rosenbrock": (chained_rosenbrock, (10, 1000)),
    "ill_conditioned_quadratic": (ill_conditioned_quadratic, (100, 1000)),
}
