"""Hessian-vector products from a limited-memory quasi-Newton model: no gradient call per product.

A Newton method buys each product ``H p`` with a gradient call (finite
differences); a quasi-Newton model learns the curvature from the steps
already taken, at no extra call.  `QuasiNewtonHVP` is such a model behind the
`HVPBackend` interface, so that a subproblem solver written for products
(the bounded trust-region step of `curvopt.trust_region.bounded`: Cauchy
point, CG on the free variables, projected search) runs on it unchanged.
Each product costs ``O(n m)`` flops, ``m`` the memory.

The model is updated by the points it is linearized at: `linearize(x, g)`
at a new point adds the pair ``(s, y) = (x - x_prev, g - g_prev)``.  Pairs
from elsewhere (a rejected trial point whose gradient came for free) go in
through `observe`.

The matrix is the compact representation of Byrd, Nocedal & Schnabel (1994)
(`CompactModel`):

    B = gamma I + Psi M Psi'

built from the last `memory` pairs, ``gamma = y'y / s'y`` of the newest.

``'bfgs'`` (default)
    L-BFGS: ``Psi = [gamma S, Y]``, ``M = -[[gamma S'S, L], [L', -D]]^-1``
    (``S'Y = L + D + U``), positive definite while every pair has
    ``s'y > 0`` (pairs that do not are skipped).
``'sr1'``
    L-SR1: ``Psi = Y - gamma S``, ``M = (D + L + L' - gamma S'S)^-1``; it can
    represent negative curvature.  A pair is skipped when
    ``|s'(y - B s)| < 1e-8 ||s|| ||y - B s||`` (Nocedal & Wright, eq. 6.26).

The model is not the Hessian: curvature checks of a verified minimum
(`curvopt._verify`) use the run's true products, never these.

References
----------
R. H. Byrd, P. Lu, J. Nocedal and C. Zhu, "A limited memory algorithm for
bound constrained optimization", SIAM J. Sci. Comput. 16(5), 1190-1208, 1995
(the generalized Cauchy point, `QuasiNewtonHVP.generalized_cauchy_point`).
R. H. Byrd, J. Nocedal and R. B. Schnabel, "Representations of quasi-Newton
matrices and their use in limited memory methods", Math. Program. 63,
129-156, 1994.
J. Nocedal and S. J. Wright, *Numerical Optimization*, 2nd ed., Springer,
2006, Sections 6.2 and 7.2.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import norm as _norm
from .backends import HVPBackend

__all__ = ["CompactModel", "QuasiNewtonHVP"]


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


class QuasiNewtonHVP(HVPBackend):
    """Products ``B p`` with a `CompactModel` updated at every new linearization point.

    Parameters
    ----------
    n : int
        Number of variables.
    memory : int
        Pairs the model keeps (L-BFGS-B's ``maxcor``).
    kind : {'bfgs', 'sr1'}
        The update (see the module docstring).

    Attributes
    ----------
    model : CompactModel
    n_updates : int
        Pairs the model accepted.

    Notes
    -----
    With no pair yet, ``B = I`` (scaled by nothing: the trust region sets the
    length of the first step), as L-BFGS-B's first generalized Cauchy point.
    """

    name = "quasi-newton"
    exact = False

    def __init__(self, n, memory=10, kind="bfgs"):
        super().__init__()
        self.model = CompactModel(n, memory, kind)
        self.n_updates = 0
        self._g = None

    def linearize(self, x, gradient=None):
        """Move to `x` with gradient `gradient` (required); a new point adds the pair from the last."""
        if gradient is None:
            raise ValueError("QuasiNewtonHVP.linearize needs the gradient at x")
        if self.x is not None and self._g is not None and x is not self.x and not np.array_equal(x, self.x):
            self.observe(x - self.x, gradient - self._g)
        self.x = np.array(x, dtype=float, copy=True)
        self._g = np.array(gradient, dtype=float, copy=True)

    def observe(self, s, y) -> bool:
        """Add the pair (s, y) (a step and its gradient change) when it is safe."""
        added = self.model.update(np.asarray(s, dtype=float), np.asarray(y, dtype=float))
        self.n_updates += added
        return added

    def reset(self):
        """Forget every pair (the model after a saddle escape, or a broken one)."""
        self.model.reset()

    def _product(self, p):
        return self.model.matvec(p)

    def generalized_cauchy_point(self, x, g, lower, upper, radius):
        """The first local minimizer of the model along the projected path, inside the trust region.

        The path is ``x(t) = P[x - t g]`` (``P`` the projection on the box), cut where
        ``||x(t) - x||_2`` reaches `radius`.  As in L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995,
        Sec. 4), the breakpoints are visited in order and the model's slope and curvature on
        each segment are updated in ``O(k)`` per breakpoint (``k <= 2 memory``) from the
        eigen-form ``B = gamma I + P diag(lam) P'`` of the compact model, so that the whole
        search costs ``O(n log n + n k)`` and no product.

        Returns
        -------
        xs : ndarray
            The Cauchy point, in the box; coordinates that reached a bound are exactly on it.
        tr_limited : bool
            Whether the trust region ended the search.
        """
        n = x.size
        eig, gamma = self.model.spectrum()
        gamma = 1.0 if gamma is None else gamma
        if eig is None:
            P, lam = np.zeros((n, 0)), np.zeros(0)
        else:
            P, lam = eig
        with np.errstate(divide="ignore", invalid="ignore"):
            t_break = np.where(g < 0, (x - upper) / g, np.where(g > 0, (x - lower) / g, np.inf))
        t_break = np.maximum(t_break, 0.0)
        d = np.where(t_break > 0.0, -g, 0.0)  # coordinates at a bound -g points out of are held
        d_start = d.copy()
        z = np.zeros(n)
        order = np.argsort(t_break, kind="stable")
        order = order[t_break[order] > 0.0]
        gd = float(np.dot(g, d))
        dd = -gd
        zd = zz = 0.0
        c_z = np.zeros(lam.size)
        c_d = P.T @ d
        t = 0.0
        tr_limited = False
        radius2 = radius * radius
        at_bound = []  # coordinates that reached their bound on the path
        k = 0
        while dd > 0.0:
            f1 = gd + gamma * zd + float(np.dot(c_z, lam * c_d))
            f2 = gamma * dd + float(np.dot(c_d, lam * c_d))
            if f1 >= 0.0:
                break
            t_next = float(t_break[order[k]]) if k < order.size else np.inf
            seg = t_next - t
            # where ||z + tau d|| = radius on this segment
            disc = zd * zd + dd * (radius2 - zz)
            tau_tr = (-zd + math.sqrt(max(disc, 0.0))) / dd
            tau_min = -f1 / f2 if f2 > 0.0 else np.inf
            tau = min(seg, tau_tr, tau_min)
            if not math.isfinite(tau):
                break  # no radius and no curvature along an unbounded ray: stay (cannot happen with radius < inf)
            if tau < seg:
                z += tau * d
                tr_limited = tau_tr <= tau_min
                break
            # to the next breakpoint: coordinate order[k] reaches its bound and leaves the path
            z += seg * d
            zz += 2.0 * seg * zd + seg * seg * dd
            zd += seg * dd
            c_z += seg * c_d
            t = t_next
            while k < order.size and t_break[order[k]] <= t:
                b = order[k]
                k += 1
                db = d[b]
                if db == 0.0:
                    continue
                z[b] = upper[b] - x[b] if db > 0 else lower[b] - x[b]
                at_bound.append(b)
                gd -= g[b] * db
                zd -= z[b] * db
                dd -= db * db
                if lam.size:
                    c_d -= db * P[b]
                d[b] = 0.0
        xs = np.clip(x + z, lower, upper)
        if at_bound:
            idx = np.array(at_bound)
            xs[idx] = np.where(d_start[idx] > 0, upper[idx], lower[idx])  # exactly on the bound
        return xs, tr_limited
