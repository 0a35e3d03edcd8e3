"""Trust-region quasi-Newton: a limited-memory model that costs no gradient call per product.

``method='trust-lbfgs'``.  Where one gradient costs minutes, the figure that
matters is gradient calls to convergence.  A Newton-CG step buys curvature one
gradient call per product; a quasi-Newton model learns it from the steps
already taken, at no extra call.  This method keeps the trust-region frame of
curvopt's Newton methods (ratio test, radius, the round-off acceptance test,
the curvature check and saddle escape at the end) and replaces the Hessian by
a compact limited-memory matrix (Byrd, Nocedal & Schnabel 1994)

    B = gamma I + Psi M Psi'

built from the last `memory` pairs ``(s, y)`` (step, gradient change):

``'bfgs'`` (default)
    L-BFGS: ``Psi = [gamma S, Y]``, ``M = -[[gamma S'S, L], [L', -D]]^-1``
    (``S'Y = L + D + U``), positive definite while every pair has
    ``s'y > 0`` (pairs that do not are skipped); ``gamma = y'y / s'y`` of the
    newest pair.
``'sr1'``
    L-SR1: ``Psi = Y - gamma S``, ``M = (D + L + L' - gamma S'S)^-1``; it can
    represent negative curvature, which the trust region handles.  A pair is
    skipped when ``|s'(y - B s)| < 1e-8 ||s|| ||y - B s||`` (Nocedal & Wright,
    eq. 6.26).

The subproblem ``min g'p + p'Bp/2, ||p|| <= radius`` is solved exactly in
``O(n k^2)`` (``k`` = columns of ``Psi``) by the eigendecomposition of the
compact form (Brust, Erway & Marcia's orthonormal-basis approach): with
``Psi = Q R`` (from the Gram matrix, rank-revealing) and ``R M R' = U L U'``,
``B`` has eigenvalues ``gamma + L`` on ``span(Q U)`` and ``gamma`` on its
orthogonal complement, and the secular equation ``||p(sigma)|| = radius`` is
scalar (safeguarded Newton on ``1/||p|| - 1/radius``, Moré & Sorensen), hard
case included.

Each accepted trial point costs one gradient call, each rejected one a value
call only (``jac=True``: both come from one call, and the pair of the
rejected point is used too).  The stopping test is on ``||g||_2`` or on any
stationarity measure the user passes (option `measure`, e.g. the largest
per-atom force norm of a molecule, ASE's ``fmax``).

Bounds
------
``minimize(..., method='trust-lbfgs', bounds=...)`` (`QuasiNewtonBody.with_bounds`)
does not use this module's loop: the model becomes a product backend
(`curvopt.hvp.quasi_newton.QuasiNewtonHVP`, ``B v`` in ``O(n m)``, updated from
each accepted step's pair ``(s, y)``, and from rejected ones whose gradient came
free with ``jac=True``) for the projected step of ``'trust-bounds'``
(`curvopt.trust_region.bounded.Box`) in the trust-region loop every method shares
(`curvopt.trust_region._loop`).  The Cauchy point is L-BFGS-B's: the first minimizer
of the model along the projected steepest-descent path, computed from the compact
form in ``O(n log n + n m)`` (Byrd, Lu, Nocedal & Zhu 1995).  Everything else is
trust-bounds': the box is never left (finite-difference gradients through
`curvopt.trust_region.bounded.box_oracle`), the stopping test is
``||P[x - g] - x||_inf <= gtol``, and the curvature check (`curvopt._verify`) uses
the run's true products, never the model's.  Two rules differ from trust-bounds:
the first radius is ``||P[x0 - g0] - x0||_2`` (L-BFGS-B's first step), and a very
successful step inside the region sets the radius to at least twice its length.

The unconstrained method keeps its own loop (`trust_lbfgs_body`): it solves the
subproblem exactly, evaluates rejected points' gradients when they are free, and
shrinks the radius by interpolation, and tests/test_trust_lbfgs.py and
tests/test_collection.py hold its counts; expressing it through the shared loop
would need those three rules as strategy hooks there.

References
----------
R. H. Byrd, P. Lu, J. Nocedal and C. Zhu, "A limited memory algorithm for
bound constrained optimization", SIAM J. Sci. Comput. 16(5), 1190-1208, 1995.
R. H. Byrd, J. Nocedal and R. B. Schnabel, "Representations of quasi-Newton
matrices and their use in limited memory methods", Math. Program. 63,
129-156, 1994.
J. J. Brust, J. B. Erway and R. F. Marcia, "On solving L-SR1 trust-region
subproblems", Comput. Optim. Appl. 66, 245-266, 2017.
J. J. Moré and D. C. Sorensen, "Computing a trust region step", SIAM J. Sci.
Stat. Comput. 4(3), 553-572, 1983.
J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., 2006,
Sections 4.3, 6.2 and 7.2.
"""

