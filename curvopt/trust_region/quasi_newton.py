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

References
----------
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
from ._loop import _gradient_or_none, _value_or_nan

__all__ = ["CompactModel", "solve_subproblem", "trust_lbfgs_body", "TRUST_LBFGS_COLUMNS"]

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


class CompactModel:
    """A limited-memory quasi-Newton matrix ``B = gamma I + Psi M Psi'`` from pairs (s, y).

    Parameters
    ----------
    n : int
    memory : int
        Pairs kept (the oldest is dropped).
    kind : {'bfgs', 'sr1'}
    """

    def __init__(self, n, memory=10, kind="bfgs"):
        self.n = n
        self.memory = memory
        self.kind = kind
        self.S = np.empty((n, 0))
        self.Y = np.empty((n, 0))
        self.gamma = None
        self._eig = None  # (P, lam): B = P diag(gamma + lam) P' + gamma (I - P P')

    @property
    def pairs(self) -> int:
        return self.S.shape[1]

    def reset(self):
        self.S = np.empty((self.n, 0))
        self.Y = np.empty((self.n, 0))
        self.gamma = None
        self._eig = None

    def update(self, s, y) -> bool:
        """Add the pair (s, y) when it is safe; True if it was added."""
        sy, yy, ss = float(np.dot(s, y)), float(np.dot(y, y)), float(np.dot(s, s))
        if not (math.isfinite(sy) and math.isfinite(yy)) or ss == 0.0:
            return False
        if self.kind == "bfgs":
            if not sy > 1e-10 * math.sqrt(ss * yy):
                return False
            gamma = yy / sy
        else:
            r = y - self.matvec(s) if self.pairs else y - (self.gamma or yy / max(abs(sy), 1e-300)) * s
            rs = float(np.dot(r, s))
            if abs(rs) < 1e-8 * math.sqrt(ss) * _norm(r):
                return False
            gamma = self._sr1_gamma(sy, yy)
        S = np.column_stack([self.S, s])[:, -self.memory:]
        Y = np.column_stack([self.Y, y])[:, -self.memory:]
        old = (self.S, self.Y, self.gamma)
        self.S, self.Y, self.gamma = S, Y, gamma
        try:
            self._factor()
        except np.linalg.LinAlgError:
            self.S, self.Y, self.gamma = old
            self._factor() if self.pairs else None
            return False
        return True

    def _sr1_gamma(self, sy, yy):
        # gamma below the curvature y's'y/s's of the pairs keeps the middle matrix away from
        # singular; a positive multiple of y'y/s'y as long as the curvature is positive.
        g = yy / sy if sy > 0 else (self.gamma if self.gamma is not None else 1.0)
        return 0.5 * g if self.gamma is None else 0.5 * min(g, 2.0 * self.gamma)

    def _middle(self):
        S, Y, gamma = self.S, self.Y, self.gamma
        SY = S.T @ Y
        L = np.tril(SY, -1)
        D = np.diag(np.diag(SY))
        if self.kind == "bfgs":
            Psi = np.hstack([gamma * S, Y])
            K = np.block([[gamma * (S.T @ S), L], [L.T, -D]])
            return Psi, -np.linalg.inv(K)
        Psi = Y - gamma * S
        K = D + L + L.T - gamma * (S.T @ S)
        return Psi, np.linalg.inv(K)

    def _factor(self):
        if self.pairs == 0:
            self._eig = None
            return
        Psi, M = self._middle()
        if not np.all(np.isfinite(M)):
            raise np.linalg.LinAlgError("singular middle matrix")
        G = Psi.T @ Psi
        s, V = np.linalg.eigh(0.5 * (G + G.T))
        keep = s > 1e-12 * max(float(s[-1]), 1e-300) * len(s)
        s, V = s[keep], V[:, keep]
        root = np.sqrt(s)
        R = root[:, None] * V.T  # Psi = Q R with Q = Psi V / root
        T = R @ M @ R.T
        lam, U = np.linalg.eigh(0.5 * (T + T.T))
        P = Psi @ (V / root) @ U
        self._eig = (P, lam)

    def matvec(self, v):
        """B v."""
        gamma = 1.0 if self.gamma is None else self.gamma
        if self._eig is None:
            return gamma * v
        P, lam = self._eig
        return gamma * v + P @ (lam * (P.T @ v))

    def spectrum(self):
        """(P, eigenvalues on span P, gamma on the complement)."""
        return self._eig, self.gamma


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
