"""numba kernels of one Steihaug-Toint CG iteration.

The Python solver calls the user's products between iterations and these
kernels for everything else: one compiled call replaces a dozen small numpy
operations, which dominate the cost of small problems (0.3 us per call against
about 0.7 us per numpy operation on 2-vectors).  Plain arrays in and out, so
the compiled trust-region loop can use them too.
"""

from __future__ import annotations

import math

from numba import njit

from .._linalg import dot

# Codes returned by `cg_iteration`; they map onto steihaug.StopReason.
CONTINUE = -1
CONVERGED = 0
BOUNDARY = 1
NEGATIVE_CURVATURE = 2
NONFINITE = 4


@njit(cache=True)
def boundary_root(z, d, radius):
    """The tau >= 0 with ||z + tau d|| = radius (z strictly inside)."""
    a = dot(d, d)
    b = dot(z, d)
    c = dot(z, z) - radius * radius
    disc = math.sqrt(max(b * b - a * c, 0.0))
    # the larger root of a tau^2 + 2 b tau + c, written without cancellation
    if b > 0.0:
        return -c / (b + disc)
    return (disc - b) / a


@njit(cache=True)
def cg_iteration(z, r, d, Hd, rr, radius, tol):
    """One CG iteration on the trust-region model, in place.

    On entry z is the step, r = g + H z the residual, d the direction, Hd its
    product and rr = r'r.  Returns ``(code, rr_next, curvature)``; z and r are
    updated (to the boundary point when the code says so) and d becomes the
    next direction when the code is CONTINUE.  ``radius = inf`` disables the
    trust region.
    """
    n = z.size
    dHd = dot(d, Hd)
    dd = dot(d, d)
    if not math.isfinite(dHd):
        return NONFINITE, rr, 0.0
    curvature = dHd / dd
    if dHd <= 0.0:
        if math.isinf(radius):
            return NEGATIVE_CURVATURE, rr, curvature
        tau = boundary_root(z, d, radius)
        for i in range(n):
            z[i] += tau * d[i]
            r[i] += tau * Hd[i]
        return NEGATIVE_CURVATURE, rr, curvature
    alpha = rr / dHd
    if not math.isinf(radius):
        zz = 0.0
        for i in range(n):
            t = z[i] + alpha * d[i]
            zz += t * t
        if zz >= radius * radius:
            tau = boundary_root(z, d, radius)
            for i in range(n):
                z[i] += tau * d[i]
                r[i] += tau * Hd[i]
            return BOUNDARY, rr, curvature
    rr_next = 0.0
    for i in range(n):
        z[i] += alpha * d[i]
        r[i] += alpha * Hd[i]
        rr_next += r[i] * r[i]
    if rr_next < tol * tol:
        return CONVERGED, rr_next, curvature
    beta = rr_next / rr
    for i in range(n):
        d[i] = beta * d[i] - r[i]
    return CONTINUE, rr_next, curvature


@njit(cache=True)
def model_decrease(g, z, r):
    """m(0) - m(z) = -(g'z + z'Hz/2), with Hz = r - g: no product needed."""
    return -0.5 * (dot(g, z) + dot(z, r))