from __future__ import annotations

import math

import numpy as np

from .._result import Status
from .._validation import norm as _norm
from .._verify import Verifier
from ..hvp.quasi_newton import CompactModel
from ..hvp.quasi_newton import QuasiNewtonHVP
from ._loop import _gradient_or_none, _value_or_nan, trust_region_body
from .bounded import Box

__all__ = ["CompactModel", "solve_subproblem", "trust_lbfgs_body", "QuasiNewtonBody", "TRUST_LBFGS_COLUMNS"]

_EPS = np.finfo(float).eps
_F_RESOLUTION = 100 * _EPS

TRUST_LBFGS_COLUMNS = (
    ("f", 14, ".7e"),
    ("gnorm", 10, ".3e"),
    ("measure", 10, ".3e"),
    ("trust_radius", 12, ".3e"),
    ("pairs", 5, "d"),
    ("rho", 10, ".3f"),
    ("njev", 7, "d"),
)


def solve_subproblem(model, g, radius):
    """Exact minimizer of ``g'p + p'Bp/2`` on ``||p|| <= radius``: (step, predicted reduction, on boundary)."""
    gnorm = _norm(g)
    if model.pairs == 0:
        # no curvature yet: the Cauchy step to the boundary, predicted with B = (||g|| / radius) I
        step = -(radius / gnorm) * g
        return step, 0.5 * radius * gnorm, True
    (P, lam), gamma = model.spectrum()
    c = P.T @ g  # components in span P
    g_perp = g - P @ c
    cp2 = max(float(np.dot(g_perp, g_perp)), 0.0)
    d = np.append(gamma + lam, gamma)
    a = np.append(c * c, cp2)  # squared gradient components, the last for the complement
    if P.shape[1] >= model.n:  # no complement
        d, a = d[:-1], a[:-1]
    dmin = float(np.min(d))
    scale = max(float(np.max(np.abs(d))), 1e-300)

    def pnorm(sigma):
        return math.sqrt(float(np.sum(a / (d + sigma) ** 2)))

    hard_tau = 0.0
    if dmin > 1e-12 * scale and pnorm(0.0) <= radius:
        sigma = 0.0
        on_boundary = False
    else:
        lo = max(0.0, -dmin)
        small = a[d <= dmin + 1e-12 * scale]
        if float(np.sum(small)) <= 1e-24 * gnorm * gnorm and (
            (d > dmin + 1e-12 * scale).any() and math.sqrt(float(np.sum(
                np.where(d > dmin + 1e-12 * scale, a, 0.0) / np.maximum(d + lo, 1e-300) ** 2))) <= radius
        ):
            # the hard case: sigma = -dmin, fill the radius along the least eigenvector
            sigma = lo
            mask = d > dmin + 1e-12 * scale
            a = np.where(mask, a, 0.0)
            inner = math.sqrt(float(np.sum(a[mask] / (d[mask] + sigma) ** 2)))
            hard_tau = math.sqrt(max(radius * radius - inner * inner, 0.0))
        else:
            hi = max(lo, gnorm / radius - dmin) + 1e-12 * scale + 1e-300
            sigma = hi
            for _ in range(100):
                pn = pnorm(sigma)
                phi = 1.0 / pn - 1.0 / radius
                if abs(pn - radius) <= 1e-10 * radius:
                    break
                if phi < 0:
                    lo = sigma
                else:
                    hi = sigma
                dphi = float(np.sum(a / (d + sigma) ** 3)) / pn ** 3
                new = sigma - phi / dphi if dphi > 0 else 0.5 * (lo + hi)
                sigma = new if lo < new < hi else 0.5 * (lo + hi)
                if hi - lo <= 1e-15 * max(hi, 1.0):
                    break
        on_boundary = True
    # the step, component by component
    k = c.size
    dp = d[:k] + sigma
    coef = np.where(dp > 0, -c / np.where(dp > 0, dp, 1.0), 0.0)
    step = P @ coef
    if P.shape[1] < model.n:
        step -= g_perp / (gamma + sigma) if gamma + sigma > 0 else 0.0 * g_perp
    pred = -(float(np.dot(c, coef)) + 0.5 * float(np.dot(d[:k] * coef, coef)))
    if P.shape[1] < model.n and gamma + sigma > 0:
        pred += cp2 / (gamma + sigma) - 0.5 * gamma * cp2 / (gamma + sigma) ** 2
    if hard_tau > 0.0:
        j = int(np.argmin(d))
        if j < k:
            u = P[:, j]
        else:  # the least eigenvalue is gamma, on the complement: any vector orthogonal to P
            u = np.zeros(model.n)
            u[int(np.argmin(np.abs(P).sum(axis=1)))] = 1.0
            u -= P @ (P.T @ u)
            u /= _norm(u)
        step = step + hard_tau * u
        pred -= 0.5 * dmin * hard_tau * hard_tau
    return step, pred, on_boundary


