"""Generalized Lanczos trust-region (GLTR) subproblem solver.

    minimize  m(p) = g'p + p'Hp / 2   subject to  ||p|| <= trust_radius

Lanczos from ``q_1 = g / ||g||`` builds an orthonormal basis Q_k of the Krylov
space and the tridiagonal ``T_k = Q_k' H Q_k``.  In that basis the subproblem
becomes the small problem

    minimize  ||g|| e_1'h + h'T_k h / 2   subject to  ||h|| <= trust_radius,

solved exactly (eigendecomposition of T_k and Newton on the secular equation,
Moré & Sorensen 1983), including the negative-curvature and hard cases that
Steihaug's CG only approximates by stopping at the boundary.  The residual of
the full problem is ``|beta_{k+1} h_k|`` without any extra product, so the
iteration stops as soon as it meets the inexact-Newton tolerance.  While the
solution is interior and T_k positive definite, the iterates are those of CG.

The hard case (the gradient has no component along the most negative
eigenvector) is handled exactly in the small problem, and near-hard cases are
fixed up along the least eigenvector of T_k.  A Krylov space grown from g
cannot contain an eigenvector that g has no component along, so in the exact
hard case no Krylov method sees the negative curvature; a point where that
matters is a saddle with a zero gradient component, which the verified-minimum
check of the outer loop catches.

References
----------
N. I. M. Gould, S. Lucidi, M. Roma and Ph. L. Toint, "Solving the trust-region
subproblem using the Lanczos method", SIAM J. Optim. 9(2), 504-525, 1999.
J. J. Moré and D. C. Sorensen, "Computing a trust region step", SIAM J. Sci.
Stat. Comput. 4(3), 553-572, 1983.
F. Lenders, C. Kirches and A. Potschka, "trlib: a vector-free implementation of
the GLTR method for iterative solution of the trust region problem", Optim.
Methods Softw. 33(3), 420-449, 2018.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy.linalg import eigh_tridiagonal, eigvalsh_tridiagonal

from .steihaug import StopReason, SubproblemResult

__all__ = ["solve", "solve_tridiagonal"]

_EPS = np.finfo(float).eps
_SOLVE_EVERY_STEP = 32  # up to this basis size the small problem is solved after every product
_FULL_REORTHOGONALIZATION = 10**9  # basis size up to which each new vector is orthogonalized against all


def solve_tridiagonal(alpha, beta, gnorm, trust_radius):
    """Exact solution of min gnorm*h[0] + h'Th/2 subject to ||h|| <= trust_radius.

    `alpha` is T's diagonal, `beta` its off-diagonal.  Returns ``(h, lam,
    mu_min)``: the minimizer, the Lagrange multiplier (0 for an interior
    solution) and T's least eigenvalue.
    """
    h = _interior_newton_step(alpha, beta, gnorm)
    if h is not None and float(np.dot(h, h)) <= trust_radius * trust_radius:
        # T positive definite and its Newton step inside: the (common) interior case
        # in O(k), without the eigendecomposition.
        mu_min = float(eigvalsh_tridiagonal(alpha, beta, select="i", select_range=(0, 0))[0]) \
            if alpha.size > 1 else float(alpha[0])
        return h, 0.0, mu_min
    if alpha.size > 1:
        mu, V = eigh_tridiagonal(alpha, beta)
    else:
        mu, V = alpha.copy(), np.ones((1, 1))
    c = gnorm * V[0, :]  # the gradient in T's eigenbasis
    mu_min = float(mu[0])
    if mu_min > 0.0:
        h = -V @ (c / mu)
        if np.linalg.norm(h) <= trust_radius:  # pivots too small for the LDL' test above
            return h, 0.0, mu_min
    lam_low = max(0.0, -mu_min)
    scale = max(abs(mu[0]), abs(mu[-1]), 1.0)
    lowest = np.abs(mu - mu_min) <= 1e3 * _EPS * scale  # (near-)copies of the least eigenvalue
    if mu_min <= 0.0 and np.linalg.norm(c[lowest]) <= 1e3 * _EPS * gnorm:
        rest = ~lowest
        coef = np.zeros_like(c)
        coef[rest] = -c[rest] / (mu[rest] + lam_low)
        tail = trust_radius**2 - float(np.dot(coef, coef))
        if tail >= 0.0:
            # The hard case: no root of the secular equation above -mu_min; the
            # minimum-norm part plus the least eigenvector fills the boundary.
            coef[np.argmax(lowest)] = math.sqrt(tail)
            return V @ coef, lam_low, mu_min
    # Newton on phi(lam) = 1/||h(lam)|| - 1/radius, increasing and concave above
    # -mu_min (Moré & Sorensen 1983): from the right of the root one step lands
    # left of it, and from there the iterates increase monotonically to it.
    # Bisection guards the bracket [lo, hi].
    lo = lam_low
    hi = max(lam_low, gnorm / trust_radius - mu_min) * (1.0 + 4 * _EPS) + _EPS  # ||h(hi)|| <= radius
    lam = hi
    for _ in range(200):
        d = mu + lam
        w = c / d
        nh = float(np.linalg.norm(w))
        if abs(nh - trust_radius) <= 1e-12 * trust_radius:
            break
        if nh > trust_radius:
            lo = lam
        else:
            hi = lam
        # phi'(lam) = (w' (w / d)) / ||w||^3
        newton = lam - (1.0 / nh - 1.0 / trust_radius) * nh**3 / float(np.dot(w, w / d))
        lam = newton if lo < newton < hi else 0.5 * (lo + hi)
        if hi - lo <= 4 * _EPS * max(1.0, hi):
            break
    h = -V @ (c / (mu + lam))
    norm = float(np.linalg.norm(h))
    if norm > trust_radius:
        h *= trust_radius / norm
    elif norm < trust_radius * (1 - 1e-12) and lam > 0:
        # Near the pole -mu_min the norm is too steep a function of lam to hit the
        # boundary to round-off; the least eigenvector (nearly in the null space of
        # T + lam I) fills the gap, on the side that lowers the model.
        v = V[:, 0]
        hv = float(np.dot(h, v))
        tau = math.sqrt(hv * hv + trust_radius**2 - norm**2) - abs(hv)
        h = h + math.copysign(tau, hv if hv != 0 else 1.0) * v
    return h, lam, mu_min


@njit(cache=True)
def _interior_newton_step(alpha, beta, gnorm):
    """-gnorm T^{-1} e_1 by the LDL' factorization of T, or None unless every pivot is
    safely positive (T positive definite)."""
    k = alpha.size
    d = np.empty(k)
    ell = np.empty(max(k - 1, 0))
    scale = np.max(np.abs(alpha)) + (np.max(np.abs(beta)) if k > 1 else 0.0)
    d[0] = alpha[0]
    for i in range(1, k):
        if not d[i - 1] > 1e3 * _EPS * scale:
            return None
        ell[i - 1] = beta[i - 1] / d[i - 1]
        d[i] = alpha[i] - ell[i - 1] * beta[i - 1]
    if not d[k - 1] > 1e3 * _EPS * scale:
        return None
    # L y = -gnorm e_1, then D L' h = y
    y = np.zeros(k)
    y[0] = -gnorm
    for i in range(1, k):
        y[i] = -ell[i - 1] * y[i - 1]
    h = y / d
    for i in range(k - 2, -1, -1):
        h[i] -= ell[i] * h[i + 1]
    return h


def _store(Q, k, q, maxiter):
    """Q with row k set to q, doubled in length first if full."""
    if k == Q.shape[0]:
        Q = np.concatenate([Q, np.empty((min(k, maxiter - k), Q.shape[1]))])
    Q[k] = q
    return Q


def solve(g, hvp, trust_radius, tol, maxiter) -> SubproblemResult:
    """Solve the trust-region subproblem in a growing Lanczos subspace (GLTR).

    Same interface and result as `curvopt.trust_region.steihaug.solve`.
    """
    n = g.size
    gnorm = float(np.linalg.norm(g))
    maxiter = min(maxiter, n)
    # The basis grows by doubling: most subproblems need few vectors, and
    # maxiter x n could be far more memory than the run has.
    Q = np.empty((min(maxiter, 16), n))
    alpha = np.empty(maxiter)
    beta = np.empty(maxiter)
    Q[0] = g / gnorm
    q_prev = np.zeros(n)
    b_prev = 0.0
    h = None
    reason = StopReason.MAXITER
    next_solve = 1
    k = 0
    for k in range(1, maxiter + 1):
        q = Q[k - 1]
        w = hvp(q)
        # checked before the dot product: inf entries against zeros of q would make NaN with a warning
        a = float(np.dot(q, w)) if np.isfinite(w).all() else math.nan
        if not math.isfinite(a):
            if k == 1:
                return SubproblemResult(np.zeros_like(g), 0.0, StopReason.NONFINITE, 1, False, 0.0)
            k -= 1
            reason = StopReason.NONFINITE
            break
        alpha[k - 1] = a
        w = w - a * q - b_prev * q_prev
        if k <= _FULL_REORTHOGONALIZATION:
            # Loss of orthogonality creates spurious copies of eigenvalues in T; in a
            # small basis full reorthogonalization is cheap.  In a long one it would cost
            # O(n k) per product, and CG's finite-precision behaviour (which the
            # interior phase reproduces) is good enough.
            w -= Q[:k].T @ (Q[:k] @ w)
        b = float(np.linalg.norm(w))
        invariant = b <= 1e-12 * max(abs(a), 1.0)
        if k < next_solve and not invariant and k < maxiter:
            # The small problem costs O(k^2) and more: solved at every step while k is
            # small, then each time the basis has grown by a tenth (at most 10% more
            # products than checking every step).
            h = None
        else:
            next_solve = k + 1 if k < _SOLVE_EVERY_STEP else math.ceil(1.1 * k)
            h, lam, mu_min = solve_tridiagonal(alpha[:k], beta[: k - 1], gnorm, trust_radius)
        if h is not None and (abs(b * h[-1]) <= tol or invariant):
            reason = StopReason.CONVERGED
            break
        beta[k - 1] = b
        if k < maxiter:
            Q = _store(Q, k, w / b, maxiter)
        q_prev, b_prev = q, b
    if h is None or h.size != k:
        h, lam, mu_min = solve_tridiagonal(alpha[:k], beta[: k - 1], gnorm, trust_radius)
    step = Q[:k].T @ h
    step_norm = float(np.linalg.norm(step))
    if step_norm > trust_radius:  # Q only nearly orthonormal in a long basis
        step *= trust_radius / step_norm
    # m(0) - m(p) from the small problem: -(gnorm h_1 + h'T h / 2)
    Th = alpha[:k] * h
    Th[:-1] += beta[: k - 1] * h[1:]
    Th[1:] += beta[: k - 1] * h[:-1]
    pred = -(gnorm * h[0] + 0.5 * float(np.dot(h, Th)))
    hits_boundary = lam > 0.0
    if reason == StopReason.CONVERGED:
        if mu_min < 0:
            reason = StopReason.NEGATIVE_CURVATURE
        elif hits_boundary:
            reason = StopReason.BOUNDARY
    return SubproblemResult(step, pred, reason, k, hits_boundary, mu_min)
