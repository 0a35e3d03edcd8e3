"""Extreme eigenpairs of a symmetric operator from products alone.

`eigenmodes` is a thick-restart Lanczos method (Krylov-Schur form) with full
reorthogonalization, a block variant, deflation of a known subspace, and a
probabilistic check that no copy of a degenerate eigenvalue was missed.

The state is the Krylov-Schur relation with a residual of several columns::

    A V = V T + F^T E^T,      V^T V = I,  F F^T = I,  F V^T = 0,

(`V` and `F` are stored as rows), ``T = V^T A V`` symmetric and ``E`` holding
the coupling of each basis vector to each residual direction.  Plain Lanczos
is the case of one residual direction; a block of ``b`` directions gives block
Lanczos; and a fresh random direction can be added at any time without
breaking the relation (its coupling column is zero), which is how missed
copies of degenerate eigenvalues are searched for.  Expanding the basis by
residual directions keeps the relation exact, so the Ritz residual norms
``||E^T s||`` are true residual norms, obtained without extra products.
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


class _KrylovSchur:
    """Orthonormal basis V, projected matrix T, orthonormal residual rows F, coupling E."""

    def __init__(self, op, C, capacity, rng):
        self.op = op
        self.C = C
        self.n = op.n
        self.rng = rng
        self.V = np.empty((capacity, self.n))
        self.T = np.zeros((capacity, capacity))
        self.j = 0
        self.F = np.empty((0, self.n))
        self.E = np.zeros((0, 0))
        self.norm_estimate = 0.0

    @property
    def dim_constraints(self) -> int:
        return 0 if self.C is None else self.C.shape[0]

    def _orthogonalize(self, W, exclude_F=()):
        """Two classical Gram-Schmidt passes of the rows of W against C, V and F (minus `exclude_F`)."""
        keepF = [c for c in range(self.F.shape[0]) if c not in exclude_F]
        F = self.F[keepF]
        V = self.V[: self.j]
        for _ in range(2):
            if self.C is not None:
                W -= (W @ self.C.T) @ self.C
            if self.j:
                W -= (W @ V.T) @ V
            if F.shape[0]:
                W -= (W @ F.T) @ F
        return W

    def add_directions(self, W) -> int:
        """Add the rows of W (after orthogonalization) as new residual directions with zero coupling.

        Returns how many were added (fewer when the space is exhausted).
        """
        W = np.array(W, dtype=np.float64, ndmin=2)
        scale = np.linalg.norm(W, axis=1)
        scale[scale == 0] = 1.0
        W = W / scale[:, None]
        W = self._orthogonalize(W)
        U, s, _ = np.linalg.svd(W.T, full_matrices=False)
        good = s > 1e-8
        if not np.any(good):
            return 0
        Q = U[:, good].T
        Q = self._orthogonalize(Q)
        Q /= np.linalg.norm(Q, axis=1)[:, None]
        r0 = self.F.shape[0]
        self.F = np.vstack([self.F, Q])
        E = np.zeros((self.j, r0 + Q.shape[0]))
        E[:, :r0] = self.E
        self.E = E
        return Q.shape[0]

    def add_random(self, count: int) -> int:
        return self.add_directions(self.rng.standard_normal((count, self.n)))

    def expand(self, cols) -> None:
        """Move residual directions `cols` into the basis: one block of products ``A F[cols]``."""
        cols = list(cols)
        j, b = self.j, len(cols)
        r = self.F.shape[0]
        rest = [c for c in range(r) if c not in cols]
        Q = self.F[cols]
        coupling = self.E[:j, cols]  # = V^T A Q, exactly, by the relation
        W = self.op.matmat(np.ascontiguousarray(Q.T)).T.copy() if b > 1 else self.op.matvec(Q[0])[None, :].copy()
        if self.C is not None:
            W -= (W @ self.C.T) @ self.C
        if j:
            W -= coupling.T @ self.V[:j]
        M = Q @ W.T
        M = 0.5 * (M + M.T)
        W -= M @ Q
        Frest = self.F[rest]
        G = W @ Frest.T if rest else np.zeros((b, 0))
        if rest:
            W -= G @ Frest
        self.V[j : j + b] = Q
        self.j = j + b
        # Full reorthogonalization against the basis (its coefficients are
        # rounding and are dropped) and against the other residual
        # directions (those components are real and go into E).
        V = self.V[: self.j]
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
        good = s > _BREAKDOWN * max(self.norm_estimate, 1e-300)
        Qn = U[:, good].T
        Rn = s[good, None] * Vt[good]  # W^T = Qn^T Rn
        if Qn.shape[0]:
            # the new directions must be orthogonal to everything to the last bit
            Qn = self._orthogonalize_new(Qn, Frest)
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

    def _orthogonalize_new(self, Qn, Frest):
        V = self.V[: self.j]
        for _ in range(2):
            if self.C is not None:
                Qn -= (Qn @ self.C.T) @ self.C
            Qn -= (Qn @ V.T) @ V
            if Frest.shape[0]:
                Qn -= (Qn @ Frest.T) @ Frest
        Q, _ = np.linalg.qr(Qn.T)
        sign = np.sign(np.sum(Q * Qn.T, axis=0))
        sign[sign == 0] = 1.0
        return (Q * sign).T

    def ritz(self):
        """Ritz values (ascending), their vectors in the basis, and residual norms."""
        j = self.j
        theta, S = np.linalg.eigh(self.T[:j, :j])
        res = np.linalg.norm(S.T @ self.E, axis=1) if self.E.shape[1] else np.zeros(j)
        if j:
            self.norm_estimate = max(self.norm_estimate, float(np.max(np.abs(theta))))
        return theta, S, res

    def restart(self, S_keep, theta_keep) -> None:
        """Keep the Ritz vectors ``V S_keep``: T becomes diagonal, E rotates, F stays."""
        p = S_keep.shape[1]
        self.V[:p] = S_keep.T @ self.V[: self.j]
        self.E = S_keep.T @ self.E
        self.T[: self.j, : self.j] = 0.0
        self.T[np.arange(p), np.arange(p)] = theta_keep
        self.j = p


def _order(theta, which, k):
    """Indices of the Ritz values in order of preference, and the number wanted."""
    m = theta.size
    if which == "smallest":
        return np.arange(m), min(k, m)
    if which == "largest":
        return np.arange(m)[::-1], min(k, m)
    # both: alternate from the two ends
    lo, hi = 0, m - 1
    out = []
    while lo <= hi:
        out.append(lo)
        if hi != lo:
            out.append(hi)
        lo += 1
        hi -= 1
    return np.array(out, dtype=int), min(2 * k, m)


def _log_weight_bound(T_chain, beta_last, x):
    """``log |p_m(x)|`` for the Lanczos chain with tridiagonal `T_chain`, last residual `beta_last`.

    ``p_m`` is the degree-m orthonormal polynomial of the chain's start
    vector ``u``: ``||p_m(B) u|| = 1``, so every eigenvector of B whose
    eigenvalue lies beyond `x` (on the far side of all chain Ritz values)
    has weight ``(u^T x_i)^2 <= 1 / p_m(x)^2``.  Returns -inf when `x` is not
    outside the Ritz values.
    """
    rho = np.linalg.eigvalsh(T_chain)
    d = np.abs(rho - x)
    if np.any(d == 0):
        return -np.inf
    offd = np.abs(np.diag(T_chain, 1))
    if np.any(offd == 0) or beta_last <= 0:
        return np.inf
    return float(np.sum(np.log(d)) - np.sum(np.log(offd)) - math.log(beta_last))


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
        Maximum number of restarts (default ``max(100, n)``).
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
        Largest dimension of the Krylov basis (default ``max(2k + 12, 30)``,
        ``4k + 12`` for ``'both'``, at most the dimension of the problem).
    check_degeneracy : bool
        After all pairs have converged, probe the complement of the basis with
        a random vector until the probability that a missed copy of a
        degenerate eigenvalue (or any missed eigenvalue beyond the ones found)
        survives is below 1e-3 (see Notes).  Default True.

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
    second order in the residual).

    **Stopping test versus eigsh.** ARPACK (and hence
    ``scipy.sparse.linalg.eigsh``) accepts a Ritz pair when its Ritz
    estimate -- the same residual norm computed here from the Krylov
    relation -- is below ``tol * max(|theta|, eps**(2/3))``: relative to each
    eigenvalue.  curvopt's default is relative to ``max(|theta|, ||H||)``,
    which is looser for eigenvalues much smaller than ``||H||`` (a
    Ritz value's error is about ``residual**2 / gap``); pass ``scale=0`` for
    eigsh's test (floored here at ``eps**(2/3) * ||H||``).

    **Degenerate eigenvalues.** A single Krylov sequence holds one vector of
    each eigenspace, so from one start vector Lanczos (and eigsh) can only
    ever find one copy of a multiple eigenvalue.  When the basis becomes an
    invariant subspace a random direction is added; and once all pairs have
    converged, a random probe ``u`` orthogonal to the basis starts a new
    Lanczos chain on the operator compressed to the complement of the
    basis, in which a missed copy is an exact eigenvector.  With ``p_m`` the
    chain's orthonormal polynomial, ``||p_m(B) u|| = 1`` bounds the weight
    of ``u`` on every eigenvector beyond the threshold ``x`` (the last
    wanted Ritz value minus its tolerance) by ``1 / p_m(x)**2``, and a
    random ``u`` in dimension ``n'`` puts a weight below ``t`` on a given
    vector with probability about ``sqrt(2 n' t / pi)``.  The chain runs
    until that probability is below 1e-3, or until it finds a Ritz value
    beyond ``x`` -- a missed eigenvalue, which is then converged, after
    which a new probe starts.  This costs typically 10-30 products on a
    problem without degeneracy; disable it with ``check_degeneracy=False``
    when the spectrum is known to be simple.

    References
    ----------
    .. [1] K. Wu and H. Simon, "Thick-restart Lanczos method for large
       symmetric eigenvalue problems", SIAM J. Matrix Anal. Appl. 22(2),
       602-616 (2000).
    .. [2] G. W. Stewart, "A Krylov-Schur algorithm for large eigenproblems",
       SIAM J. Matrix Anal. Appl. 23(3), 601-614 (2001).
    .. [3] J. Kuczynski and H. Wozniakowski, "Estimating the largest
       eigenvalue by the power and Lanczos algorithms with a random start",
       SIAM J. Matrix Anal. Appl. 13(4), 1094-1122 (1992).
    .. [4] R. B. Lehoucq, D. C. Sorensen and C. Yang, ARPACK Users' Guide,
       SIAM (1998), sec. 4.6 (the Ritz estimate stopping test).

    Examples
    --------
    >>> import numpy as np
    >>> from curvopt.eigen import eigenmodes
    >>> A = np.diag(np.arange(1.0, 101.0))
    >>> res = eigenmodes(A, k=3, rng=0)
    >>> np.round(res.eigenvalues, 6)
    array([1., 2., 3.])
    """
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
    if k >= n or k_total >= n_eff + (1 if C is None else 1) or k_total > n_eff:
        raise ValueError(
            f"`k` must satisfy 1 <= k < n and leave a complement: k = {k}, which = {which!r}, "
            f"n = {n}, dimension after deflation = {n_eff}"
        )
    if block_size > n_eff:
        raise ValueError(f"`block_size` = {block_size} exceeds the problem dimension {n_eff}")
    V0 = check_start_block(v0, n, block_size)
    if ncv is None:
        ncv = max(2 * k_total + 12, 30)
    else:
        ncv = check_positive_int(ncv, "ncv")
        if ncv < k_total + block_size + 1:
            raise ValueError(f"`ncv` must be at least k + block_size + 1 = {k_total + block_size + 1}, got {ncv}")
    # round up to whole blocks; the basis cannot exceed the space
    ncv = min(ncv, n_eff)
    if maxiter is None:
        maxiter = max(100, n)
    else:
        maxiter = check_positive_int(maxiter, "maxiter", minimum=0)
    gen = as_generator(rng)

    ks = _KrylovSchur(opc, C, ncv + 2 * block_size + 2, gen)
    if V0 is not None:
        V0 = project_out(C, V0)
        if not np.any(np.linalg.norm(V0, axis=0) > 1e-12 * np.linalg.norm(V0)):
            raise ValueError("`v0` lies in the span of `deflate`")
        added = ks.add_directions(V0.T)
        if added < block_size:
            ks.add_random(block_size - added)
    else:
        ks.add_random(block_size)

    return _run(ks, opc, k, k_total, which, tol, scale, ncv, maxiter, block_size, check_degeneracy, n_eff)


