"""Projected trust-region Newton for bound constraints, in the style of TRON.

    minimize  f(x)   subject to   lower <= x <= upper

Each iteration at a point ``x`` of the box, with gradient ``g``, Hessian
products ``B p`` and radius ``Delta``, works on the model
``q(s) = g's + s'Bs / 2``, as Lin & Moré (1999):

1. **Generalized Cauchy point** by a projected search along ``-g`` (Moré &
   Toraldo 1989): ``s(alpha) = P[x - alpha g] - x``, ``P`` the projection on
   the box, with the coordinates at a bound that ``-g`` points out of held
   fixed.  The first trial is the minimizer of ``q`` along the first
   segment of the projected path, capped by the trust region; if it lies on
   that segment, the model is known exactly there and nothing more is
   needed: the product ``B d`` of the search is the first product of
   conjugate gradients as well, so that without active bounds the iteration
   is exactly Steihaug's trust-region CG, no product wasted.  If the path
   bends before it (a bound is reached), each trial costs a product: TRON's
   conditions ``q(s) <= mu0 g's`` (``mu0 = 0.01``) and ``||s|| <= Delta``
   are tested, ``alpha`` is multiplied by 10 while they hold and ``q`` keeps
   falling (crossing many breakpoints at once), or by 0.1 until they hold;
   the first breakpoint, where the model is exact and the conditions hold,
   ends a failed search.
2. **Subspace minimization**: Steihaug's truncated CG on the variables that
   are free at the Cauchy point (the others stay at their bounds), inside the
   trust region ``||s||_2 <= Delta``, to the inexact-Newton tolerance
   ``min(0.5, sqrt(||pg||)) ||pg||`` on the reduced residual (``pg`` the
   projected gradient; never below ``gtol / 10``: the linearized stopping
   test is then met, and more CG iterations would buy nothing).
3. **Projected search** back into the box when the CG step leaves it:
   ``s(beta) = P[x + s + beta w]`` with ``beta = 1, 1/2, ...`` until
   ``q`` decreases sufficiently, or the longest step along ``w`` that stays
   in the box (exact model value, no product); variables that reach a bound
   join the active set and CG resumes on the smaller face (TRON's subspace
   iterations) until the tolerance is met or CG reaches the trust-region
   boundary.

The outer loop is the one every trust-region method shares
(`curvopt.trust_region._loop.trust_region_body`), with `Box` as its feasible
set: the step is accepted by the ratio test ``rho > eta`` and the radius
updated with scipy's constants (quartered on ``rho < 1/4``, doubled on
``rho > 3/4`` when the trust region limited the step), except that a
rejected step quarters ``min(Delta, ||s||)``: a step cut short by the box is
not recomputed unchanged (`Box.shrink`).  TRON's own acceptance threshold
and radius rules (a much smaller threshold, radius factors up to 4 chosen
by interpolation, an initial radius of ``||g(x0)||``) are not used, so that
the bounded and unbounded methods behave alike and take the same options; the Cauchy and
projected searches use TRON's ``mu0 = 0.01`` and factors 10 and 0.1.  (A
factor of 4, and ``||P[x0 - g0] - x0||`` as initial radius, were tried on
the benchmark of ``benchmarks/bench_bounds.py``: neither saved gradient
calls.)

The products may come from a model instead of the Hessian (`Box` option `model`,
``method='trust-lbfgs'`` with bounds, see `curvopt.trust_region.quasi_newton`): a
backend with a ``generalized_cauchy_point`` method replaces step 1 by its own exact
Cauchy point (L-BFGS-B's, `curvopt.hvp.quasi_newton.QuasiNewtonHVP`).

The stopping test is scipy L-BFGS-B's ``pgtol`` test, on the infinity norm of
the projected gradient, ``||P[x - g] - x||_inf <= gtol`` (default 1e-5, as
L-BFGS-B's): results are comparable with L-BFGS-B's at the same tolerance.

Where the stopping test holds, the curvature check of `curvopt._verify`
(option ``verify``) covers the face of the free variables, and a negative
curvature there is left along its direction, cut to stay in the box.  Under
``verify='auto'`` it runs only where products cost no gradient call (exact
products), at a stationary start or after an escape: the method is a
drop-in for L-BFGS-B, which stops on the projected gradient alone, and is
compared with it on gradient calls.

The objective, its gradient and every finite-difference product are only
ever evaluated inside the box: trial points are projections, and
finite-difference products use `curvopt.hvp.bounded`'s one-sided rule at
active bounds (finite-difference *gradients* of `fun` likewise, see
`BoxOracle`).

References
----------
C.-J. Lin and J. J. Moré, "Newton's method for large bound-constrained
optimization problems", SIAM J. Optim. 9(4), 1100-1127, 1999.
J. J. Moré and G. Toraldo, "Algorithms for bound constrained quadratic
programming problems", Numer. Math. 55, 377-400, 1989.
T. Steihaug, "The conjugate gradient method and trust regions in large scale
optimization", SIAM J. Numer. Anal. 20(3), 626-637, 1983.
R. H. Byrd, P. Lu, J. Nocedal and C. Zhu, "A limited memory algorithm for
bound constrained optimization", SIAM J. Sci. Comput. 16(5), 1190-1208, 1995
(the projected-gradient test of L-BFGS-B).
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
import scipy.optimize

from .._oracle import Oracle, _as_scalar
from .._validation import norm as _norm
from .._verify import Verifier
from ..hvp.bounded import bounded_backend, feasible_step
from . import _cg_kernels as _k
from ._loop import TrialStep, forcing_tolerance, trust_region_body

__all__ = [
    "as_bounds",
    "project",
    "projected_gradient",
    "clip_start",
    "BoxOracle",
    "box_oracle",
    "Box",
    "BoundedBody",
    "minimize_bounded",
    "BOUNDED_COLUMNS",
]

_EPS = np.finfo(float).eps
_GTOL_FRACTION = 0.1  # CG need not go below this fraction of gtol (the linearized stopping test)
_MU0 = 0.01  # TRON's sufficient-decrease constant of the Cauchy and projected searches
_CAUCHY_SHRINK = 0.1  # TRON's interpolation factor of the Cauchy search
_MAX_CAUCHY_TRIALS = 4  # products spent on the Cauchy search past the first breakpoint
_MAX_PROJECTED_TRIALS = 2  # products spent per projected search before the in-box step

BOUNDED_COLUMNS = (
    ("f", 14, ".7e"),
    ("pgnorm", 10, ".3e"),
    ("trust_radius", 12, ".3e"),
    ("cg_iterations", 13, "d"),
    ("rho", 10, ".3f"),
    ("n_active", 8, "d"),
    ("njev", 7, "d"),
)


# --------------------------------------------------------------------------- the box


def as_bounds(bounds, n):
    """The bounds as two float arrays ``(lower, upper)`` of length `n`.

    Parameters
    ----------
    bounds : `scipy.optimize.Bounds` or sequence of (low, high) pairs
        As `scipy.optimize.minimize` takes them: a `Bounds` (scalars are
        broadcast; its ``keep_feasible`` is ignored: the box is always kept)
        or `n` pairs, ``None`` meaning no bound.
    n : int
        Number of variables.

    Returns
    -------
    lower, upper : ndarray
        With ``-inf``/``inf`` where a coordinate is unbounded.

    Raises
    ------
    ValueError
        Naming `bounds`: the wrong length, a NaN, a lower bound above the upper
        one, a lower bound of ``+inf`` or an upper bound of ``-inf``.
    """
    if isinstance(bounds, scipy.optimize.Bounds):
        lb, ub = bounds.lb, bounds.ub
        try:
            lower = np.array(np.broadcast_to(np.asarray(lb, dtype=float), (n,)), dtype=float)
            upper = np.array(np.broadcast_to(np.asarray(ub, dtype=float), (n,)), dtype=float)
        except ValueError:
            raise ValueError(
                f"`bounds` has lower/upper arrays of shapes {np.shape(lb)} and {np.shape(ub)}, "
                f"which do not broadcast to the {n} variables of x0"
            ) from None
    else:
        try:
            pairs = list(bounds)
        except TypeError:
            raise ValueError(
                "`bounds` must be a scipy.optimize.Bounds or a sequence of (low, high) pairs; "
                f"got {type(bounds).__name__}"
            ) from None
        if len(pairs) != n:
            raise ValueError(f"`bounds` must have one (low, high) pair per variable: {n}; got {len(pairs)}")
        lower = np.empty(n)
        upper = np.empty(n)
        for i, pair in enumerate(pairs):
            try:
                low, high = pair
            except (TypeError, ValueError):
                raise ValueError(f"`bounds`[{i}] must be a (low, high) pair; got {pair!r}") from None
            try:
                lower[i] = -np.inf if low is None else float(low)
                upper[i] = np.inf if high is None else float(high)
            except (TypeError, ValueError):
                raise ValueError(f"`bounds`[{i}] must hold numbers or None; got {pair!r}") from None
    bad = np.isnan(lower) | np.isnan(upper)
    if bad.any():
        raise ValueError(f"`bounds` contains NaN at indices {np.flatnonzero(bad)[:10].tolist()}")
    bad = lower > upper
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"`bounds`: lower bound above the upper bound at indices {np.flatnonzero(bad)[:10].tolist()} "
            f"(e.g. index {i}: {lower[i]!r} > {upper[i]!r})"
        )
    bad = (lower == np.inf) | (upper == -np.inf)
    if bad.any():
        raise ValueError(
            "`bounds`: a lower bound of +inf or an upper bound of -inf leaves no feasible point "
            f"(indices {np.flatnonzero(bad)[:10].tolist()})"
        )
    return lower, upper


def project(x, lower, upper):
    """``P[x]``: `x` clipped into the box (a new array)."""
    return np.clip(x, lower, upper)


def projected_gradient(x, g, lower, upper):
    """``P[x - g] - x``: the projected (negative) gradient, zero exactly at a stationary point.

    Its infinity norm is L-BFGS-B's ``max |proj g_i|``: for each coordinate
    the gradient, cut to the distance to the bound it points at.
    """
    return np.clip(x - g, lower, upper) - x


def clip_start(x0, lower, upper, *, stacklevel=1):
    """x0 clipped into the box, with an `OptimizeWarning` if it was outside.

    `stacklevel` counts from the caller of `clip_start` (1: the caller's line).
    """
    outside = (x0 < lower) | (x0 > upper)
    if outside.any():
        warnings.warn(
            "x0 is not within the bounds (indices "
            f"{np.flatnonzero(outside)[:10].tolist()}); it was clipped into the box",
            scipy.optimize.OptimizeWarning,
            stacklevel=stacklevel + 1,
        )
        return np.clip(x0, lower, upper)
    return x0


class BoxOracle(Oracle):
    """An `Oracle` whose finite-difference gradients of `fun` stay in a box.

    Only the ``'2-point'`` and ``'3-point'`` gradient modes evaluate `fun` at
    displaced points; per coordinate ``i`` the step ``h_i`` of `Oracle` is
    taken forward when it fits, backward when only that fits, and otherwise
    the longer of the two is shortened to fit.  ``'3-point'`` uses the
    central difference where both sides fit and the one-sided rule (with the
    ``sqrt(eps)`` step) elsewhere.  A fixed coordinate (``lower == upper``)
    has no room at all: its gradient component is reported as 0.
    """

    def __init__(self, fun, jac=None, args=(), jac_mode="callable", max_grad_calls=None, *, lower, upper):
        super().__init__(fun, jac, args, jac_mode, max_grad_calls)
        self.lower = np.asarray(lower, dtype=float)
        self.upper = np.asarray(upper, dtype=float)

    def _fd_gradient(self, x, f0):
        n = x.size
        g = np.empty(n)
        central = self.jac_mode == "3-point"
        rel_one = math.sqrt(_EPS)
        rel = _EPS ** (1 / 3) if central else rel_one
        xt = np.array(x, dtype=float, copy=True)
        lower, upper = self.lower, self.upper

        def value_at(i, t):
            xt[i] = min(max(x[i] + t, lower[i]), upper[i])
            step = xt[i] - x[i]
            self.nfev += 1
            value = _as_scalar(self._call(self._fun, xt))
            xt[i] = x[i]
            return value, step

        for i in range(n):
            scale = max(1.0, abs(x[i]))
            up, down = upper[i] - x[i], x[i] - lower[i]
            if up <= 0.0 and down <= 0.0:
                g[i] = 0.0
                continue
            h = rel * scale
            if central and up >= h and down >= h:
                fp, hp = value_at(i, h)
                fm, hm = value_at(i, -h)
                g[i] = (fp - fm) / (hp - hm)
                continue
            h = rel_one * scale
            if up >= h:
                t = h
            elif down >= h:
                t = -h
            else:
                t = up if up >= down else -down
            if f0 is None:
                self.nfev += 1
                f0 = _as_scalar(self._call(self._fun, x))
            ft, step = value_at(i, t)
            g[i] = (ft - f0) / step
        return g


def box_oracle(oracle: Oracle, lower, upper) -> Oracle:
    """`oracle` made safe for a box: finite-difference gradient modes are
    rebuilt as a `BoxOracle`; every other mode evaluates only at the points
    asked for and is returned unchanged."""
    if oracle.jac_mode not in ("2-point", "3-point") or isinstance(oracle, BoxOracle):
        return oracle
    return BoxOracle(oracle._fun, None, oracle.args, oracle.jac_mode, oracle.max_grad_calls,
                     lower=lower, upper=upper)


# --------------------------------------------------------------------------- the subproblem


def _snap(xs, lower, upper, idx):
    """Put the coordinates `idx` (those that reached a bound, up to round-off) exactly on it."""
    for i in idx:
        xs[i] = lower[i] if abs(xs[i] - lower[i]) <= abs(xs[i] - upper[i]) else upper[i]


def _blocking(x, p, lower, upper, t):
    """Coordinates whose room along p is within round-off of t (they reach a bound at t)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(p > 0, (upper - x) / p, np.where(p < 0, (lower - x) / p, np.inf))
    return np.flatnonzero(room <= t * (1.0 + 8 * _EPS) + 1e-300)


def _embed(n, idx, values):
    out = np.zeros(n)
    out[idx] = values
    return out


def bounded_step(x, g, lower, upper, hvp, radius, tol, cg_maxiter) -> TrialStep:
    """One TRON step: Cauchy point, subspace CG, projected searches.

    Parameters
    ----------
    x : ndarray
        Current point, in the box.
    g : ndarray
        Gradient at `x` (its projected gradient nonzero).
    lower, upper : ndarray
        The box.
    hvp : callable
        ``hvp(p) -> B p`` at `x`.
    radius : float
        Trust radius (2-norm of the step).
    tol : float
        CG stops when the reduced residual norm is below it.
    cg_maxiter : int
        Cap on CG products over all subspace iterations (the Cauchy and
        projected-search products come on top).

    Returns
    -------
    TrialStep
        ``x_trial = P[x + s]``, ``predicted_reduction = -q(s)``;
        ``tr_limited`` when the trust region cut the Cauchy or a CG step.
    """
    products = 0
    tr_limited = False
    warm = None  # CG state to continue from when the Cauchy point is CG's first iterate
    cauchy = getattr(hvp, "generalized_cauchy_point", None)
    if cauchy is not None:
        # a model that finds the exact Cauchy point on the projected path itself (L-BFGS-B's)
        xs, tr_limited = cauchy(x, g, lower, upper, radius)
        s = xs - x
        Bs = hvp(s)
        products += 1
        if not np.all(np.isfinite(Bs)):
            return TrialStep(x, 0.0, 0.0, products, False, True)
        r = g + Bs
        q = float(np.dot(g, s)) + 0.5 * float(np.dot(s, Bs))
    else:
        xs, s, q, r, warm, products, tr_limited = _tron_cauchy(x, g, lower, upper, hvp, radius)
        if xs is None:
            return TrialStep(x, 0.0, 0.0, products, False, True)
    return _subspace_steps(x, g, lower, upper, hvp, radius, tol, cg_maxiter, xs, s, q, r, warm, products,
                           tr_limited)


def _tron_cauchy(x, g, lower, upper, hvp, radius):
    """TRON's Cauchy point: (xs, s, q, r, warm, products, tr_limited); xs None if a product was not finite."""
    products = 0
    tr_limited = False
    # ---- 1. generalized Cauchy point along d = -g, binding coordinates removed
    d = -g
    binding = ((x <= lower) & (g > 0.0)) | ((x >= upper) & (g < 0.0))
    if binding.any():
        d = np.where(binding, 0.0, d)
    dd = float(np.dot(d, d))
    Bd = hvp(d)
    products += 1
    if not np.all(np.isfinite(Bd)):
        return None, None, None, None, None, products, False
    kappa = float(np.dot(d, Bd))
    alpha_tr = radius / math.sqrt(dd)
    alpha = min(dd / kappa, alpha_tr) if kappa > 0.0 else alpha_tr
    b1 = feasible_step(x, d, lower, upper)  # first breakpoint of the projected path
    warm = None  # CG state to continue from when the Cauchy point is CG's first iterate
    if alpha < b1:
        s = alpha * d
        q = -alpha * dd + 0.5 * alpha * alpha * kappa
        r = g + alpha * Bd
        if alpha < alpha_tr:
            warm = (d, dd)
        else:
            tr_limited = True
        xs = x + s
    else:
        search = _projected_cauchy(x, g, d, lower, upper, hvp, radius, alpha, b1)
        products += search.n_products
        if search.s is not None:
            s, q, r, xs = search.s, search.q, search.r, x + search.s
            tr_limited = search.tr_limited
        else:
            # The first breakpoint: the end of the first segment, where the model is exact and,
            # as b1 < alpha0 <= the segment's minimizer, the sufficient decrease holds.
            alpha = b1
            s = alpha * d
            q = -alpha * dd + 0.5 * alpha * alpha * kappa
            r = g + alpha * Bd
            xs = x + s
            _snap(xs, lower, upper, _blocking(x, d, lower, upper, b1))
    xs = np.clip(xs, lower, upper)
    s = xs - x
    return xs, s, q, r, warm, products, tr_limited


def _subspace_steps(x, g, lower, upper, hvp, radius, tol, cg_maxiter, xs, s, q, r, warm, products, tr_limited):
    """From the Cauchy point: CG on the free face, projected search, repeated on smaller faces."""
    n = x.size
    # ---- 2./3. CG on the free face, projected search, repeated on smaller faces
    cg_budget = cg_maxiter - (1 if warm is not None else 0)
    for _ in range(n):
        free = (xs > lower) & (xs < upper)
        F = np.flatnonzero(free)
        if F.size == 0 or cg_budget <= 0:
            break
        rF = r[F]
        if math.sqrt(float(np.dot(rF, rF))) <= tol:
            break
        ss = float(np.dot(s, s))
        if ss >= (1.0 - 1e-6) * radius * radius:
            break  # on the trust-region boundary: CG has nowhere to go
        sA2 = ss - float(np.dot(s[F], s[F]))
        radius_F = math.sqrt(max(radius * radius - sA2, 0.0))
        z0 = s[F]
        cg = _face_cg(z0, rF, F, n, hvp, radius_F, tol, cg_budget, warm)
        warm = None
        products += cg.n_products
        cg_budget -= cg.n_products
        tr_limited |= cg.tr_limited
        w = cg.z - z0
        if not np.any(w != 0.0):
            break
        beta_box = feasible_step(xs[F], w, lower[F], upper[F])
        if beta_box >= 1.0:
            s[F] = cg.z
            q += cg.dq
            r[F] = cg.r
            xs = np.clip(x + s, lower, upper)
            break
        # the CG step leaves the box: projected search along w
        rw = float(np.dot(rF, w))
        Bw = cg.r - rF  # reduced B w, from the CG recurrences
        beta = 1.0
        moved = False
        for _ in range(_MAX_PROJECTED_TRIALS):
            xsF = np.clip(xs[F] + beta * w, lower[F], upper[F])
            v = xsF - xs[F]
            Bv = hvp(_embed(n, F, v))
            products += 1
            if np.all(np.isfinite(Bv)):
                BvF = Bv[F]
                rv = float(np.dot(rF, v))
                dq = rv + 0.5 * float(np.dot(v, BvF))
                if rv < 0.0 and dq <= _MU0 * rv:
                    xs[F] = xsF
                    q += dq
                    r[F] = rF + BvF
                    moved = True
                    break
            beta *= 0.5
            if beta <= beta_box:
                break
        if not moved:
            beta = beta_box  # the longest step along w inside the box: exact model value
            q += beta * rw + 0.5 * beta * beta * float(np.dot(w, Bw))
            r[F] = rF + beta * Bw
            xsF = xs[F] + beta * w
            blocking = _blocking(xs[F], w, lower[F], upper[F], beta_box)
            xs[F] = xsF
            _snap(xs, lower, upper, F[blocking])
        xs = np.clip(xs, lower, upper)
        s = xs - x
        if cg.nonfinite or cg.tr_limited:
            break  # as TRON: the subspace iterations end when CG reaches the trust-region boundary
    return TrialStep(xs, math.sqrt(float(np.dot(s, s))), -q, products, tr_limited, False)


class _CauchySearch(NamedTuple):
    s: np.ndarray | None  # None: no trial point passed, fall back to the first breakpoint
    q: float
    r: np.ndarray | None  # g + B s
    n_products: int
    tr_limited: bool


def _projected_cauchy(x, g, d, lower, upper, hvp, radius, alpha, b1) -> _CauchySearch:
    """TRON's projected search for the Cauchy step past the first breakpoint.

    Trial steps ``s(alpha) = P[x + alpha d] - x`` must satisfy
    ``q(s) <= mu0 g's`` and ``||s|| <= radius``.  From the first trial
    (past the first breakpoint `b1`), ``alpha`` is multiplied by 0.1 until
    they hold; if the first trial passes, it is multiplied by 10 while they
    hold, ``q`` keeps falling and the point still moves (the path ends at
    its last breakpoint), so that the search can cross many breakpoints at
    once.  Every trial costs one product.
    """
    products = 0
    best = None
    room = _room_along(x, d, lower, upper)
    finite_room = room[np.isfinite(room)]
    last_breakpoint = np.inf if finite_room.size < room.size else float(finite_room.max())
    for _ in range(_MAX_CAUCHY_TRIALS):
        xs = np.clip(x + alpha * d, lower, upper)
        s = xs - x
        snorm = math.sqrt(float(np.dot(s, s)))
        ok = False
        if snorm <= radius * (1.0 + 1e-12):
            Bs = hvp(s)
            products += 1
            if np.all(np.isfinite(Bs)):
                gs = float(np.dot(g, s))
                q = gs + 0.5 * float(np.dot(s, Bs))
                ok = q <= _MU0 * gs and (best is None or q < best.q)
        if best is None and not ok:
            alpha *= _CAUCHY_SHRINK  # interpolate towards the first breakpoint
            if alpha <= b1:
                break  # the caller takes the first breakpoint, where the model is exact
            continue
        if not ok:
            break  # extrapolation went too far: keep the previous point
        best = _CauchySearch(s, q, g + Bs, products, snorm >= (1.0 - 1e-6) * radius)
        if alpha >= last_breakpoint:
            break
        alpha = min(alpha / _CAUCHY_SHRINK, last_breakpoint)  # extrapolate
    if best is None:
        return _CauchySearch(None, 0.0, None, products, False)
    return best._replace(n_products=products)


def _room_along(x, p, lower, upper):
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(p > 0, (upper - x) / p, np.where(p < 0, (lower - x) / p, np.inf))
    room[p == 0] = np.nan
    return room[~np.isnan(room)]


class _FaceCG(NamedTuple):
    z: np.ndarray
    r: np.ndarray
    dq: float  # change of the model from z0 to z
    n_products: int
    tr_limited: bool
    nonfinite: bool


def _face_cg(z0, r0, F, n, hvp, radius, tol, maxiter, warm) -> _FaceCG:
    """Steihaug CG on the face: min q over z = s_F (the other coordinates fixed), ||z|| <= radius.

    Starts at `z0` with residual `r0` (the reduced model gradient there); with
    `warm = (d_prev, rr_prev)` it continues a CG run whose previous direction
    was ``d_prev`` (full length, restricted to F here) with ``r'r = rr_prev``.
    """
    z = z0.copy()
    r = r0.copy()
    rr = float(np.dot(r, r))
    if warm is not None:
        d_prev, rr_prev = warm
        d = -r + (rr / rr_prev) * d_prev[F]
    else:
        d = -r
    dq = 0.0
    products = 0
    for _ in range(maxiter):
        Hd_full = hvp(_embed(n, F, d))
        products += 1
        Hd = Hd_full[F]
        # checked before the dot product: inf entries against zeros of d would make NaN with a warning
        dHd = float(np.dot(d, Hd)) if np.isfinite(Hd).all() else math.nan
        if not math.isfinite(dHd):
            return _FaceCG(z, r, dq, products, False, True)
        rd = float(np.dot(r, d))
        if dHd <= 0.0:
            tau = _k.boundary_root(z, d, radius)
            dq += tau * rd + 0.5 * tau * tau * dHd
            z += tau * d
            r += tau * Hd
            return _FaceCG(z, r, dq, products, True, False)
        alpha = rr / dHd
        z_next = z + alpha * d
        if float(np.dot(z_next, z_next)) >= radius * radius:
            tau = _k.boundary_root(z, d, radius)
            dq += tau * rd + 0.5 * tau * tau * dHd
            z += tau * d
            r += tau * Hd
            return _FaceCG(z, r, dq, products, True, False)
        dq += alpha * rd + 0.5 * alpha * alpha * dHd
        z = z_next
        r += alpha * Hd
        rr_next = float(np.dot(r, r))
        if rr_next <= tol * tol:
            break
        d = -r + (rr_next / rr) * d
        rr = rr_next
    return _FaceCG(z, r, dq, products, False, False)


# --------------------------------------------------------------------------- the feasible set


class Box:
    """The box ``lower <= x <= upper`` as the feasible set of the shared trust-region loop
    (`curvopt.trust_region._loop`): TRON's step, L-BFGS-B's stopping measure.

    Parameters
    ----------
    lower, upper : ndarray
        The box, ``-inf``/``inf`` where unbounded.
    gtol : float
        The stopping tolerance (CG is not asked for less than a tenth of it).
    cg_maxiter : int
        Cap on CG products per step.
    forcing : callable
        ``forcing(||pg||_2)``, the residual tolerance of CG.
    model : callable, optional
        ``model(n) -> HVPBackend`` whose products the step uses instead of the
        run's, e.g. a quasi-Newton model (`curvopt.hvp.quasi_newton.QuasiNewtonHVP`,
        linearized with the gradient at each iterate, from which it learns).  The
        run's own products (true ones) still serve the curvature check.
    """

    columns = BOUNDED_COLUMNS

    def __init__(self, lower, upper, *, gtol, cg_maxiter, forcing=forcing_tolerance, model=None):
        self.lower = np.asarray(lower, dtype=float)
        self.upper = np.asarray(upper, dtype=float)
        self.gtol = gtol
        self.cg_maxiter = cg_maxiter
        self.forcing = forcing
        self.model = model
        self.products = None  # the model's backend during a run

    def start(self, run):
        """Checks the run's starting point and makes finite-difference products stay in the box."""
        if self.lower.shape != run.x.shape or self.upper.shape != run.x.shape:
            raise ValueError(f"bounds of length {self.lower.size} for {run.x.size} variables")
        if np.any(run.x < self.lower) or np.any(run.x > self.upper):
            raise ValueError("the starting point of the run is outside the bounds")
        run.backend = bounded_backend(run.backend, self.lower, self.upper)
        self.products = None if self.model is None else self.model(run.x.size)

    def measure(self, x, g) -> float:
        """scipy L-BFGS-B's ``||P[x - g] - x||_inf``."""
        return float(np.max(np.abs(projected_gradient(x, g, self.lower, self.upper))))

    def record(self, run) -> float:
        """The result keys ``pgnorm`` and ``active_mask`` (as `scipy.optimize.least_squares`: -1 at
        a lower bound, 1 at an upper bound, 0 free) of the current point; returns ``pgnorm``."""
        pgnorm = self.measure(run.x, run.g)
        run.extra["pgnorm"] = pgnorm
        run.extra["active_mask"] = np.where(run.x <= self.lower, -1, np.where(run.x >= self.upper, 1, 0))
        return pgnorm

    def step(self, run, radius, measure) -> TrialStep:
        hvp = run.backend if self.products is None else self.products
        hvp.linearize(run.x, run.g)
        pg = projected_gradient(run.x, run.g, self.lower, self.upper)
        tol = max(self.forcing(_norm(pg)), _GTOL_FRACTION * self.gtol)
        return bounded_step(run.x, run.g, self.lower, self.upper, hvp, radius, tol, self.cg_maxiter)

    def escape(self, run, direction, curvature, radius) -> TrialStep:
        """Along `direction` (nonzero only on free variables) to the trust-region boundary or the
        box, whichever comes first."""
        x, lower, upper = run.x, self.lower, self.upper
        if self.products is not None:
            self.products.reset()  # the model did not see the saddle
        t = min(radius, feasible_step(x, direction, lower, upper))
        xs = np.clip(x + t * direction, lower, upper)
        if t < radius:
            _snap(xs, lower, upper, _blocking(x, direction, lower, upper, t))
        s = xs - x
        predicted = -(float(np.dot(run.g, s)) + 0.5 * curvature * t * t)
        return TrialStep(xs, _norm(s), predicted, 0, t >= radius, False)

    def free(self, x):
        """The free variables, strictly between their bounds: the face the curvature check covers."""
        return np.flatnonzero((x > self.lower) & (x < self.upper))

    @staticmethod
    def shrink(radius, step_norm) -> float:
        """A quarter of ``min(radius, ||s||)`` (of the radius when there was no step).

        Unlike the unconstrained rule (a quarter of the radius), because a step cut short by the
        box -- by the first breakpoint of the Cauchy search, a projected search or a bound that CG
        ran into -- can be far shorter than the radius and does not change when the radius
        shrinks to a size it still fits in: the same rejected step would be computed again.
        (With a model, the unconstrained trust-lbfgs rule -- the minimizer of the quadratic
        through f(x), g's and f(x + s), within [1/10, 1/2] of the step -- was tried on
        benchmarks/bench_bounds.py: it tripled the gradient calls on Bard's problem.)
        """
        return 0.25 * (radius if step_norm == 0.0 else min(radius, step_norm))

    def grow(self, radius, trial, max_trust_radius) -> float:
        """Doubled when the trust region limited the step; with a model also at least twice a
        step inside it, as unconstrained trust-lbfgs: the radius follows the model's steps, so
        that after a run of short steps a long quasi-Newton step is not cut (on
        benchmarks/bench_bounds.py: 19 of 24 problems at or below L-BFGS-B's gradient calls
        instead of 16, and 35 model solutions instead of 42 in examples/calibration.py)."""
        if trial.tr_limited:
            return min(2.0 * radius, max_trust_radius)
        if self.products is not None:
            return min(max(radius, 2.0 * trial.step_norm), max_trust_radius)
        return radius

    @property
    def learns(self) -> bool:
        return self.products is not None

    def observe(self, run, x_trial, g_trial):
        """A rejected trial point's gradient (free with ``jac=True``) updates the model."""
        if self.products is not None:
            self.products.observe(x_trial - run.x, g_trial - run.g)

    def progress(self, run, measure) -> dict:
        columns = {"pgnorm": measure, "measure": measure, "n_active": int(np.count_nonzero(run.extra["active_mask"]))}
        if self.products is not None and hasattr(self.products, "model"):
            columns["pairs"] = self.products.model.pairs
        return columns


class BoundedBody:
    """The solver body of ``method='trust-bounds'`` (see `curvopt._registry.trust_bounds`):
    unbounded when called as it is, bounded through `with_bounds` (what `minimize` does).

    Parameters are those of `curvopt.trust_region._loop.trust_region_body`, plus `cg_maxiter`,
    `verify` (see `curvopt._verify.Verifier`) and `forcing` (see `Box`).
    """

    def __init__(self, *, gtol, maxiter, initial_trust_radius, max_trust_radius, eta, cg_maxiter, verify="auto",
                 forcing=forcing_tolerance):
        Verifier(verify, 1)  # checks the option
        self.loop = dict(gtol=gtol, maxiter=maxiter, initial_trust_radius=initial_trust_radius,
                         max_trust_radius=max_trust_radius, eta=eta)
        self.cg_maxiter = cg_maxiter
        self.verify = verify
        self.forcing = forcing

    def with_bounds(self, lower, upper):
        """The body for the box ``lower <= x <= upper`` (arrays, ``-inf``/``inf`` where unbounded)."""
        box = Box(lower, upper, gtol=self.loop["gtol"], cg_maxiter=self.cg_maxiter, forcing=self.forcing)
        # under 'auto', gradient calls go to the check only where it is needed (see the module docstring)
        verifier = Verifier(self.verify, box.lower.size, auto_budget=0.0)
        return trust_region_body(box, verifier=verifier, **self.loop)

    def __call__(self, run):
        n = run.x.size
        return self.with_bounds(np.full(n, -np.inf), np.full(n, np.inf))(run)


# --------------------------------------------------------------------------- wiring


def minimize_bounded(fun, x0, args=(), jac=None, hess=None, hessp=None, bounds=None, callback=None,
                     options=None, *, disp=False, return_all=False, max_grad_calls=None, hvp_eps=None,
                     stacklevel=2):
    """``curvopt.minimize(..., method='trust-bounds', bounds=bounds)``, with the options every
    curvopt method takes as keywords.

    `minimize` parses the bounds (`as_bounds`), clips x0 into the box (with an
    `OptimizeWarning` when it was outside, as scipy's Nelder-Mead does; scipy's
    L-BFGS-B clips silently), and makes finite-difference gradients
    (`box_oracle`) and products (`curvopt.hvp.bounded.bounded_backend`) stay
    inside the box.

    Parameters
    ----------
    fun, x0, args, jac, hess, hessp, callback :
        As `curvopt.minimize`; ``jac=True`` (`fun` returns ``(f, g)``) works.
    bounds : `scipy.optimize.Bounds` or sequence of (low, high), optional
        See `as_bounds`; None means unbounded.
    options : dict, optional
        Options of ``'trust-bounds'`` (`curvopt._registry.trust_bounds`); they
        take precedence over the keywords below.
    disp, return_all, max_grad_calls, hvp_eps :
        The options every curvopt method takes.
    stacklevel : int
        The line user-facing warnings point at, counted from
        `minimize_bounded`: 1 its own line, 2 (default) the line calling it.

    Returns
    -------
    OptimizeResult
        With ``pgnorm`` and ``active_mask`` besides the usual keys.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import rosen, rosen_der
    >>> from curvopt.trust_region.bounded import minimize_bounded
    >>> res = minimize_bounded(rosen, np.zeros(4), jac=rosen_der, bounds=[(-1.5, 0.8)] * 4)
    >>> bool(res.success), res.active_mask.tolist()
    (True, [1, 0, 0, 0])
    """
    from .. import _minimize, _registry  # they import this module

    common = {"disp": disp, "return_all": return_all, "max_grad_calls": max_grad_calls, "hvp_eps": hvp_eps}
    return _minimize.run_method(_registry.METHODS["trust-bounds"], fun, x0, args, jac, hess, hessp, bounds,
                                constraints=(), tol=None, callback=callback, options={**common, **(options or {})},
                                stacklevel=stacklevel)