def trust_lbfgs_body(*, gtol, maxiter, memory, kind, initial_trust_radius, max_trust_radius, eta, measure=None,
                     verifier=None):
    """A solver body (see `curvopt._run`) for the trust-region quasi-Newton method.

    Stops when ``measure(g) <= gtol`` (default ``||g||_2``) and the `verifier`
    accepts the point; at a proven saddle it steps along the negative-curvature
    direction and goes on.
    """
    verifier = Verifier(False, 1) if verifier is None else verifier
    stationarity = _norm if measure is None else (lambda g: float(measure(g)))

    def body(run):
        oracle = run.oracle
        model = CompactModel(run.x.size, memory, kind)
        radius = float(initial_trust_radius)
        failures = 0
        value = stationarity(run.g)
        run.extra["measure"] = value
        while True:
            escape = None
            if value <= gtol:
                outcome = verifier.at_stationary_point(run)
                if isinstance(outcome, Status):
                    return outcome
                escape = outcome
            elif run.nit >= maxiter:
                return Status.MAXITER
            if escape is not None:
                direction, curvature = escape
                step = radius * direction
                predicted = -(float(np.dot(run.g, step)) + 0.5 * curvature * radius * radius)
                on_boundary = True
                model.reset()  # the model did not see the saddle
            else:
                step, predicted, on_boundary = solve_subproblem(model, run.g, radius)
            run.nit += 1
            step_norm = _norm(step)
            rho = -math.inf
            accepted = nonfinite = False
            if not (predicted > 0.0 and math.isfinite(predicted)):
                if model.pairs:
                    model.reset()  # a broken model: start it again from steepest descent
                    continue
                return Status.PRECISION_LOSS
            x_trial = run.x + step
            f_at_step, g_at_step = run.f, run.g
            f_trial = _value_or_nan(run, x_trial)
            if not math.isfinite(f_trial):
                nonfinite = True
            else:
                rho = (run.f - f_trial) / predicted
                resolution = _F_RESOLUTION * abs(run.f)
                g_trial = None
                cheap = oracle.jac_mode == "combined"  # the gradient came with the value
                if rho > eta or predicted < resolution or cheap:
                    g_trial = _gradient_or_none(run, x_trial)
                    if g_trial is None:
                        nonfinite = True
                if g_trial is not None:
                    model.update(step, g_trial - run.g)
                    if rho > eta or (
                        predicted < resolution and f_trial <= run.f + resolution
                        and stationarity(g_trial) < value
                    ):
                        accepted = True
                        run.move_to(x_trial, f_trial, g_trial)
                        value = stationarity(g_trial)
                        run.extra["measure"] = value
            if nonfinite:
                run.n_nonfinite += 1
                failures += 1
                rho = -math.inf
                if failures > run.max_failures:
                    return Status.ORACLE_ERROR if "exception" in run.extra else Status.NAN_RESULT
            else:
                failures = 0
            if rho < 0.25:
                if nonfinite:
                    radius = 0.25 * min(radius, step_norm)
                else:
                    # the minimizer of the quadratic through f, g's and f_trial along the step,
                    # kept within [1/10, 1/2] of the step (Dennis & Schnabel, Sec. 6.4)
                    slope = float(np.dot(g_at_step, step))
                    curv = f_trial - f_at_step - slope
                    t = -slope / (2.0 * curv) if curv > 0 and slope < 0 else 0.5
                    radius = min(max(t, 0.1), 0.5) * min(radius, step_norm)
            elif rho > 0.75 and on_boundary:
                radius = min(2.0 * radius, max_trust_radius)
            elif rho > 0.75:
                radius = min(max(radius, 2.0 * step_norm), max_trust_radius)
            if radius < 1e-10 and radius < _EPS * max(1.0, _norm(run.x)):
                return Status.NAN_RESULT if nonfinite else Status.TRUST_RADIUS
            stop = run.end_of_iteration(
                f=run.f, gnorm=run.gnorm, measure=value, trust_radius=radius, pairs=model.pairs,
                rho=rho if math.isfinite(rho) else None, njev=oracle.njev, accepted=accepted,
            )
            if stop:
                return Status.CALLBACK

    return body


