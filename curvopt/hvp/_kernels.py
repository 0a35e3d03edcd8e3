"""numba kernels of finite-difference Hessian-vector products.

Plain float64 arrays in and out, so that the same kernels serve the Python
backends and the fully compiled trust-region loop.

Step size.  A forward difference of the gradient along ``p``,
``(g(x + h p) - g(x)) / h``, has truncation error ``O(h ||p||^2)`` and
round-off error ``O(eps ||g|| / h)``; balancing them gives
``h ||p|| ~ sqrt(eps) (1 + ||x||)``.  The central difference
``(g(x + h p) - g(x - h p)) / (2 h)`` has truncation ``O(h^2 ||p||^3)`` and
the balance ``h ||p|| ~ eps^(1/3) (1 + ||x||)``.  These are the choices of
Nocedal & Wright (2006), Sec. 8.1, with the ``1 + ||x||`` scale of their
Hessian-free Newton discussion (Sec. 7.1); scipy's ``_numdiff`` uses the same
sqrt(eps) and eps^(1/3) relative steps.  A user's `eps` replaces the relative
factor.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .._linalg import norm

SQRT_EPS = float(np.sqrt(np.finfo(float).eps))
CBRT_EPS = float(np.finfo(float).eps ** (1.0 / 3.0))


@njit(cache=True)
def fd_step(x, p, rel):
    """Step length h along `p` (absolute), from the relative factor `rel`."""
    xnorm = norm(x)
    pnorm = norm(p)
    if pnorm == 0.0:
        return 0.0
    return rel * (1.0 + xnorm) / pnorm


@njit(cache=True)
def displaced(x, p, t, out):
    """out = x + t p."""
    for i in range(x.size):
        out[i] = x[i] + t * p[i]
    return out


@njit(cache=True)
def forward_difference(g_plus, g0, h, out):
    """out = (g_plus - g0) / h."""
    inv = 1.0 / h
    for i in range(g0.size):
        out[i] = (g_plus[i] - g0[i]) * inv
    return out


@njit(cache=True)
def central_difference(g_plus, g_minus, h, out):
    """out = (g_plus - g_minus) / (2 h)."""
    inv = 0.5 / h
    for i in range(g_plus.size):
        out[i] = (g_plus[i] - g_minus[i]) * inv
    return out
