"""curvopt: second-order optimization and curvature analysis from a gradient alone.

``curvopt.minimize`` is a drop-in replacement for ``scipy.optimize.minimize``
whose Newton methods need nothing but a gradient; ``curvopt.HessianOperator``
turns a gradient into Hessian-vector products as a scipy LinearOperator.
"""

from ._minimize import minimize
from ._result import OptimizeResult, Status
from .hvp import HessianOperator

__version__ = "0.1.0.dev0"

__all__ = ["minimize", "OptimizeResult", "Status", "HessianOperator", "__version__"]
