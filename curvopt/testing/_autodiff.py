"""Exact derivatives of test objectives by automatic differentiation (autograd).

A problem written once in ``autograd.numpy`` gets its gradient, Hessian-vector
product and dense Hessian here, without finite differences.  autograd is
imported on first use only, so importing `curvopt.testing` stays cheap.
"""

from __future__ import annotations

import numpy as np

__all__ = ["autograd_derivatives", "sum_of_squares"]


def sum_of_squares(residual):
    """Return ``f(x) = sum(residual(x)**2)`` written for autograd."""
    import autograd.numpy as anp

    def objective(x):
        r = residual(x)
        return anp.sum(r * r)

    return objective


def autograd_derivatives(objective):
    """Exact ``fun, jac, hessp, hess`` of a scalar objective written in autograd.numpy.

    The gradient is one reverse pass, the Hessian-vector product differentiates
    the directional derivative ``g(x)'p`` by a second reverse pass, and the
    Hessian is the Jacobian of the gradient.

    Parameters
    ----------
    objective : callable
        ``objective(x) -> scalar`` using only ``autograd.numpy`` operations.

    Returns
    -------
    fun, jac, hessp, hess : callable
        Plain-numpy-facing functions returning float / float64 arrays.

    References
    ----------
    .. [1] D. Maclaurin, D. Duvenaud and R. P. Adams, "Autograd: effortless
       gradients in numpy", ICML AutoML workshop, 2015.
    .. [2] B. A. Pearlmutter, "Fast exact multiplication by the Hessian",
       Neural Computation 6(1):147-160, 1994.
    """
    import autograd

    gradient = autograd.grad(objective)
    hvp = autograd.hessian_vector_product(objective)
    hessian = autograd.hessian(objective)

    def fun(x):
        return float(objective(np.asarray(x, dtype=np.float64)))

    def jac(x):
        return np.asarray(gradient(np.asarray(x, dtype=np.float64)), dtype=np.float64)

    def hessp(x, p):
        return np.asarray(hvp(np.asarray(x, dtype=np.float64), np.asarray(p, dtype=np.float64)), dtype=np.float64)

    def hess(x):
        return np.asarray(hessian(np.asarray(x, dtype=np.float64)), dtype=np.float64)

    return fun, jac, hessp, hess
