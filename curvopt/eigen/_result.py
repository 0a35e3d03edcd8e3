"""Result objects of the eigen package."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EigenResult", "SpectralDensity", "TraceResult"]


def _short(value) -> str:
    if isinstance(value, np.ndarray):
        if value.ndim == 1 and value.size <= 8:
            return np.array2string(value, precision=6)
        return f"<ndarray shape={value.shape}>"
    return repr(value)


class _Repr:
    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        for name in self.__dataclass_fields__:
            lines.append(f"    {name}={_short(getattr(self, name))},")
        lines.append(")")
        return "\n".join(lines)


@dataclass(repr=False)
class EigenResult(_Repr):
    """Eigenpairs of a symmetric operator found from operator-vector products.

    Attributes
    ----------
    eigenvalues : ndarray, shape (k,)
        Ascending.
    eigenvectors : ndarray, shape (n, k)
        Orthonormal columns; column ``i`` belongs to ``eigenvalues[i]``.  When
        a `deflate` basis was given they are orthogonal to it.
    residual_norms : ndarray, shape (k,)
        ``||H v_i - lambda_i v_i||`` (with ``H`` the deflated operator when
        `deflate` was given), from the Krylov relation: exact up to rounding,
        no extra products.
    converged : bool
        True when every returned pair meets the solver's stopping test.
    n_products : int
        Operator-vector products requested (a ``matmat`` with ``b`` columns counts ``b``).
    nit : int
        Iterations: restarts for `eigenmodes`, sweeps for `power_iteration`,
        outer iterations for `inverse_iteration`.
    message : str
        Why the solver stopped.
    scale : float
        The scale of the stopping test ``residual <= tol * max(|lambda|, scale)``
        at the end (an estimate of ``||H||`` by default).
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    residual_norms: np.ndarray
    converged: bool
    n_products: int
    nit: int
    message: str
    scale: float = float("nan")


@dataclass(repr=False)
class TraceResult(_Repr):
    """A stochastic estimate of ``trace(H)``.

    Attributes
    ----------
    estimate : float
        The trace estimate.
    n_products : int
        Operator-vector products used.
    std_error : float
        Estimated standard error of `estimate` (NaN where the method gives none).
    method : str
        ``'hutchinson'`` or ``'hutch++'``.
    """

    estimate: float
    n_products: int
    std_error: float
    method: str


@dataclass(repr=False)
class SpectralDensity(_Repr):
    """A smoothed spectral density from stochastic Lanczos quadrature.

    Attributes
    ----------
    grid : ndarray, shape (g,)
        Evaluation points (uniform).
    density : ndarray, shape (g,)
        Estimated density of eigenvalues per unit eigenvalue, normalised by the
        dimension so that it integrates to about 1 over `grid`.
    nodes : ndarray, shape (n_vectors, m)
        Gauss quadrature nodes (Ritz values) of each probe vector.
    weights : ndarray, shape (n_vectors, m)
        The matching Gauss weights (squared first components of the Ritz
        vectors; each row sums to 1).
    n_products : int
        Operator-vector products used.
    sigma : float
        The Gaussian broadening width used.
    """

    grid: np.ndarray
    density: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    n_products: int
    sigma: float = float("nan")
