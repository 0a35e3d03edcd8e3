"""Turn the user's `hess` / `hessp` arguments into a backend, once, at the edge."""

from __future__ import annotations

from .._oracle import autograd_jvp_works
from .backends import AutogradHVP, FiniteDifferenceHVP, UserHess, UserHessp

__all__ = ["HVP_SCHEMES", "make_backend"]

HVP_SCHEMES = ("2-point", "3-point", "autograd")


def make_backend(oracle, fun, args, x0, hess=None, hessp=None, rel_step=None):
    """The Hessian-vector product source for a run of `minimize`.

    With neither `hess` nor `hessp`, products come from the gradient: exact
    autograd products when the gradient itself comes from autograd, otherwise
    forward differences of the gradient (one gradient call per product).
    """
    if hess is not None and hessp is not None:
        raise ValueError("give either `hess` or `hessp`, not both")
    if _is_update_strategy(hess):
        raise ValueError(
            "`hess` is a quasi-Newton HessianUpdateStrategy, which curvopt's Newton methods do not use; "
            "pass hess=None (products from the gradient) or use scipy's method='trust-constr'"
        )
    name, spec = ("hessp", hessp) if hessp is not None else ("hess", hess)
    if spec is None:
        spec = "autograd" if oracle.jac_mode == "autograd" else "2-point"
    elif callable(spec):
        return UserHessp(spec, args) if name == "hessp" else UserHess(spec, args)
    if not isinstance(spec, str) or spec.lower() not in HVP_SCHEMES:
        raise ValueError(f"`{name}` must be a callable or one of {HVP_SCHEMES}; got {spec!r}")
    scheme = spec.lower()
    if scheme != "autograd":
        return FiniteDifferenceHVP(oracle.gradient, scheme, rel_step, gradients=oracle.gradients)
    if oracle.jac_mode == "autograd":
        return AutogradHVP(fun, args)
    if oracle.jac_mode == "callable" and autograd_jvp_works(oracle.jac_callable, x0, args):
        return AutogradHVP(oracle.jac_callable, args, is_gradient=True)
    raise ValueError(f"{name}='autograd' needs `fun` or `jac` written with autograd.numpy")


def _is_update_strategy(obj) -> bool:
    from scipy.optimize import HessianUpdateStrategy

    return isinstance(obj, HessianUpdateStrategy)
