"""Input handling shared by the eigen solvers: one place that turns what the
user passed into an operator that counts its own products, a deflation basis,
start vectors and a random generator, and raises the ValueErrors that name the
offending argument.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse.linalg as sla

__all__ = [
    "CountingOperator",
    "as_counting_operator",
    "as_deflation_basis",
    "as_generator",
    "check_positive_int",
    "check_start_block",
    "check_tolerance",
    "project_out",
]


class CountingOperator:
    """A symmetric operator that counts the operator-vector products it is asked for.

    ``matmat`` with ``b`` columns is one call of the wrapped operator's
    ``matmat`` (so that an operator that runs the columns in parallel can) and
    counts ``b`` products.
    """

    def __init__(self, op: sla.LinearOperator):
        self.op = op
        self.n = op.shape[0]
        self.n_products = 0

    def matvec(self, x: np.ndarray) -> np.ndarray:
        self.n_products += 1
        y = np.asarray(self.op.matvec(x), dtype=np.float64).reshape(self.n)
        return y

    def matmat(self, X: np.ndarray) -> np.ndarray:
        if X.shape[1] == 1:
            return self.matvec(X[:, 0])[:, None]
        self.n_products += X.shape[1]
        Y = np.asarray(self.op.matmat(X), dtype=np.float64).reshape(self.n, X.shape[1])
        return Y


def as_counting_operator(H, name: str = "H") -> CountingOperator:
    """Normalise a dense array, a sparse matrix or a LinearOperator and wrap it in a counter."""
    if isinstance(H, np.ndarray) and H.ndim != 2:
        raise ValueError(f"`{name}` must be a square 2-D operator, got an array of shape {H.shape}")
    try:
        op = sla.aslinearoperator(H)
    except TypeError as exc:
        raise ValueError(
            f"`{name}` must be a square ndarray, scipy sparse matrix or LinearOperator, got {type(H).__name__}"
        ) from exc
    if len(op.shape) != 2 or op.shape[0] != op.shape[1]:
        raise ValueError(f"`{name}` must be square, got shape {op.shape}")
    if op.shape[0] < 1:
        raise ValueError(f"`{name}` is empty")
    if op.dtype is not None and np.issubdtype(op.dtype, np.complexfloating):
        raise ValueError(f"`{name}` must be real symmetric, got dtype {op.dtype}")
    return CountingOperator(op)


def as_generator(rng) -> np.random.Generator:
    """``numpy.random.default_rng(rng)``, passing a Generator through."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}")
    return int(value)


def check_tolerance(tol, name: str = "tol") -> float:
    try:
        tol = float(tol)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`{name}` must be a positive float, got {tol!r}") from exc
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"`{name}` must be a positive finite float, got {tol!r}")
    return tol


def as_deflation_basis(deflate, n: int, name: str = "deflate") -> np.ndarray | None:
    """Orthonormal rows spanning the columns of `deflate` (shape (n,) or (n, m)), or None.

    Columns that are linearly dependent (to a relative 1e-10) are dropped, so a
    basis of rigid-body modes that contains a redundant rotation (linear
    molecules) is accepted.
    """
    if deflate is None:
        return None
    D = np.asarray(deflate, dtype=np.float64)
    if D.ndim == 1:
        D = D[:, None]
    if D.ndim != 2 or D.shape[0] != n:
        raise ValueError(f"`{name}` must have shape (n, m) = ({n}, m), got {np.shape(deflate)}")
    if D.shape[1] == 0:
        return None
    if not np.all(np.isfinite(D)):
        raise ValueError(f"`{name}` contains NaN or inf")
    if D.shape[1] >= n:
        raise ValueError(f"`{name}` has {D.shape[1]} columns: it must leave a complement in dimension n = {n}")
    U, s, _ = np.linalg.svd(D, full_matrices=False)
    if s.size == 0 or s[0] == 0.0:
        raise ValueError(f"`{name}` is zero")
    rank = int(np.sum(s > 1e-10 * s[0]))
    return np.ascontiguousarray(U[:, :rank].T)


def project_out(C: np.ndarray | None, X: np.ndarray) -> np.ndarray:
    """Remove from the columns of X (n,) or (n, b) their components along the rows of C (twice)."""
    if C is None:
        return X
    for _ in range(2):
        X = X - C.T @ (C @ X)
    return X


def project_out_all(x: np.ndarray, *blocks) -> np.ndarray:
    """Remove from `x` its components along the rows of every block (None or empty
    blocks skipped), the blocks in turn and the whole sweep twice."""
    for _ in range(2):
        for C in blocks:
            if C is not None and C.shape[0]:
                x = x - C.T @ (C @ x)
    return x


def check_start_block(v0, n: int, ncols: int, name: str = "v0") -> np.ndarray | None:
    """Validate a start vector (n,) or block (n, b <= ncols); returns an (n, b) array or None."""
    if v0 is None:
        return None
    V = np.asarray(v0, dtype=np.float64)
    if V.ndim == 1:
        V = V[:, None]
    if V.ndim != 2 or V.shape[0] != n or V.shape[1] < 1 or V.shape[1] > ncols:
        expected = f"({n},)" if ncols == 1 else f"({n},) or ({n}, b) with b <= {ncols}"
        raise ValueError(f"`{name}` must have shape {expected}, got {np.shape(v0)}")
    if not np.all(np.isfinite(V)):
        raise ValueError(f"`{name}` contains NaN or inf")
    if not np.any(V):
        raise ValueError(f"`{name}` is zero")
    return V
