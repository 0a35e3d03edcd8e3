"""Davidson's method for the lowest Hessian modes, preconditioned by a model Hessian.

The correction equation is Olsen's form of Jacobi-Davidson (Olsen, Jørgensen
& Simons 1990; Sleijpen & van der Vorst 1996): for the Ritz pair
``(theta, x)`` with residual ``r = H x - theta x``,

    t = -M (r - eps x),   M = (B - theta I)^{-1},   eps = (x^T M r) / (x^T M x),

so that ``t`` is orthogonal to ``x``.  When the model ``B`` equals the
Hessian along the directions that matter, ``t`` is the Rayleigh-quotient
(inverse) iteration direction and the method converges in very few products;
with no model (``M`` a multiple of the identity) ``t`` is the residual and the
method is Lanczos.  ``M`` is applied in the model's eigenbasis, so a solve
costs O(n k) for k model eigenvectors, and ``|lambda - theta|`` is floored to
keep it finite at the model's own eigenvalues.

Every product is kept: the caller feeds the pairs ``(v, H v)`` to the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["davidson", "DavidsonResult"]


@dataclass
class DavidsonResult:
    """Ritz pairs of the final basis and the products that built it.

    Attributes
    ----------
    theta : ndarray (j,)
        Ritz values, ascending.
    X : ndarray (n, j)
        Ritz vectors.
    residual_norms : ndarray (j,)
        ``||P (H x - theta x)||`` (P the projector onto the complement of the deflation basis).
    S, Y : ndarray (n, j)
        Orthonormal basis and its products ``H S``.
    converged : bool
        Whether the wanted pairs met the residual test (or the basis spans the whole space).
    n_products : int
    scale : float
        The largest |Ritz value| seen, an estimate of ||H|| from below.
    """

    theta: np.ndarray
    X: np.ndarray
    residual_norms: np.ndarray
    S: np.ndarray
    Y: np.ndarray
    converged: bool
    n_products: int
    scale: float


def _project(W, D):
    if D is not None and D.shape[1]:
        W = W - D @ (D.T @ W)
    return W


def _orthonormal_columns(W, D, V=None, rtol=1e-8):
    """Columns spanning ``W`` after projecting out ``D`` and ``V`` (twice), orthonormal."""
    W = np.array(W, dtype=float, ndmin=2)
    norms = np.linalg.norm(W, axis=0)
    norms[norms == 0.0] = 1.0
    W = W / norms
    for _ in range(2):
        W = _project(W, D)
        if V is not None and V.shape[1]:
            W = W - V @ (V.T @ W)
    if W.shape[1] == 0:
        return W
    U, s, _ = np.linalg.svd(W, full_matrices=False)
    good = s > rtol
    Q = U[:, good]
    for _ in range(2):  # clean rounding against the constraints once more
        Q = _project(Q, D)
        if V is not None and V.shape[1]:
            Q = Q - V @ (V.T @ Q)
        Q, _ = np.linalg.qr(Q)
    return Q


def davidson(apply, X0, nwant, tol, model=None, D=None, max_products=None, scale=0.0, floor=1e-3, rng=None,
             negative=False, enough=None, known=None):
    """Lowest eigenpairs of ``P H P`` from products, with a model as preconditioner.

    Parameters
    ----------
    apply : callable
        ``apply(v) -> H v`` for a unit vector ``v`` (one product).
    X0 : ndarray (n, p)
        Start block (projected and orthonormalized here).
    nwant : int
        Number of lowest pairs that must meet the test.
    tol : float
        Test ``||r|| <= tol * max(|theta|, floor * scale)``: relative to the
        eigenvalue (the test of Sella's eigensolver), floored near zero
        curvature at a fraction of the Hessian's scale.
    model : tuple (lam, V), optional
        Eigenpairs of the model Hessian in the complement of ``D``; None for
        plain Lanczos-like expansion by residuals.
    D : ndarray (n, m), optional
        Orthonormal basis of directions to leave out.
    max_products : int, optional
        Budget (default: the dimension of the complement of ``D``).
    scale : float
        A known estimate of ||H|| (the largest |Ritz value| seen is used too).
    rng : numpy.random.Generator, optional
        For a random start when ``X0`` is empty after projection.
    negative : bool
        Also converge every pair whose Ritz value is negative.
    known : tuple (S, Y), optional
        Pairs ``(v, H v)`` already at hand (``S`` with orthonormal columns,
        orthogonal to ``D``): the basis starts from them at no cost, and ``X0``
        is added only when they are not enough.
    enough : callable, optional
        ``enough(theta, residual_norms) -> bool``, a second way to finish
        (``converged`` is then True): e.g. once the Ritz values, upper bounds
        of the eigenvalues, already prove what the caller needs.
    """
    n = X0.shape[0]
    n_eff = n - (0 if D is None else D.shape[1])
    if max_products is None:
        max_products = n_eff
    n_products = 0
    if known is not None and known[0].shape[1]:
        V, AV = known
        V, AV = V[:, :n_eff], AV[:, :n_eff]
        if V.shape[1] >= nwant:
            T = V.T @ AV
            theta, Z = np.linalg.eigh(0.5 * (T + T.T))
            R = _project(AV @ Z, D) - (V @ Z) * theta
            scale = max(scale, float(np.max(np.abs(theta))))
            if V.shape[1] >= n_eff or (enough is not None and enough(theta, np.linalg.norm(R, axis=0))):
                return DavidsonResult(theta, V @ Z, np.linalg.norm(R, axis=0), V, AV, True, 0, scale)
        W = _orthonormal_columns(X0, D, V)
        W = W[:, : max(0, min(W.shape[1], max_products, n_eff - V.shape[1]))]
    else:
        V, AV = np.zeros((n, 0)), np.zeros((n, 0))
        W = _orthonormal_columns(X0, D)
        if W.shape[1] == 0:
            gen = np.random.default_rng(0) if rng is None else rng
            W = _orthonormal_columns(gen.standard_normal((n, max(1, nwant))), D)
        W = W[:, : max(1, min(W.shape[1], max_products, n_eff))]
    if W.shape[1]:
        V = np.hstack([V, W])
        AV = np.hstack([AV, np.column_stack([apply(np.ascontiguousarray(W[:, i])) for i in range(W.shape[1])])])
        n_products = W.shape[1]
    if model is not None:
        lam_B, V_B = model
    while True:
        T = V.T @ AV
        T = 0.5 * (T + T.T)
        theta, Z = np.linalg.eigh(T)
        X = V @ Z
        R = _project(AV @ Z, D) - X * theta
        res = np.linalg.norm(R, axis=0)
        scale = max(scale, float(np.max(np.abs(theta))))
        thresh = tol * np.maximum(np.abs(theta), floor * scale)
        m = min(max(nwant, int(np.count_nonzero(theta < 0.0)) if negative else 0), theta.size)
        unconverged = [i for i in range(m) if res[i] > thresh[i]]
        exact = V.shape[1] >= n_eff
        if enough is not None and not exact and unconverged and enough(theta, res):
            return DavidsonResult(theta, X, res, V, AV, True, n_products, scale)
        if not unconverged or exact or n_products >= max_products:
            return DavidsonResult(theta, X, res, V, AV, exact or not unconverged, n_products, scale)
        i = unconverged[0]
        x, r, th = X[:, i], R[:, i], theta[i]
        if model is None:
            t = r
        else:
            d = lam_B - th
            delta = 1e-8 * max(scale, 1e-300)
            d = np.where(np.abs(d) < delta, np.where(d < 0, -delta, delta), d)
            Mr = V_B @ ((V_B.T @ r) / d)
            Mx = V_B @ ((V_B.T @ x) / d)
            xMx = float(x @ Mx)
            eps = float(x @ Mr) / xMx if xMx != 0.0 else 0.0
            t = eps * Mx - Mr
        Q = _orthonormal_columns(t[:, None], D, V, rtol=1e-6)
        if Q.shape[1] == 0:
            Q = _orthonormal_columns(r[:, None], D, V, rtol=1e-10)
            if Q.shape[1] == 0:
                return DavidsonResult(theta, X, res, V, AV, False, n_products, scale)
        q = np.ascontiguousarray(Q[:, 0])
        V = np.column_stack([V, q])
        AV = np.column_stack([AV, apply(q)])
        n_products += 1
