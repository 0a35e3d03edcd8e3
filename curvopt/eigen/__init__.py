"""Curvature analysis from Hessian-vector products alone.

`eigenmodes` (thick-restart Lanczos, with deflation, blocks and a check for
missed copies of degenerate eigenvalues), `power_iteration`,
`inverse_iteration`, `hessian_trace` (Hutchinson, Hutch++) and
`spectral_density` (stochastic Lanczos quadrature).  Every solver accepts a
symmetric `scipy.sparse.linalg.LinearOperator` (such as
`curvopt.HessianOperator`), a dense array or a sparse matrix, and reports
the number of products it used.
"""

from ._result import EigenResult, SpectralDensity, TraceResult
from .density import spectral_density
from .inverse import inverse_iteration
from .lanczos import eigenmodes
from .power import power_iteration
from .trace import hessian_trace

__all__ = [
    "EigenResult",
    "SpectralDensity",
    "TraceResult",
    "eigenmodes",
    "hessian_trace",
    "inverse_iteration",
    "power_iteration",
    "spectral_density",
]
