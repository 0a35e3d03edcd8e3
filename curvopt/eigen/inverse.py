"""Shift-invert (inverse) iteration with iterative inner solves."""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as sla

from ._common import (
    as_counting_operator,
    as_deflation_basis,
    as_generator,
    check_positive_int,
    check_start_block,
    check_tolerance,
    project_out,
    project_out_all,
)
from ._result import EigenResult

__all__ = ["inverse_iteration"]

_INNER = ("minres", "cg")


def inverse_iteration(
    H,
    sigma=0.0,
    k=1,
    tol=1e-6,
    maxiter=100,
    inner="minres",
    inner_tol=None,
    v0=None,
    deflate=None,
    rng=None,
) -> EigenResult:
    """Eigenpairs closest to a shift, by inverse iteration with iterative solves.

    Each outer step solves ``(H - sigma I) y = v`` with
    `scipy.sparse.linalg.minres` (or `cg`), on the complement of `deflate`
    and of the pairs already found, sets ``v = y / ||y||`` and takes the
    Rayleigh quotient ``theta = v^T H v`` (one more product).  A pair is
    accepted when ``||P H v - theta v|| <= tol * max(|theta|, scale)`` (``P``
    projecting out `deflate` and the pairs found before; the residual norms
    returned are those of ``H`` deflated by `deflate` only), with
    `scale` the largest ``||H v||`` seen for a unit ``v`` (a lower estimate
    of ``||H||``, so that eigenvalues at zero converge).

    Parameters
    ----------
    H : LinearOperator, ndarray or sparse matrix, shape (n, n)
        Symmetric.
    sigma : float
        The shift; the `k` eigenvalues closest to it are sought.
    k : int
        Number of pairs (found one after another).
    tol : float
        Residual tolerance of each pair.
    maxiter : int
        Maximum number of outer iterations per pair.
    inner : {'minres', 'cg'}
        The inner solver.  MINRES works for indefinite ``H - sigma I``; CG
        needs it positive definite on the complement (``sigma`` below the
        spectrum).
    inner_tol : float, optional
        Relative residual tolerance of the inner solves.  By default it
        adapts: ``min(1e-3, 0.1 r) / sqrt(n)`` with ``r`` the current
        relative eigen-residual, and at least ``tol / 100`` (inexact inverse
        iteration in the spirit of Simoncini and Eldén [2]_; the
        ``1/sqrt(n)`` keeps a solve from ignoring a target component as small
        as a random start vector's).
    v0 : ndarray, shape (n,), optional
        Start vector of the first pair.
    deflate : ndarray, shape (n, m), optional
        A subspace to project out (e.g. rigid-body modes).
    rng : None, int or numpy.random.Generator
        Source of random start vectors.

    Returns
    -------
    EigenResult
        Eigenvalues in ascending order; ``n_products`` counts every product,
        those of the inner solves included; ``nit`` counts outer iterations.

    References
    ----------
    .. [1] G. H. Golub and C. F. Van Loan, Matrix Computations, 4th ed.,
       sec. 8.2.2 (inverse iteration).
    .. [2] V. Simoncini and L. Eldén, "Inexact Rayleigh quotient-type
       methods for eigenvalue computations", BIT 42(1), 159-182 (2002).
    .. [3] C. C. Paige and M. A. Saunders, "Solution of sparse indefinite
       systems of linear equations", SIAM J. Numer. Anal. 12(4), 617-629
       (1975) (MINRES).
    """
    opc = as_counting_operator(H)
    n = opc.n
    try:
        sigma = float(sigma)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`sigma` must be a real number, got {sigma!r}") from exc
    if not np.isfinite(sigma):
        raise ValueError(f"`sigma` must be finite, got {sigma!r}")
    k = check_positive_int(k, "k")
    maxiter = check_positive_int(maxiter, "maxiter")
    tol = check_tolerance(tol)
    if inner not in _INNER:
        raise ValueError(f"`inner` must be one of {_INNER}, got {inner!r}")
    if inner_tol is not None:
        inner_tol = check_tolerance(inner_tol, "inner_tol")
    D = as_deflation_basis(deflate, n)
    n_eff = n - (0 if D is None else D.shape[0])
    if k >= n or k > n_eff:
        raise ValueError(f"`k` must satisfy 1 <= k < n within the complement of `deflate`: k = {k}, n = {n}")
    V0 = check_start_block(v0, n, 1)
    gen = as_generator(rng)
    solver = sla.minres if inner == "minres" else sla.cg

    found = np.empty((0, n))
    values, residuals = [], []
    nit = 0
    scale = 0.0
    all_converged = True

    def project(x):
        return project_out_all(x, D, found)

    def shifted(x):
        x = project(np.asarray(x).reshape(n))
        return project(opc.matvec(x)) - sigma * x

    A = sla.LinearOperator((n, n), matvec=shifted, dtype=np.float64)

    for i in range(k):
        v = V0[:, 0].copy() if (i == 0 and V0 is not None) else gen.standard_normal(n)
        v = project(v)
        nv = np.linalg.norm(v)
        if nv == 0:
            raise ValueError("`v0` lies in the span of `deflate`")
        v /= nv
        rel_res = 1.0
        converged = False
        theta, res, true_res = sigma, np.inf, np.inf
        for _ in range(maxiter):
            nit += 1
            if inner_tol is not None:
                rtol = inner_tol
            else:
                # the target's component in v may be as small as 1/sqrt(n): the solve must resolve it
                rtol = max(tol / 100, min(1e-3, 0.1 * rel_res) / np.sqrt(n_eff))
            y, _info = solver(A, v, rtol=rtol, maxiter=10 * n)
            y = project(y)
            ny = np.linalg.norm(y)
            if not np.isfinite(ny) or ny == 0.0:
                break
            v = y / ny
            raw = opc.matvec(v)
            w = project(raw)
            scale = max(scale, float(np.linalg.norm(w)))
            theta = float(v @ w)
            res = float(np.linalg.norm(w - theta * v))
            true_res = float(np.linalg.norm(project_out(D, raw) - theta * v))
            rel_res = res / max(abs(theta), scale)
            if res <= tol * max(abs(theta), scale):
                converged = True
                break
        all_converged &= converged
        found = np.vstack([found, v])
        values.append(theta)
        residuals.append(true_res)

    order = np.argsort(values)
    message = (
        f"All {k} eigenpairs converged."
        if all_converged
        else f"Some eigenpairs did not converge within {maxiter} outer iterations each."
    )
    return EigenResult(
        eigenvalues=np.asarray(values)[order],
        eigenvectors=np.ascontiguousarray(found[order].T),
        residual_norms=np.asarray(residuals)[order],
        converged=bool(all_converged),
        n_products=opc.n_products,
        nit=nit,
        message=message,
        scale=float(scale),
    )