# The bounded step on the model: CG on a face of gamma I + (rank <= 2 memory) converges in at most
# 2 memory + 1 iterations, and products cost no gradient call, so CG is run to a tight tolerance.
_MODEL_FORCING = 1e-6


class QuasiNewtonBody:
    """The solver body of ``method='trust-lbfgs'`` (see `curvopt._registry.trust_lbfgs`):
    unconstrained when called as it is (`trust_lbfgs_body`), bounded through `with_bounds`.

    With bounds, the step is that of ``method='trust-bounds'`` -- generalized Cauchy
    point by a projected search, CG on the free variables, projected search
    (`curvopt.trust_region.bounded.Box`) -- with the products of a quasi-Newton
    model (`curvopt.hvp.quasi_newton.QuasiNewtonHVP`) in place of the Hessian's, in the
    trust-region loop every method shares (`curvopt.trust_region._loop`): no gradient
    call but those at trial points, and L-BFGS-B's projected-gradient stopping test.

    Parameters are those of `trust_lbfgs_body`, and `verify` (see `curvopt._verify.Verifier`);
    `initial_trust_radius` None means 1 unconstrained and, with bounds, the length of the
    projected steepest-descent step ``||P[x0 - g0] - x0||_2`` (see `_first_step_radius`).
    """

    def __init__(self, n, *, gtol, maxiter, memory, kind, initial_trust_radius, max_trust_radius, eta,
                 measure=None, verify="auto", deflate=None):
        self.n = n
        self.gtol = gtol
        self.measure = measure
        self.verify = verify
        self.deflate = deflate
        self.memory = memory
        self.kind = kind
        self.initial_trust_radius = initial_trust_radius
        self.loop = dict(gtol=gtol, maxiter=maxiter,
                         initial_trust_radius=1.0 if initial_trust_radius is None else initial_trust_radius,
                         max_trust_radius=max_trust_radius, eta=eta)
        self.unconstrained = trust_lbfgs_body(memory=memory, kind=kind, measure=measure,
                                              verifier=Verifier(verify, n, deflate=deflate), **self.loop)

    def with_bounds(self, lower, upper):
        """The body for the box ``lower <= x <= upper`` (arrays, ``-inf``/``inf`` where unbounded);
        with no finite bound, the unconstrained body."""
        lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
        if not (np.isfinite(lower).any() or np.isfinite(upper).any()):
            return self._unbounded
        if self.measure is not None:
            raise ValueError("option `measure` is for unconstrained runs; with `bounds` the stopping test is "
                             "L-BFGS-B's ||P[x - g] - x||_inf <= gtol")
        if self.deflate is not None:
            raise ValueError("option `deflate` is for unconstrained runs; with `bounds` the curvature check "
                             "covers the face of the free variables")
        memory, kind = self.memory, self.kind
        loop = dict(self.loop)
        if self.initial_trust_radius is None:
            loop["initial_trust_radius"] = _first_step_radius(lower, upper, loop["max_trust_radius"])
        box = Box(lower, upper, gtol=self.gtol, cg_maxiter=max(50, 4 * memory),
                  forcing=lambda pgnorm: _MODEL_FORCING * pgnorm,
                  model=lambda n: QuasiNewtonHVP(n, memory, kind))
        # as trust-bounds: a drop-in for L-BFGS-B, the check only where it costs no gradient call
        verifier = Verifier(self.verify, self.n, auto_budget=0.0)
        return trust_region_body(box, verifier=verifier, **loop)

    def _unbounded(self, run):
        """The unconstrained body, with the result keys of a bounded run (every method that takes
        bounds returns them): ``pgnorm = ||g||_inf``, nothing active."""
        try:
            return self.unconstrained(run)
        finally:
            run.extra["pgnorm"] = float(np.max(np.abs(run.g))) if run.g.size else 0.0
            run.extra["active_mask"] = np.zeros(run.x.size, dtype=int)

    def __call__(self, run):
        return self.unconstrained(run)


def _first_step_radius(lower, upper, max_trust_radius):
    """``initial_trust_radius(run)``: ``||P[x0 - g0] - x0||_2``, capped by `max_trust_radius`.

    It is the first step of L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995), the generalized
    Cauchy point of the model ``B = I`` taken whole: where the bounds stop the
    projected path early (a vertex of the box within reach), the first trial point is
    that vertex and not a radius-1 step towards it.  A poor guess costs value calls only:
    a rejected trial point is not given a gradient.
    """

    def radius(run):
        pg = np.clip(run.x - run.g, lower, upper) - run.x
        length = _norm(pg)
        return min(length, max_trust_radius) if math.isfinite(length) and length > 0.0 else 1.0

    return radius