def _threshold(theta, scale, norm_est, tol):
    s = norm_est if scale is None else scale
    return tol * np.maximum(np.maximum(np.abs(theta), s), _FLOOR * norm_est)


def _boundaries(theta_w, tau_w, which, k):
    """Thresholds beyond which a missed eigenvalue would have been wanted: (low, high)."""
    lo = hi = None
    if which == "smallest":
        i = int(np.argmax(theta_w))
        lo = theta_w[i] - tau_w[i]
    elif which == "largest":
        i = int(np.argmin(theta_w))
        hi = theta_w[i] + tau_w[i]
    else:
        order = np.argsort(theta_w)
        low, high = order[:k], order[k:]
        i = low[np.argmax(theta_w[low])]
        lo = theta_w[i] - tau_w[i]
        i = high[np.argmin(theta_w[high])]
        hi = theta_w[i] + tau_w[i]
    return lo, hi


def _run(ks, opc, k, k_total, which, tol, scale, ncv, maxiter, b, check_degeneracy, n_eff):
    nit = 0
    phase = "main"
    chain_cols = None  # residual rows being expanded in the check phase
    seg_start = 0  # first basis index of the current check segment
    log_bound_prev = 0.0  # log|p| gathered by earlier segments of this probe (restarts)
    chain_start_cols = 0
    message = ""
    converged = False
    while True:
        r = ks.F.shape[0]
        space_left = n_eff - ks.j - r
        # --- choose what to expand
        if phase == "main":
            if r == 0:
                if space_left <= 0 or ks.add_random(min(b, space_left)) == 0:
                    message = "The basis spans the whole space: the eigenpairs are exact."
                    converged = True
                    break
                r = ks.F.shape[0]
            cols = list(range(max(0, r - b), r))
        else:
            live = [c for c in chain_cols if c < r]
            cols = live
        if not cols:
            # the probe chain broke down: the complement it can reach is exhausted
            cols = None
        if cols is not None and ks.j + len(cols) > ncv:
            # --- thick restart
            theta, S, res = ks.ritz()
            order, nw = _order(theta, which, k)
            room = ncv - nw
            nkeep = nw + max(room // 2, 0)
            nkeep = min(nkeep, ks.j - len(cols))
            keep = np.sort(order[:nkeep])
            if phase == "check":
                log_bound_prev += _segment_log_bound(ks, seg_start, chain_cols, phase_x)
                seg_start = nkeep
            ks.restart(S[:, keep], theta[keep])
            nit += 1
            if nit > maxiter:
                message = f"Maximum number of restarts ({maxiter}) reached."
                break
        if cols is not None:
            ks.expand(cols)
            if phase == "check":
                # the chain's new residual directions are the last ones
                r_new = ks.F.shape[0]
                nnew = r_new - (r - len(cols))
                chain_cols = list(range(r_new - nnew, r_new))
        # --- Rayleigh-Ritz and the stopping test
        theta, S, res = ks.ritz()
        order, nw = _order(theta, which, k)
        w = order[:nw]
        tau = _threshold(theta[w], scale, ks.norm_estimate, tol)
        all_conv = nw == k_total and bool(np.all(res[w] <= tau))
        if cols is None and not all_conv:
            if phase == "check":
                phase = "main"  # let the main loop add a random direction
                continue
        if not all_conv:
            continue
        if not check_degeneracy:
            converged = True
            message = "All eigenpairs converged."
            break
        lo, hi = _boundaries(theta[w], tau, which, k)
        phase_x = (lo, hi)
        if phase == "main":
            # start a probe chain on the complement of the basis
            if not _start_probe(ks, b, n_eff):
                converged = True
                message = "All eigenpairs converged; the basis spans the whole space."
                break
            phase = "check"
            seg_start = ks.j
            log_bound_prev = 0.0
            r = ks.F.shape[0]
            chain_cols = list(range(r - b, r)) if b <= r else list(range(r))
            chain_start_cols = len(chain_cols)
            continue
        # phase == 'check': is the probe's chain beyond the thresholds?
        if cols is None:
            converged = True
            message = "All eigenpairs converged; the probe exhausted the complement."
            break
        lb = log_bound_prev + _segment_log_bound(ks, seg_start, chain_cols, phase_x)
        if lb == -np.inf:
            # the chain found an eigenvalue beyond the threshold, now converged: probe again
            if not _start_probe(ks, b, n_eff):
                converged = True
                message = "All eigenpairs converged; the basis spans the whole space."
                break
            seg_start = ks.j
            log_bound_prev = 0.0
            r = ks.F.shape[0]
            chain_cols = list(range(r - b, r)) if b <= r else list(range(r))
            continue
        n_prime = max(n_eff - ks.j - ks.F.shape[0], 1)
        miss = math.sqrt(2.0 * n_prime / math.pi) * math.exp(-lb) if lb < 700 else 0.0
        if miss <= _MISS_PROBABILITY ** chain_start_cols if False else miss <= _MISS_PROBABILITY:
            converged = True
            message = "All eigenpairs converged; no missed eigenvalue found."
            break

    theta, S, res = ks.ritz()
    order, nw = _order(theta, which, k)
    w = np.sort(order[:nw])
    X = (S[:, w].T @ ks.V[: ks.j]).T
    tau = _threshold(theta[w], scale, ks.norm_estimate, tol)
    conv = bool(np.all(res[w] <= tau)) and nw == k_total
    if not converged:
        conv = False
    elif not conv:
        message = "Stopped with unconverged pairs."
    final_scale = ks.norm_estimate if scale is None else scale
    return EigenResult(
        eigenvalues=theta[w].copy(),
        eigenvectors=np.ascontiguousarray(X),
        residual_norms=res[w].copy(),
        converged=conv,
        n_products=opc.n_products,
        nit=nit,
        message=message,
        scale=float(final_scale),
    )


def _start_probe(ks, b, n_eff) -> bool:
    space_left = n_eff - ks.j - ks.F.shape[0]
    if space_left <= 0:
        return False
    return ks.add_random(min(b, space_left)) > 0


def _segment_log_bound(ks, seg_start, chain_cols, x_pair):
    """log|p(x)| of the probe chain segment in basis rows seg_start..j (single-vector chains)."""
    j = ks.j
    m = j - seg_start
    if m <= 0:
        return 0.0
    Tc = ks.T[seg_start:j, seg_start:j]
    # the chain's own residual: its last vector's coupling to its residual direction
    live = [c for c in chain_cols if c < ks.F.shape[0]]
    if not live:
        return np.inf
    beta_last = float(np.linalg.norm(ks.E[j - 1, live]))
    lo, hi = x_pair
    total = np.inf
    for x in (lo, hi):
        if x is None:
            continue
        rho = np.linalg.eigvalsh(Tc)
        if (lo is not None and x is lo and rho[0] <= x) or (hi is not None and x is hi and rho[-1] >= x):
            return -np.inf
        total = min(total, _log_weight_bound(Tc, beta_last, x))
    return total
