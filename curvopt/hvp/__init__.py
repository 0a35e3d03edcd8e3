"""Hessian-vector products: finite differences (numba), autograd, the user's own."""

from .backends import AutogradHVP, FiniteDifferenceHVP, HVPBackend, UserHess, UserHessp
from .operator import HessianOperator

__all__ = [
    "HVPBackend",
    "FiniteDifferenceHVP",
    "AutogradHVP",
    "UserHessp",
    "UserHess",
    "HessianOperator",
]
