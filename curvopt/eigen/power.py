"""Power iteration with deflation of the pairs already found."""

from __future__ import annotations

import numpy as np

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

__all__ = ["power_iteration"]


def power_iteration(H, k=1, tol=1e-6, maxiter=1000, deflate=None, v0=None, rng=None) -> EigenResult:
    """Eigenpairs of largest ``|lambda|`` by power iteration, one after another.

    Each pair is found by iterating ``v <- P H v / ||P H v||`` where ``P``
    projects out `deflate` and the pairs already found (the deflation
    PyHessian uses for the top eigenvalues of neural-network Hessians [1]_).
    A pair is accepted when ``||P H v - theta v|| <= tol * |theta|`` with
    ``theta = v^T H v``; the residual norms returned are those of ``H``
    (deflated by `deflate` only).

    Parameters
    ----------
    H : LinearOperator, ndarray or sparse matrix, shape (n, n)
        Symmetric.
    k : int
        Number of pairs.
    tol : float
        Relative residual tolerance (for the dominant eigenvalue ``|theta|``
        is ``||H||``, so this is the same test as `eigenmodes`' default).
    maxiter : int
        Maximum number of products per pair.
    deflate : ndarray, shape (n, m), optional
        A subspace to project out first (e.g. rigid-body modes).
    v0 : ndarray, shape (n,), optional
        Start vector of the first pair (later pairs start at random).
    rng : None, int or numpy.random.Generator
        Source of random start vectors.

    Returns
    -------
    EigenResult
        Eigenvalues in ascending order.  ``converged`` is False when some pair
        used `maxiter` products without meeting the test.

    Notes
    -----
    Convergence is linear with ratio ``|lambda_2| / |lambda_1|`` (of the
    deflated operator), so power iteration is far slower than `eigenmodes`
    on anything but a well separated top eigenvalue; it is here because it
    is the method many deep-learning tools use.  When ``lambda`` and
    ``-lambda`` are both eigenvalues of largest modulus it does not converge.

    References
    ----------
    .. [1] Z. Yao, A. Gholami, K. Keutzer and M. W. Mahoney, "PyHessian:
       Neural networks through the lens of the Hessian", IEEE BigData
       (2020), arXiv:1912.07145.
    .. [2] G. H. Golub and C. F. Van Loan, Matrix Computations, 4th ed.,
       sec. 8.2.1 (the power method).
    """
    opc = as_counting_operator(H)
    n = opc.n
    k = check_positive_int(k, "k")
    maxiter = check_positive_int(maxiter, "maxiter")
    tol = check_tolerance(tol)
    D = as_deflation_basis(deflate, n)
    n_eff = n - (0 if D is None else D.shape[0])
    if k >= n or k > n_eff:
        raise ValueError(f"`k` must satisfy 1 <= k < n within the complement of `deflate`: k = {k}, n = {n}")
    V0 = check_start_block(v0, n, 1)
    gen = as_generator(rng)

    found = np.empty((0, n))
    values, residuals = [], []
    nit = 0
    all_converged = True

    def project(x):
        return project_out_all(x, D, found)

    for i in range(k):
        v = V0[:, 0].copy() if (i == 0 and V0 is not None) else gen.standard_normal(n)
        v = project(v)
        nv = np.linalg.norm(v)
        if nv == 0:
            raise ValueError("`v0` lies in the span of `deflate`")
        v /= nv
        converged = False
        theta, res, true_res = 0.0, np.inf, np.inf
        for _ in range(maxiter):
            raw = opc.matvec(v)
            w = project(raw)
            nit += 1
            theta = float(v @ w)
            res = float(np.linalg.norm(w - theta * v))
            # reported: the residual of H (deflated by `deflate` only), which also
            # has the small components along the pairs found before
            true_res = float(np.linalg.norm(project_out(D, raw) - theta * v))
            if res <= tol * abs(theta):
                converged = True
                break
            nw = np.linalg.norm(w)
            if nw == 0.0:  # v is in the null space: eigenvalue 0, exactly
                converged = True
                break
            v = w / nw
        all_converged &= converged
        found = np.vstack([found, v])
        values.append(theta)
        residuals.append(true_res)

    order = np.argsort(values)
    values = np.asarray(values)[order]
    message = (
        f"All {k} eigenpairs converged."
        if all_converged
        else f"Some eigenpairs did not converge within {maxiter} products each."
    )
    return EigenResult(
        eigenvalues=values,
        eigenvectors=np.ascontiguousarray(found[order].T),
        residual_norms=np.asarray(residuals)[order],
        converged=bool(all_converged),
        n_products=opc.n_products,
        nit=nit,
        message=message,
        scale=float(np.max(np.abs(values))) if values.size else float("nan"),
    )
