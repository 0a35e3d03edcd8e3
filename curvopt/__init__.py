"""curvopt: second-order optimization and curvature analysis from a gradient alone.

``curvopt.minimize`` is a drop-in replacement for ``scipy.optimize.minimize``
whose Newton methods need nothing but a gradient; ``curvopt.HessianOperator``
turns a gradient into Hessian-vector products as a scipy LinearOperator;
``curvopt.eigenmodes`` and friends read the curvature off those products;
``curvopt.covariance`` turns them into standard errors; ``curvopt.read_log``
reads back the evaluation log a run writes with ``options={'log': path}``.
"""

from ._minimize import minimize
from ._result import OptimizeResult, Status
from .eigen import (
    EigenResult,
    SpectralDensity,
    TraceResult,
    eigenmodes,
    hessian_trace,
    inverse_iteration,
    power_iteration,
    spectral_density,
)
from ._log import LoggedError, read_log
from .hvp import HessianOperator
from .saddle import find_saddle
from .stats import CovarianceWarning, covariance, hess_inv, standard_errors

__version__ = "0.1.0.dev0"

__all__ = [
    "minimize",
    "OptimizeResult",
    "Status",
    "HessianOperator",
    "find_saddle",
    "eigenmodes",
    "power_iteration",
    "inverse_iteration",
    "hessian_trace",
    "spectral_density",
    "EigenResult",
    "SpectralDensity",
    "TraceResult",
    "covariance",
    "standard_errors",
    "hess_inv",
    "CovarianceWarning",
    "read_log",
    "LoggedError",
    "__version__",
]
