"""Extreme eigenpairs of a symmetric operator from products alone.

`eigenmodes` is a thick-restart Lanczos method (Krylov-Schur form) with full
reorthogonalization, a block variant, deflation of a known subspace, and a
probabilistic check that no copy of a degenerate eigenvalue was missed.

The state is the Krylov-Schur relation with a residual of several directions
(vectors are stored as rows)::

    A V^T = V^T T + F^T E^T,    V V^T = I,  F F^T = I,  F V^T = 0,

with ``T = V A V^T`` symmetric and ``E`` the coupling of each basis vector to
each residual direction; ``A = P H P`` with ``P`` the projector onto the
complement of the deflation basis and of the locked vectors.  Plain Lanczos is
the case of one residual direction and block Lanczos that of ``b``; a random
direction can be added at any time without breaking the relation (its
coupling is zero), which is how the complement of the basis is probed for
missed eigenvalues.  Expanding the basis by residual directions keeps the
relation exact, so the Ritz residual norms ``||E^T s||`` are true residual
norms, obtained without extra products.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from ._common import (
    as_counting_operator,
    as_deflation_basis,
    as_generator,
    check_positive_int,
    check_start_block,
    check_tolerance,
    project_out,
)
from ._result import EigenResult

__all__ = ["eigenmodes"]

_EPS = np.finfo(np.float64).eps
# ARPACK floors its relative test at eps**(2/3); curvopt scales the same floor by ||H||.
_FLOOR = _EPS ** (2.0 / 3.0)
# Accepted probability that a missed eigenvector (a copy of a degenerate
# eigenvalue) survives the check of one random probe.
_MISS_PROBABILITY = 1e-3
# A new residual direction shorter than this (relative to ||H||) is rounding:
# the basis spans an invariant subspace and that direction is dropped.
_BREAKDOWN = 1e-11

_WHICH = ("smallest", "largest", "both")
# fraction of the free room of the basis filled with the wanted pairs' neighbours at a restart
_KEEP = 0.5
# how often locked vectors may be returned to the basis to clear their coupling to wanted pairs
_MAX_REFINEMENTS = 10


class _KrylovSchur:
    """Krylov-Schur state: basis rows V, projected T, residual rows F, coupling E, locked vectors.

    Relation (rows are vectors): ``A V^T = V^T T + F^T E^T`` for the operator
    ``A = P H P``, P the projector onto the complement of the constraint rows
    (the deflation basis and the locked vectors).
    """

    def __init__(self, op, D, capacity, rng):
        self.op = op
        self.n = op.n
        self.rng = rng
        self.V = np.empty((capacity, self.n))
        self.T = np.zeros((capacity, capacity))
        self.j = 0
        self.F = np.empty((0, self.n))
        self.E = np.zeros((0, 0))
        self.C = D  # constraint rows: deflation basis, then locked vectors
        self.n_deflate = 0 if D is None else D.shape[0]
        self.locked_theta = np.zeros(0)
        self.locked_res = np.empty((0, self.n))  # true residual rows H y - theta y of the locked vectors
        self.locked_test = np.zeros(0)
        self.norm_estimate = 0.0

    # -- orthogonality
    def _project(self, W, F):
        V = self.V[: self.j]
        for _ in range(2):
            if self.C is not None:
                W -= (W @ self.C.T) @ self.C
            if self.j:
                W -= (W @ V.T) @ V
            if F.shape[0]:
                W -= (W @ F.T) @ F
        return W

    def add_random(self, count: int) -> list:
        """Add `count` random residual directions (zero coupling); returns their row indices."""
        if count <= 0:
            return []
        W = self.rng.standard_normal((count, self.n))
        return self.add_directions(W)

    def add_directions(self, W) -> list:
        W = np.array(W, dtype=np.float64, ndmin=2)
        norms = np.linalg.norm(W, axis=1)
        norms[norms == 0] = 1.0
        W = self._project(W / norms[:, None], self.F)
        U, s, _ = np.linalg.svd(W.T, full_matrices=False)
        good = s > 1e-8
        if not np.any(good):
            return []
        Q = self._project(np.ascontiguousarray(U[:, good].T), self.F)
        Q, _ = np.linalg.qr(Q.T)
        Q = Q.T
        r0 = self.F.shape[0]
        self.F = np.vstack([self.F, Q])
        self.E = np.hstack([self.E, np.zeros((self.j, Q.shape[0]))])
        return list(range(r0, r0 + Q.shape[0]))

    # -- one block of products
    def expand(self, rows) -> list:
        """Move residual directions `rows` into the basis (one block of products); returns the new residual rows."""
        rows = list(rows)
        j, b = self.j, len(rows)
        r = self.F.shape[0]
        rest = [c for c in range(r) if c not in rows]
        Q = self.F[rows]
        coupling = self.E[:j, rows]  # V^T A Q, exactly, by the relation
        if b == 1:
            W = self.op.matvec(np.ascontiguousarray(Q[0]))[None, :]
        else:
            W = np.ascontiguousarray(self.op.matmat(np.ascontiguousarray(Q.T)).T)
        if self.C is not None:
            W = W - (W @ self.C.T) @ self.C
        if j:
            W = W - coupling.T @ self.V[:j]
        M = Q @ W.T
        M = 0.5 * (M + M.T)
        W = W - M @ Q
        Frest = self.F[rest]
        G = W @ Frest.T
        W -= G @ Frest
        self.V[j : j + b] = Q
        self.j = j + b
        V = self.V[: self.j]
        # reorthogonalize: coefficients on the basis are rounding and are
        # dropped; those on the other residual directions are real coupling
        for _ in range(2):
            if self.C is not None:
                W -= (W @ self.C.T) @ self.C
            W -= (W @ V.T) @ V
            if rest:
                g = W @ Frest.T
                W -= g @ Frest
                G += g
        self.norm_estimate = max(self.norm_estimate, float(np.max(np.abs(np.linalg.eigvalsh(M)))))
        U, s, Vt = np.linalg.svd(W.T, full_matrices=False)
        good = s > _BREAKDOWN * max(self.norm_estimate, np.finfo(float).tiny)
        Qn = np.ascontiguousarray(U[:, good].T)
        Rn = s[good, None] * Vt[good]  # W = Rn^T Qn
        if Qn.shape[0]:
            Qn = self._project(Qn, Frest)
            Qq, Rq = np.linalg.qr(Qn.T)
            Qn = Qq.T
            Rn = Rq @ Rn
        rn = Qn.shape[0]
        E = np.zeros((self.j, len(rest) + rn))
        E[:j, : len(rest)] = self.E[:j, rest]
        E[j:, : len(rest)] = G
        E[j:, len(rest) :] = Rn.T
        self.E = E
        self.F = np.vstack([Frest, Qn])
        T = self.T
        T[:j, j : j + b] = coupling
        T[j : j + b, :j] = coupling.T
        T[j : j + b, j : j + b] = M
        return list(range(len(rest), len(rest) + rn))

    # -- Rayleigh-Ritz
    def ritz(self, p0=0, p1=None):
        """Ritz values (ascending), vectors (in basis rows p0:p1) and residual norms of T[p0:p1, p0:p1]."""
        p1 = self.j if p1 is None else p1
        theta, S = np.linalg.eigh(self.T[p0:p1, p0:p1])
        if self.E.shape[1]:
            res = np.linalg.norm(S.T @ self.E[p0:p1], axis=1)
        else:
            res = np.zeros(theta.size)
        if theta.size:
            self.norm_estimate = max(self.norm_estimate, float(np.max(np.abs(theta))))
        return theta, S, res

    def restart_block(self, p0, p1, S_keep, theta_keep) -> None:
        """Replace basis rows p0:p1 by the Ritz vectors ``S_keep`` of that (decoupled) block."""
        q = S_keep.shape[1]
        j = self.j
        tail = j - p1
        newV = S_keep.T @ self.V[p0:p1]
        Ttail = self.T[p1:j, p1:j].copy()
        Tcross = self.T[:p0, p1:j].copy()
        self.V[p0 : p0 + q] = newV
        if tail:
            self.V[p0 + q : p0 + q + tail] = self.V[p1:j]
        self.T[p0:j, :j] = 0.0
        self.T[:j, p0:j] = 0.0
        idx = np.arange(p0, p0 + q)
        self.T[idx, idx] = theta_keep
        self.T[p0 + q : p0 + q + tail, p0 + q : p0 + q + tail] = Ttail
        self.T[:p0, p0 + q : p0 + q + tail] = Tcross
        self.T[p0 + q : p0 + q + tail, :p0] = Tcross.T
        self.E = np.vstack([self.E[:p0], S_keep.T @ self.E[p0:p1], self.E[p1:j]])
        self.j = p0 + q + tail

    def drop_rows(self, p0, keep_F) -> None:
        """Forget basis rows p0: and residual directions not in `keep_F` (no coupling to them may remain)."""
        self.j = p0
        keep_F = list(keep_F)
        self.F = self.F[keep_F]
        self.E = self.E[:p0][:, keep_F]

    def lock(self, p0, p1, S_sel, theta_sel) -> None:
        """Move the Ritz vectors ``V[p0:p1]^T S_sel`` to the locked set, with their true residuals."""
        Y = S_sel.T @ self.V[p0:p1]
        R = (S_sel.T @ self.E[p0:p1]) @ self.F
        if self.locked_res.shape[0]:
            # H y has components along earlier locked vectors l: l^T H y = r_l^T y
            L = self.C[self.n_deflate :]
            R = R + (Y @ self.locked_res.T) @ L
        self.C = Y if self.C is None else np.vstack([self.C, Y])
        self.locked_theta = np.concatenate([self.locked_theta, theta_sel])
        self.locked_res = np.vstack([self.locked_res, R])
        # true residual norms (with the parts along earlier locked vectors), which met the test
        self.locked_test = np.concatenate([self.locked_test, np.linalg.norm(R, axis=1)])

    def coupling(self, p0, p1, S):
        """``l^T H y`` for the Ritz vectors ``y = V[p0:p1]^T S`` and every locked vector l (columns)."""
        if not self.locked_res.shape[0]:
            return np.zeros((S.shape[1], 0))
        return (S.T @ self.V[p0:p1]) @ self.locked_res.T

    def unlock_indices(self, idx) -> None:
        """Return the locked vectors `idx` (positions in the locked set) to the basis."""
        idx = np.asarray(idx, dtype=int)
        if idx.size == 0:
            return
        nl = self.locked_theta.size
        order = np.concatenate([np.setdiff1d(np.arange(nl), idx), np.sort(idx)])
        nd = self.n_deflate
        self.C = np.vstack([self.C[:nd], self.C[nd:][order]])
        self.locked_theta = self.locked_theta[order]
        self.locked_res = self.locked_res[order]
        self.locked_test = self.locked_test[order]
        self.unlock(idx.size)

    def drop_locked(self, m):
        """Forget the last `m` locked vectors; returns them, their values and residual rows."""
        X = self.C[-m:].copy()
        theta = self.locked_theta[-m:].copy()
        R = self.locked_res[-m:].copy()
        self.C = self.C[:-m] if self.C.shape[0] > m else None
        self.locked_theta = self.locked_theta[:-m]
        self.locked_res = self.locked_res[:-m]
        self.locked_test = self.locked_test[:-m]
        return X, theta, R

    def unlock(self, m) -> None:
        """Return the last `m` locked vectors to the basis (appended after its rows).

        Their stored residuals give the relation for the operator without them
        as constraints: for a basis row q (orthogonal to them) ``x^T H q = r_x^T q``,
        and the part of ``r_x`` outside the basis and the residual directions
        becomes new residual directions.
        """
        if m <= 0:
            return
        X, theta, R = self.drop_locked(m)
        if self.C is not None:
            R = project_out(self.C, R.T).T  # the operator projects the remaining constraints out
        j = self.j
        if j + m > self.V.shape[0]:
            cap = j + m + 2
            V = np.empty((cap, self.n))
            V[:j] = self.V[:j]
            T = np.zeros((cap, cap))
            T[:j, :j] = self.T[:j, :j]
            self.V, self.T = V, T
        Q = self.V[:j]
        RQ = R @ Q.T
        RF = R @ self.F.T
        # vectors locked at different times couple: x_a^T H x_b = x_a^T r_b
        XHX = X @ R.T
        XHX = 0.5 * (XHX + XHX.T)
        XHX[np.diag_indices(m)] = theta
        rest = R - RQ @ Q - RF @ self.F - (R @ X.T) @ X
        for _ in range(2):
            rest = self._project(rest, self.F)
            rest -= (rest @ X.T) @ X
        U, s, Vt = np.linalg.svd(rest.T, full_matrices=False)
        good = s > _BREAKDOWN * max(self.norm_estimate, np.finfo(float).tiny)
        G = np.ascontiguousarray(U[:, good].T)
        K = s[good, None] * Vt[good]  # rest = K^T G
        self.V[j : j + m] = X
        self.T[j : j + m, :] = 0.0
        self.T[:, j : j + m] = 0.0
        self.T[j : j + m, :j] = RQ
        self.T[:j, j : j + m] = RQ.T
        self.T[j : j + m, j : j + m] = XHX
        r, g = self.F.shape[0], G.shape[0]
        E = np.zeros((j + m, r + g))
        E[:j, :r] = self.E[:j]
        E[j:, :r] = RF
        E[j:, r:] = K.T
        self.E = E
        self.F = np.vstack([self.F, G])
        self.j = j + m

    @property
    def locked_vectors(self):
        if self.C is None:
            return np.empty((0, self.n))
        return self.C[self.n_deflate :]


def _order(theta, which, k):
    """Indices of `theta` in order of preference and how many are wanted."""
    m = theta.size
    asc = np.argsort(theta, kind="stable")
    if which == "smallest":
        return asc, min(k, m)
    if which == "largest":
        return asc[::-1], min(k, m)
    out = []
    lo, hi = 0, m - 1
    while lo <= hi:
        out.append(asc[lo])
        if hi != lo:
            out.append(asc[hi])
        lo += 1
        hi -= 1
    return np.array(out, dtype=int), min(2 * k, m)


def _threshold(theta, scale, norm_est, tol):
    s = norm_est if scale is None else scale
    return tol * np.maximum(np.maximum(np.abs(theta), s), _FLOOR * norm_est)


def _boundaries(theta_w, margin_w, which, k):
    """Thresholds beyond which an eigenvalue would be (or tie with) a wanted one: (low, high).

    ``margin_w`` moves each threshold from the last wanted value: a positive
    margin towards the inside of the spectrum (ties count), a negative one
    towards the wanted end.
    """
    lo = hi = None
    if which in ("smallest", "both"):
        ww = np.argsort(theta_w)[:k] if which == "both" else np.arange(theta_w.size)
        i = ww[np.argmax(theta_w[ww])]
        lo = float(theta_w[i] + margin_w[i])
    if which in ("largest", "both"):
        ww = np.argsort(theta_w)[-k:] if which == "both" else np.arange(theta_w.size)
        i = ww[np.argmin(theta_w[ww])]
        hi = float(theta_w[i] - margin_w[i])
    return lo, hi


def _certify_thresholds(theta_w, tau_w, which, k, tol):
    """Where the check for missed eigenvalues draws its line: (low, high).

    A missed eigenvalue matters when it lies beyond the last wanted value's
    cluster (wanted values chained by gaps within their tolerance) by more
    than ``delta = max(tau, sqrt(tol) |theta|, gap / 2)``, ``gap`` being the
    distance from that cluster to the next wanted value towards the end
    sought: a missed copy of any wanted value outside the last cluster is
    then caught, while an eigenvalue that ties with the last wanted one
    (a copy beyond the k requested) cannot slow the check down unduly.
    """

    def side(values, taus, sign):
        # work on the 'smallest' side: larger is further from the end sought
        v = sign * values
        order = np.argsort(v)
        v, t = v[order], taus[order]
        last = v.size - 1
        low = last
        while low > 0 and v[low] - v[low - 1] <= max(t[low], t[low - 1]):
            low -= 1
        gap = v[low] - v[low - 1] if low > 0 else 0.0
        delta = max(t[last], math.sqrt(tol) * abs(v[last]), 0.5 * gap)
        return sign * (v[low] - delta)

    lo = hi = None
    if which in ("smallest", "both"):
        sel = np.argsort(theta_w)[:k] if which == "both" else np.arange(theta_w.size)
        lo = float(side(theta_w[sel], tau_w[sel], 1.0))
    if which in ("largest", "both"):
        sel = np.argsort(theta_w)[-k:] if which == "both" else np.arange(theta_w.size)
        hi = float(side(theta_w[sel], tau_w[sel], -1.0))
    return lo, hi


def _beyond(values, x_pair):
    lo, hi = x_pair
    out = np.zeros(values.size, dtype=bool)
    if lo is not None:
        out |= values <= lo
    if hi is not None:
        out |= values >= hi
    return out


def _safe_deflation(theta, res, candidates, x_cert, x_find, x_tie, budget=0.5, max_leak=0.5):
    """Unconverged Ritz pairs that the probe may deflate as well, and the probe's threshold.

    A Ritz pair ``(theta_i, x_i)`` of the Krylov-Schur relation has residual
    ``r_i`` orthogonal to the basis, so for an eigenvector ``y`` (eigenvalue
    ``mu``) missing from the basis ``(mu - theta_i) x_i^T y = r_i^T y``: its
    weight on ``x_i`` is at most ``||r_i|| / |theta_i - mu|``.  Projecting a set
    of such ``x_i`` out leaves a unit vector ``z`` (``y`` minus those parts,
    normalised) whose Rayleigh quotient exceeds ``mu`` by at most
    ``sum ||r_i||**2 / |theta_i - mu| / (1 - eps**2)``, ``eps**2 = sum
    ||r_i||**2 / (theta_i - mu)**2``: the deflated operator still has an
    eigenvalue beyond the threshold moved inwards by that shift.  Pairs are
    taken from the ends of the spectrum inwards (the wanted end first: the
    edges of what is left set the probe's speed) while the shift stays within
    ``budget`` of the room between ``x_cert`` and ``x_find`` (so a missed copy
    is still a find or fails the check) and ``eps**2 <= max_leak``.  Converged
    neighbours are no exception: at a relative tolerance far from the wanted
    end their residuals can be large.  A basis close to an
    invariant subspace (small problems, symmetric molecules) is then deflated
    almost whole, and the probe runs on what the first run never saw.

    Returns the indices into `theta` and the thresholds ``(low, high)`` for the probe.
    """
    inner = candidates.copy()
    if x_tie[0] is not None:
        inner &= theta > x_tie[0]
    if x_tie[1] is not None:
        inner &= theta < x_tie[1]
    idx = np.flatnonzero(inner)
    sides = []
    for s, (xc, xf) in enumerate(zip(x_cert, x_find)):
        if xc is None:
            continue
        room = budget * abs(xf - xc)
        dist = np.abs(theta[idx] - xc)
        sides.append((s, room, res[idx] ** 2 / dist, res[idx] ** 2 / dist**2))
    if not sides or idx.size == 0:
        return np.zeros(0, dtype=int), x_cert
    shift = {s: 0.0 for s, *_ in sides}
    leak = {s: 0.0 for s, *_ in sides}

    def take(i):
        trial = {}
        for s, room, c, e in sides:
            sh, lk = shift[s] + c[i], leak[s] + e[i]
            if lk > max_leak or sh / (1.0 - lk) > room:
                return False
            trial[s] = (sh, lk)
        for s, v in trial.items():
            shift[s], leak[s] = v
        return True

    # the probe's speed depends on the edges of what is left of the spectrum:
    # deflate from the ends inwards (the wanted end first) while the shift fits
    asc = np.argsort(theta[idx], kind="stable")
    ends = [asc, asc[::-1]] if x_cert[0] is not None else [asc[::-1], asc]
    taken = np.zeros(idx.size, dtype=bool)
    for seq in ends:
        for i in seq:
            if taken[i]:
                continue
            if not take(i):
                break
            taken[i] = True
    chosen = idx[taken]
    x = list(x_cert)
    for s, *_ in sides:
        move = shift[s] / (1.0 - leak[s])
        x[s] = x[s] + move if s == 0 else x[s] - move
    return np.sort(np.array(chosen, dtype=int)), tuple(x)


def _poly_log_abs(alphas, betas, x_pair):
    """Smallest over the thresholds x of ``log sqrt(K_m(x, x))`` for the chain (alphas, betas).

    ``K_m(x, x) = sum_{i <= m} p_i(x)^2`` (the Christoffel-Darboux kernel of
    the chain's orthonormal polynomials) is the largest ``P(x)^2`` over
    polynomials of degree <= m with ``||P(B) u|| = 1``, so every eigenvector
    beyond x has weight at most ``1 / K_m(x, x)`` in ``u``.  Returns -inf if a
    Ritz value of the chain lies beyond x (the bound needs x outside them).
    """
    m = alphas.size
    if m == 0:
        return 0.0
    if np.any(betas[: m - 1] == 0):
        return np.inf
    rho = scipy.linalg.eigvalsh_tridiagonal(alphas, betas[: m - 1]) if m > 1 else alphas.copy()
    if np.any(_beyond(rho, x_pair)):
        return -np.inf
    if betas[m - 1] == 0:
        return np.inf  # invariant subspace: the probe has no weight outside it
    out = np.inf
    for x in x_pair:
        if x is None:
            continue
        log_scale, p_prev, p, total = 0.0, 0.0, 1.0, 1.0
        for i in range(m):
            p_next = ((x - alphas[i]) * p - (betas[i - 1] * p_prev if i else 0.0)) / betas[i]
            p_prev, p = p, p_next
            total += p * p
            if abs(p) > 1e100:
                p_prev, p, total = p_prev * 1e-100, p * 1e-100, total * 1e-200
                log_scale += 100 * math.log(10.0)
        out = min(out, log_scale + 0.5 * math.log(total))
    return out


def _scalar_lanczos(T, c, steps):
    """Lanczos coefficients of the small matrix T from the unit vector e_c."""
    m = T.shape[0]
    Q = np.zeros((steps + 1, m))
    Q[0, c] = 1.0
    alphas = np.zeros(steps)
    betas = np.zeros(steps)
    for i in range(steps):
        w = T @ Q[i]
        alphas[i] = Q[i] @ w
        for _ in range(2):
            w -= Q[: i + 1].T @ (Q[: i + 1] @ w)
        betas[i] = np.linalg.norm(w)
        if betas[i] <= 1e-14 * max(1.0, abs(alphas[i])):
            betas[i] = 0.0
            return alphas[: i + 1], betas[: i + 1]
        Q[i + 1] = w / betas[i]
    return alphas, betas


def _chain_log_bounds(ks, probe, x_pair):
    """Per start column, ``log|p(x)|`` of the probe chain in basis rows ``probe.start:j``.

    For a block chain of ``b`` start vectors the scalar chain of each start
    column is recovered from the projected matrix (its first ``s`` steps lie
    in the block Krylov space after ``s + 1`` block steps).
    """
    p0, j, b = probe["start"], ks.j, probe["b"]
    m = j - p0
    if m <= 0:
        return np.zeros(b)
    Tc = ks.T[p0:j, p0:j]
    if b == 1:
        rows = probe["rows"]
        beta_last = float(np.linalg.norm(ks.E[j - 1, rows])) if rows else 0.0
        alphas = np.diag(Tc).copy()
        betas = np.append(np.abs(np.diag(Tc, 1)), beta_last)
        return np.array([_poly_log_abs(alphas, betas, x_pair)])
    steps = m // b - 1
    if steps < 1:
        return np.zeros(b)
    out = np.zeros(b)
    for c in range(b):
        alphas, betas = _scalar_lanczos(Tc, c, steps)
        out[c] = _poly_log_abs(alphas, betas, x_pair)
    return out


def _residual_weights(S, res, w, tau, E):
    """Weight of the unconverged wanted pairs' residuals along each residual direction."""
    if E.shape[1] == 0 or w.size == 0:
        return np.zeros(E.shape[1])
    C = (S[:, w].T @ E) / np.maximum(tau, np.finfo(float).tiny)[:, None]
    unconv = res[w] > tau
    if not np.any(unconv):
        return np.sum(C**2, axis=0)
    return np.sum(C[unconv] ** 2, axis=0)


class _Run:
    """Restarts and the search for missed eigenvalues around `_KrylovSchur`.

    Phases: *converge* -- thick-restart Lanczos, expanding the residual
    directions that carry the residuals of the unconverged wanted pairs --
    and, once all wanted pairs have converged, *probe*: the converged pairs
    are locked, the rest of the basis is dropped, and a Lanczos chain from a
    random vector in the complement of the locked vectors either certifies
    that nothing was missed or finds a Ritz value beyond the wanted ones;
    the chain then becomes the basis of a new converge phase.
    """

    def __init__(self, ks, k, k_total, which, tol, scale, ncv, maxiter, b, check_degeneracy, n_eff):
        self.ks, self.k, self.k_total, self.which = ks, k, k_total, which
        self.tol, self.scale, self.ncv, self.maxiter, self.b = tol, scale, ncv, maxiter, b
        self.n_eff = n_eff
        if check_degeneracy is True:
            self.check_degeneracy, self.miss_probability = True, _MISS_PROBABILITY
        else:
            self.check_degeneracy, self.miss_probability = bool(check_degeneracy), float(check_degeneracy or 0.0)
        self.nit = 0
        self.probe = None
        self.n_extra = 0  # Ritz vectors deflated (locked last) for the current probe only
        self.refinements = 0

    def analyse(self):
        """Ritz pairs of the basis, merged with the locked ones; the wanted set and its stopping test."""
        ks = self.ks
        pr = self.probe
        if pr is not None and 0 < pr["start"] < ks.j:
            # T is block diagonal (basis | probe chain): solve the blocks apart so
            # that equal Ritz values of the two blocks are not mixed
            p0 = pr["start"]
            t1, S1, r1 = ks.ritz(0, p0)
            t2, S2, r2 = ks.ritz(p0, ks.j)
            theta = np.concatenate([t1, t2])
            S = scipy.linalg.block_diag(S1, S2)
            res = np.concatenate([r1, r2])
            self.chain_theta = t2
        else:
            theta, S, res = ks.ritz()
            self.chain_theta = theta if pr is not None else np.zeros(0)
        nl = ks.locked_theta.size
        theta_u = np.concatenate([theta, ks.locked_theta])
        res_u = np.concatenate([res, ks.locked_test]) if nl else res
        order, nw = _order(theta_u, self.which, self.k)
        w_u = order[:nw]
        tau_u = _threshold(theta_u[w_u], self.scale, ks.norm_estimate, self.tol)
        self.theta, self.S, self.res = theta, S, res
        self.w_u, self.theta_u, self.tau_u = w_u, theta_u, tau_u
        active = w_u < theta.size
        self.w = w_u[active]
        self.tau = tau_u[active]
        self.all_conv = nw == self.k_total and bool(np.all(res_u[w_u] <= tau_u))

    def free_space(self):
        return self.n_eff - self.ks.j - self.ks.F.shape[0] - self.ks.locked_theta.size

    def converge_rows(self):
        ks, b = self.ks, self.b
        r = ks.F.shape[0]
        weight = _residual_weights(self.S, self.res, self.w, self.tau, ks.E)
        if r and np.any(weight > 0):
            rows = sorted(np.argsort(weight)[::-1][: min(b, r)].tolist())
        else:
            rows = list(range(max(0, r - b), r))
        if len(rows) < b:
            rows = rows + ks.add_random(min(b - len(rows), self.free_space()))
        return rows

    def thick_restart(self):
        """Keep the wanted Ritz vectors and their neighbours: half of the room left."""
        ks = self.ks
        order, nw = _order(self.theta, self.which, self.k)
        nkeep = min(nw + max(int((self.ncv - nw) * _KEEP), 0), ks.j - 1)
        keep = np.sort(order[: max(nkeep, 0)])
        ks.restart_block(0, ks.j, self.S[:, keep], self.theta[keep])

    def restart_chain(self):
        """Continue a long probe chain from its residual alone: the weight bounds multiply."""
        ks, pr = self.ks, self.probe
        L = _chain_log_bounds(ks, pr, pr["x"])
        pr["logb"] += max(float(np.min(L)), 0.0)
        ks.drop_rows(pr["start"], range(ks.F.shape[0]))

    def start_probe(self):
        """Lock the converged wanted pairs, deflate what provably holds little of a missed
        eigenvector, drop the rest of the basis, and start a probe chain from a random vector
        in the complement of the locked and deflated vectors.

        The rest is dropped because a basis grown over many steps holds
        parts of a missed copy (rounding errors along it are amplified like
        the copy that was found).  Converged neighbours are no exception: at
        a relative tolerance their residuals can be large, and deflating them
        moves a missed eigenvalue (see `_safe_deflation`); they are deflated
        when that bound allows, like any other Ritz vector.
        """
        ks = self.ks
        if self.release_stale():
            self.analyse()
            if not self.all_conv:
                return True  # back to the converge phase
        th = self.theta_u[self.w_u]
        # a chain Ritz value beyond the wanted ones by more than their
        # tolerance is a find; the check certifies that nothing is missed
        # beyond x_cert (see _certify_thresholds)
        x_find = _boundaries(th, -self.tau_u, self.which, self.k)
        x_cert = _certify_thresholds(th, self.tau_u, self.which, self.k, self.tol)
        x_tie = _boundaries(th, self.tau_u, self.which, self.k)
        theta, S, res = ks.ritz(0, ks.j)
        _, _, _, locked = self.lock_wanted(0, ks.j, neighbours=False)
        extra, x_probe = _safe_deflation(theta, res, ~locked, x_cert, x_find, x_tie)
        if extra.size:
            ks.lock(0, ks.j, S[:, extra], theta[extra])
        self.n_extra = int(extra.size)
        ks.restart_block(0, ks.j, np.zeros((ks.j, 0)), np.zeros(0))
        ks.drop_rows(0, [])
        rows = ks.add_random(min(self.b, self.free_space()))
        if not rows:
            # the locked and deflated vectors span the space: by the bound a missed
            # eigenvector would keep weight outside them, so none is missed
            return False
        self.probe = {"start": ks.j, "rows": rows, "b": len(rows), "logb": 0.0, "x": x_probe, "x_find": x_find}
        return True

    def release_stale(self):
        """Return to the basis the locked vectors that are no longer wanted (nor tie with a
        wanted one): a find pushed them out, and only wanted pairs stay locked through a probe."""
        ks = self.ks
        nl = ks.locked_theta.size
        if not nl:
            return False
        na = self.theta.size
        keep = np.zeros(nl, dtype=bool)
        keep[[i - na for i in self.w_u if i >= na]] = True
        x_tie = _boundaries(self.theta_u[self.w_u], self.tau_u, self.which, self.k)
        keep |= _beyond(ks.locked_theta, x_tie)
        stale = np.flatnonzero(~keep)
        if not stale.size:
            return False
        ks.unlock_indices(stale)
        return True

    def lock_wanted(self, p0, p1, neighbours=True):
        """Lock the Ritz pairs of basis rows p0:p1 (a block decoupled from the rest) that meet the
        stopping test: wanted ones, ties and (if `neighbours`) converged neighbours.

        Returns the Ritz values and vectors of the block, a mask of the wanted (or tied)
        pairs left unlocked and a mask of those locked.
        """
        ks = self.ks
        theta, S, res = ks.ritz(p0, p1)
        theta_u = np.concatenate([theta, ks.locked_theta])
        order, nw = _order(theta_u, self.which, self.k)
        w = order[:nw]
        tau_w = _threshold(theta_u[w], self.scale, ks.norm_estimate, self.tol)
        x_tie = _boundaries(theta_u[w], tau_w, self.which, self.k)
        cand = np.zeros(theta.size, dtype=bool)
        cand[[i for i in w if i < theta.size]] = True
        cand |= _beyond(theta, x_tie)
        res = np.hypot(res, np.linalg.norm(ks.coupling(p0, p1, S), axis=1))
        tight = res <= _threshold(theta, self.scale, ks.norm_estimate, self.tol)
        locked = tight if neighbours else tight & cand
        sel = np.flatnonzero(locked)
        if sel.size:
            ks.lock(p0, p1, S[:, sel], theta[sel])
        return theta, S, cand & ~tight, locked

    def release_coupled(self):
        """Unlock the locked vectors that keep a converged wanted pair from passing the test.

        The stopping test of the basis' pairs is taken in the operator with
        the locked vectors projected out; their true residual also has the
        parts ``l^T H y = r_l^T y`` along the locked vectors l, which only
        shrink when those go back to the basis.  Returns whether any did.
        """
        ks = self.ks
        if self.refinements >= _MAX_REFINEMENTS or not ks.locked_theta.size or not self.w.size:
            return False
        S, res = self.S, self.res
        G = ks.coupling(0, ks.j, S[:, self.w])
        total = res[self.w] ** 2 + np.sum(G**2, axis=1)
        release = set()
        for i in np.flatnonzero(total > self.tau**2):
            # the largest parts first, until what is left fits in half the room
            room = 0.5 * max(self.tau[i] ** 2 - res[self.w[i]] ** 2, 0.0)
            parts = G[i] ** 2
            left = float(np.sum(parts))
            for c in np.argsort(parts)[::-1]:
                if left <= room:
                    break
                release.add(int(c))
                left -= parts[c]
        if not release:
            return False
        self.refinements += 1
        ks.unlock_indices(sorted(release))
        return True

    def end_probe(self):
        """The check passed: forget the chain (random directions, of no use to the wanted pairs)
        and the vectors deflated for it."""
        ks = self.ks
        ks.restart_block(0, ks.j, np.zeros((ks.j, 0)), np.zeros(0))
        ks.drop_rows(0, [])
        if self.n_extra:
            ks.drop_locked(self.n_extra)
            self.n_extra = 0
        self.probe = None

    def promote_chain(self):
        """The probe found a Ritz value beyond the wanted ones: lock the basis' converged
        pairs, keep its unconverged wanted ones, drop the rest of the basis and go on with
        the chain as part of the basis."""
        ks, pr = self.ks, self.probe
        p0 = pr["start"]
        if p0 > 0:
            theta, S, loose, _ = self.lock_wanted(0, p0)
            keep = np.flatnonzero(loose)
            # the chain is orthogonal to the dropped rows and H maps it to no component along them
            ks.restart_block(0, p0, S[:, keep], theta[keep])
        # the Ritz vectors deflated for the check go back to the basis: a find changes the
        # wanted set, and their residuals may be too large to leave them locked
        ks.unlock(self.n_extra)
        self.n_extra = 0
        self.probe = None

    def run(self):
        ks = self.ks
        self.analyse()
        while True:
            pr = self.probe
            rows = pr["rows"] if pr is not None else self.converge_rows()
            if not rows:
                if pr is None:
                    if self.release_coupled():
                        self.analyse()
                        continue
                    return True, "The basis spans the whole space: the eigenpairs are exact."
                if not np.any(_beyond(self.chain_theta, pr["x_find"])):
                    # the probe chain spans an invariant subspace: the probe has no weight outside it
                    self.end_probe()
                    return True, "All eigenpairs converged; no missed eigenvalue found."
                self.promote_chain()
                self.analyse()
                continue
            if ks.j + len(rows) > self.ncv:
                self.nit += 1
                if self.nit > self.maxiter:
                    return False, f"Maximum number of restarts ({self.maxiter}) reached."
                if pr is None:
                    self.thick_restart()
                else:
                    self.restart_chain()
            new_rows = ks.expand(rows)
            if pr is not None:
                pr["rows"] = new_rows
            self.analyse()
            if pr is not None:
                if np.any(_beyond(self.chain_theta, pr["x_find"])):
                    # a find: converge it as part of the basis.  A chain value that only
                    # ties with the last wanted one (within its tolerance) is no find
                    self.promote_chain()
                    self.analyse()
                    continue
                L = _chain_log_bounds(ks, pr, pr["x"]) + pr["logb"]
                n_prime = max(self.n_eff - pr["start"] - ks.locked_theta.size, 1)
                log_pref = 0.5 * math.log(2.0 * n_prime / math.pi)
                log_miss = float(np.sum(np.minimum(log_pref - L, 0.0)))
                if log_miss <= math.log(self.miss_probability) or not pr["rows"]:
                    self.end_probe()
                    return True, "All eigenpairs converged; no missed eigenvalue found."
                continue
            if not self.all_conv:
                continue
            if not self.check_degeneracy:
                return True, "All eigenpairs converged."
            if self.release_coupled():
                self.analyse()
                continue
            if not self.start_probe():
                return True, "All eigenpairs converged; the basis spans the whole space."

    def result(self, opc, converged, message):
        """The wanted pairs with their true residuals (a final Rayleigh-Ritz over locked and
        active vectors when it does not raise the residuals)."""
        ks = self.ks
        if self.n_extra:
            ks.drop_locked(self.n_extra)  # deflated for a probe only: not candidates to return
            self.n_extra = 0
        self.analyse()
        theta, S = self.theta, self.S
        na = theta.size
        w_act = np.array([i for i in self.w_u if i < na], dtype=int)
        w_lock = np.array([i - na for i in self.w_u if i >= na], dtype=int)
        Z = S[:, w_act].T @ ks.V[: ks.j]
        RZ = (S[:, w_act].T @ ks.E) @ ks.F if ks.F.shape[0] else np.zeros_like(Z)
        L = ks.locked_vectors
        nl = L.shape[0]
        if nl:
            RL = ks.locked_res
            # H z has a component along each locked l: l^T H z = r_l^T z
            ZR = Z @ RL.T
            RZ_true = RZ + ZR @ L
            values = np.concatenate([theta[w_act], ks.locked_theta[w_lock]])
            X = np.vstack([Z, L[w_lock]])
            R = np.vstack([RZ_true, RL[w_lock]])
            res = np.linalg.norm(R, axis=1)
            # Rayleigh-Ritz over all locked and the chosen active vectors
            M = np.zeros((nl + Z.shape[0], nl + Z.shape[0]))
            LR = L @ RL.T
            M[:nl, :nl] = np.diag(ks.locked_theta) + 0.5 * (LR + LR.T)
            M[nl:, :nl] = ZR
            M[:nl, nl:] = ZR.T
            M[nl:, nl:] = np.diag(theta[w_act])
            lam, W = np.linalg.eigh(M)
            order, nw = _order(lam, self.which, self.k)
            sel = np.sort(order[:nw])
            G = np.vstack([RL - (RL @ L.T) @ L - ZR.T @ Z, RZ])
            X_rr = W[:, sel].T @ np.vstack([L, Z])
            R_rr = W[:, sel].T @ G
            res_rr = np.linalg.norm(R_rr, axis=1)
            tau_rr = _threshold(lam[sel], self.scale, ks.norm_estimate, self.tol)
            # the rotation can move residual between the pairs of a cluster: if it
            # takes one over its test, keep the pairs that are further inside theirs
            tau_0 = _threshold(values, self.scale, ks.norm_estimate, self.tol)
            tiny = np.finfo(float).tiny
            worst_rr = np.max(res_rr / np.maximum(tau_rr, tiny)) if res_rr.size else np.inf
            if worst_rr <= 1.0 or worst_rr <= np.max(res / np.maximum(tau_0, tiny)):
                values, X, res = lam[sel], X_rr, res_rr
        else:
            values, X = theta[w_act], Z
            res = np.linalg.norm(RZ, axis=1)
        order = np.argsort(values, kind="stable")
        values, X, res = values[order], X[order], res[order]
        tau = _threshold(values, self.scale, ks.norm_estimate, self.tol)
        conv = converged and values.size == self.k_total and bool(np.all(res <= tau))
        if converged and not conv:
            message = "Stopped with unconverged pairs."
        return EigenResult(
            eigenvalues=values,
            eigenvectors=np.ascontiguousarray(X.T),
            residual_norms=res,
            converged=conv,
            n_products=opc.n_products,
            nit=self.nit,
            message=message,
            scale=float(ks.norm_estimate if self.scale is None else self.scale),
        )


def eigenmodes(
    H,
    k=6,
    which="smallest",
    tol=1e-6,
    maxiter=None,
    v0=None,
    deflate=None,
    block_size=1,
    rng=None,
    *,
    scale=None,
    ncv=None,
    check_degeneracy=True,
    workers=None,
):
    """Extreme eigenpairs of a symmetric operator from operator-vector products.

    Parameters
    ----------
    H : LinearOperator, ndarray or sparse matrix, shape (n, n)
        Symmetric.  Only products ``H @ v`` (``H.matmat`` for blocks) are used.
    k : int
        Number of eigenpairs wanted (from each end for ``which='both'``).
    which : {'smallest', 'largest', 'both'}
        ``'both'`` returns the `k` smallest *and* the `k` largest (2k pairs), unlike
        eigsh's ``'BE'``, which splits `k` between the ends.
    tol : float
        Stopping test for each pair: ``||H v - theta v|| <= tol * max(|theta|, scale)``.
    maxiter : int, optional
        Maximum number of restarts (default ``max(100, 10 n)``, eigsh's
        default).
    v0 : ndarray, shape (n,) or (n, block_size), optional
        Start vector (block); random by default.
    deflate : ndarray, shape (n, m), optional
        A subspace to project out, e.g. the rigid-body modes of a molecule.
        The pairs returned are those of ``P H P`` on the orthogonal complement
        of ``span(deflate)`` (``P`` the orthogonal projector onto it) and the
        eigenvectors are orthogonal to `deflate`.
    block_size : int
        Number of products requested together through ``H.matmat`` (one call
        per block).  Block Lanczos usually needs somewhat more products than
        single-vector Lanczos but fewer calls, which pays when the operator
        runs the columns of a block in parallel.
    rng : None, int or numpy.random.Generator
        Source of the random start and probe vectors.
    scale : float, optional
        The absolute scale of the stopping test.  By default it is an estimate
        of ``||H||``: the largest ``|Ritz value|`` seen, which grows to
        ``||H||`` as the run proceeds.  The test is then a normwise backward
        error test (each pair is exact for a perturbation ``H + dH`` with
        ``||dH|| <= tol ||H||``), and eigenvalues near zero converge.
        ``scale=0`` gives the purely relative test of ARPACK/eigsh (see Notes).
    ncv : int, optional
        Largest dimension of the Krylov basis.  Default ``max(3 k' + 10 b, 80)``
        (``k'`` pairs wanted, block size ``b``), with 80 lowered towards 40
        when ``n > 312500`` to keep the basis under about 200 MB; at most the
        dimension of the problem.  A larger basis means fewer restarts and
        fewer products on hard (clustered) spectra at ``O(n ncv)`` memory.
    check_degeneracy : bool or float
        After all pairs have converged, probe the complement of the basis with
        a random vector until the probability that a missed copy of a
        degenerate eigenvalue (or any missed eigenvalue beyond the ones found)
        survives is below 1e-3, or below the given float in (0, 1); False
        skips the check (see Notes).  Default True.
    workers : None, int or map-like callable
        Where the products of a block run (``block_size > 1``; single
        products run here): an int starts that many local processes for this
        call (-1: one per CPU), a map-like callable such as
        ``executor.map`` is used as is (see `curvopt._workers`).  A
        `HessianOperator` sends out the gradient calls of its products; any
        other operator is sent to the workers with the columns, so it must
        pickle.  Choose ``block_size`` a multiple of the number of workers.

    Returns
    -------
    EigenResult
        ``eigenvalues`` (ascending), ``eigenvectors`` (n, k) orthonormal,
        ``residual_norms``, ``converged``, ``n_products``, ``nit`` (restarts),
        ``message`` and the final ``scale``.

    Notes
    -----
    **Method.** Thick-restart Lanczos [1]_ in the Krylov-Schur form [2]_ with
    full (twice classical Gram-Schmidt) reorthogonalization.  The small
    projected eigenproblem is solved after every product, so the run stops
    at the first product after which all wanted pairs meet the test (ARPACK
    checks only once per restart cycle).  When the basis is full it is
    restarted with the wanted Ritz vectors and as many of their neighbours
    as fill half the room left.  Converged pairs stay in the basis
    (they cost a few of its columns and keep their eigenvalue errors
    second order in the residual).  The residual directions to expand are
    those carrying the residuals of the unconverged wanted pairs (for plain
    Lanczos: its one residual direction).

    **Stopping test versus eigsh.** ARPACK (and hence
    ``scipy.sparse.linalg.eigsh``) accepts a Ritz pair when its Ritz
    estimate -- the same residual norm computed here from the Krylov
    relation -- is below ``tol * max(|theta|, eps**(2/3))``: relative to each
    eigenvalue.  curvopt's default is relative to ``max(|theta|, ||H||)``,
    which is looser for eigenvalues much smaller than ``||H||`` (a
    Ritz value's error is about ``residual**2 / gap``); pass ``scale=0`` for
    eigsh's test (floored here at ``eps**(2/3) * ||H||``).

    **Degenerate eigenvalues.** A single Krylov sequence holds one vector of
    each eigenspace, so from one start vector Lanczos (and eigsh) finds one
    copy of a multiple eigenvalue; others only emerge, slowly, from
    amplified rounding errors.  When the basis becomes an invariant subspace
    a random direction is added.  Once all wanted pairs have converged, every
    converged wanted Ritz pair (and any that ties with one) is *locked*
    -- kept as a constraint, with its exact residual stored; a pair passes
    the test with its true residual, parts along earlier locked vectors
    included, and locked vectors that keep a wanted pair from it go back to
    the basis first.  The other Ritz vectors are dropped: a basis grown
    over many steps may hold parts of a missed copy, which would hide it --
    except those whose share of any missed eigenvector is provably small:
    the Krylov relation bounds the weight of an eigenvector ``y`` (eigenvalue
    ``mu``) on a Ritz vector by ``||r_i|| / |theta_i - mu|`` [6]_, so projecting
    such vectors out moves the missed eigenvalue by at most ``sum
    ||r_i||**2 / |theta_i - mu|`` (the threshold ``x`` below is moved by
    that much, within half the room left before a find).  These are
    deflated for the probe only (and go back to the basis if the probe finds
    something); from the ends of the spectrum inwards, which is where they
    speed up the check.  A random probe ``u`` orthogonal to the
    deflated vectors then starts a Lanczos chain on the compressed operator
    ``B``, of which a missed copy is an eigenvector.  With ``p_i`` the
    chain's orthonormal polynomials, ``||P(B) u|| = 1`` bounds the weight of
    ``u`` on every eigenvector beyond a threshold ``x`` by
    ``1 / sum_{i<=m} p_i(x)**2`` (all chain Ritz values on the near side of
    ``x``), and a random ``u`` in dimension ``n'`` puts a weight below ``t``
    on a given vector with probability about ``sqrt(2 n' t / pi)``.  The
    chain runs until that probability is below 1e-3 (it continues from its
    residual when the basis is full: the bounds multiply).  ``x`` lies beyond
    the cluster of the last wanted value by ``max(tau, sqrt(tol) |theta|,
    gap / 2)`` (``tau`` its tolerance, ``gap`` the distance to the next
    wanted value), so a missed copy of any other wanted value is caught while
    a copy of the last one beyond the ``k`` asked for (which changes nothing)
    cannot stall the check.  If instead the chain finds a Ritz value beyond
    the wanted ones by more than their tolerance, it becomes the basis of a
    new converge phase, and a new probe follows (a chain value that only
    ties with the last wanted one, within its tolerance, is no find).
    Returned pairs come from a final Rayleigh-Ritz over the locked and
    active vectors, with exact residuals.  The check costs typically 10-40 products on a problem without
    degeneracy; a ``q``-fold eigenvalue costs about ``q`` times the products
    of one copy.  Turn it off with ``check_degeneracy=False`` when the
    spectrum is known to be simple.  The guarantee is probabilistic and about
    the threshold above; like every Krylov method, nothing is claimed about
    eigenvalues a random start vector would miss by chance beyond it.

    References
    ----------
    .. [1] K. Wu and H. Simon, "Thick-restart Lanczos method for large
       symmetric eigenvalue problems", SIAM J. Matrix Anal. Appl. 22(2),
       602-616 (2000).
    .. [2] G. W. Stewart, "A Krylov-Schur algorithm for large eigenproblems",
       SIAM J. Matrix Anal. Appl. 23(3), 601-614 (2001).
    .. [3] J. Kuczynski and H. Wozniakowski, "Estimating the largest
       eigenvalue by the power and Lanczos algorithms with a random start",
       SIAM J. Matrix Anal. Appl. 13(4), 1094-1122 (1992) (random starts).
    .. [4] R. B. Lehoucq, D. C. Sorensen and C. Yang, ARPACK Users' Guide,
       SIAM (1998), sec. 4.6 (the Ritz estimate stopping test).
    .. [5] G. H. Golub and G. Meurant, Matrices, Moments and Quadrature with
       Applications, Princeton (2010), ch. 2 (orthogonal polynomials of the
       Lanczos chain, Christoffel functions).
    .. [6] B. N. Parlett, The Symmetric Eigenvalue Problem, SIAM (1998),
       ch. 11 (residual bounds for Ritz vectors).

    Examples
    --------
    >>> import numpy as np
    >>> from curvopt.eigen import eigenmodes
    >>> A = np.diag(np.arange(1.0, 101.0))
    >>> res = eigenmodes(A, k=3, rng=0)
    >>> np.round(res.eigenvalues, 6)
    array([1., 2., 3.])
    """
    if workers is not None:
        from .._workers import parallel_operator

        with parallel_operator(H, workers) as H_parallel:
            return eigenmodes(H_parallel, k, which, tol, maxiter, v0, deflate, block_size, rng, scale=scale,
                              ncv=ncv, check_degeneracy=check_degeneracy)
    opc = as_counting_operator(H)
    n = opc.n
    if which not in _WHICH:
        raise ValueError(f"`which` must be one of {_WHICH}, got {which!r}")
    k = check_positive_int(k, "k")
    block_size = check_positive_int(block_size, "block_size")
    tol = check_tolerance(tol)
    if scale is not None:
        scale = float(scale)
        if not (np.isfinite(scale) and scale >= 0):
            raise ValueError(f"`scale` must be a finite float >= 0, got {scale!r}")
    C = as_deflation_basis(deflate, n)
    n_eff = n - (0 if C is None else C.shape[0])
    k_total = 2 * k if which == "both" else k
    if k >= n or k_total >= n_eff:
        raise ValueError(
            f"`k` must satisfy 1 <= k < n (2k < n for which='both', counted in the complement of "
            f"`deflate`): got k = {k}, which = {which!r}, n = {n}, dimension after deflation = {n_eff}"
        )
    if block_size > n_eff:
        raise ValueError(f"`block_size` = {block_size} exceeds the problem dimension {n_eff}")
    V0 = check_start_block(v0, n, block_size)
    if not isinstance(check_degeneracy, (bool, np.bool_)):
        try:
            p = float(check_degeneracy)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"`check_degeneracy` must be a bool or a probability, got {check_degeneracy!r}") from exc
        if not 0.0 < p < 1.0:
            raise ValueError(f"`check_degeneracy` as a probability must lie in (0, 1), got {p!r}")
        check_degeneracy = p
    if ncv is None:
        # 80 basis vectors, fewer (not below 40) when they would take over 200 MB
        ncv = max(3 * k_total + 10 * block_size, min(80, max(40, 25_000_000 // n)))
    else:
        ncv = check_positive_int(ncv, "ncv")
        if ncv < k_total + block_size + 1:
            raise ValueError(f"`ncv` must be at least k + block_size + 1 = {k_total + block_size + 1}, got {ncv}")
    ncv = min(ncv, n_eff)  # the basis cannot exceed the space
    if maxiter is None:
        maxiter = max(100, 10 * n)  # as eigsh
    else:
        maxiter = check_positive_int(maxiter, "maxiter", minimum=0)
    gen = as_generator(rng)

    ks = _KrylovSchur(opc, C, ncv + 2 * block_size + 2, gen)
    if V0 is not None:
        norms = np.linalg.norm(V0, axis=0)
        V0 = project_out(C, V0)
        if not np.any(np.linalg.norm(V0, axis=0) > 1e-10 * norms):
            raise ValueError("`v0` lies in the span of `deflate`")
        added = len(ks.add_directions(V0.T))
        if added < block_size:
            ks.add_random(block_size - added)
    else:
        ks.add_random(block_size)

    run = _Run(ks, k, k_total, which, tol, scale, ncv, maxiter, block_size, check_degeneracy, n_eff)
    converged, message = run.run()
    return run.result(opc, converged, message)
