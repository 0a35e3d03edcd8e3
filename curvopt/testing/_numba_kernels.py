"""numba versions of the test problems' objective, gradient and Hessian-vector product.

Every function is ``numba.njit(cache=True)`` and takes float64 1-D arrays:
``fun(x) -> float``, ``jac(x) -> ndarray``, ``hessp(x, p) -> ndarray``.
Nothing is compiled when this module is imported: numba compiles a function
on its first call (or loads it from its on-disk cache).  This module is
imported only when a problem with numba versions is built.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from . import _small_kernels as _small

_jit = numba.njit(cache=True)


# ------------------------------------------------------------- chained Rosenbrock
@_jit
def chained_rosenbrock_fun(x):
    total = 0.0
    for i in range(x.shape[0] - 1):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        total += 100.0 * a * a + b * b
    return total


@_jit
def chained_rosenbrock_jac(x):
    n = x.shape[0]
    g = np.zeros(n)
    for i in range(n - 1):
        a = x[i + 1] - x[i] * x[i]
        g[i] += -400.0 * x[i] * a - 2.0 * (1.0 - x[i])
        g[i + 1] += 200.0 * a
    return g


@_jit
def chained_rosenbrock_hessp(x, p):
    n = x.shape[0]
    hp = np.zeros(n)
    for i in range(n - 1):
        d = 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0
        off = -400.0 * x[i]
        hp[i] += d * p[i] + off * p[i + 1]
        hp[i + 1] += off * p[i] + 200.0 * p[i + 1]
    return hp


# ------------------------------------------------------------ extended Rosenbrock
@_jit
def extended_rosenbrock_fun(x):
    total = 0.0
    for i in range(0, x.shape[0] - 1, 2):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        total += 100.0 * a * a + b * b
    return total


@_jit
def extended_rosenbrock_jac(x):
    n = x.shape[0]
    g = np.zeros(n)
    for i in range(0, n - 1, 2):
        a = x[i + 1] - x[i] * x[i]
        g[i] = -400.0 * x[i] * a - 2.0 * (1.0 - x[i])
        g[i + 1] = 200.0 * a
    return g


@_jit
def extended_rosenbrock_hessp(x, p):
    n = x.shape[0]
    hp = np.zeros(n)
    for i in range(0, n - 1, 2):
        d = 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0
        off = -400.0 * x[i]
        hp[i] = d * p[i] + off * p[i + 1]
        hp[i + 1] = off * p[i] + 200.0 * p[i + 1]
    return hp


# -------------------------------------------------------- extended Powell singular
@_jit
def extended_powell_fun(x):
    total = 0.0
    for k in range(0, x.shape[0] - 3, 4):
        s1 = x[k] + 10.0 * x[k + 1]
        s2 = x[k + 2] - x[k + 3]
        s3 = x[k + 1] - 2.0 * x[k + 2]
        s4 = x[k] - x[k + 3]
        total += s1 * s1 + 5.0 * s2 * s2 + s3 ** 4 + 10.0 * s4 ** 4
    return total


@_jit
def extended_powell_jac(x):
    n = x.shape[0]
    g = np.zeros(n)
    for k in range(0, n - 3, 4):
        s1 = x[k] + 10.0 * x[k + 1]
        s2 = x[k + 2] - x[k + 3]
        t3 = (x[k + 1] - 2.0 * x[k + 2]) ** 3
        t4 = (x[k] - x[k + 3]) ** 3
        g[k] = 2.0 * s1 + 40.0 * t4
        g[k + 1] = 20.0 * s1 + 4.0 * t3
        g[k + 2] = 10.0 * s2 - 8.0 * t3
        g[k + 3] = -10.0 * s2 - 40.0 * t4
    return g


@_jit
def extended_powell_hessp(x, p):
    n = x.shape[0]
    hp = np.zeros(n)
    for k in range(0, n - 3, 4):
        u = 12.0 * (x[k + 1] - 2.0 * x[k + 2]) ** 2
        v = 120.0 * (x[k] - x[k + 3]) ** 2
        hp[k] = (2.0 + v) * p[k] + 20.0 * p[k + 1] - v * p[k + 3]
        hp[k + 1] = 20.0 * p[k] + (200.0 + u) * p[k + 1] - 2.0 * u * p[k + 2]
        hp[k + 2] = -2.0 * u * p[k + 1] + (10.0 + 4.0 * u) * p[k + 2] - 10.0 * p[k + 3]
        hp[k + 3] = -v * p[k] - 10.0 * p[k + 2] + (10.0 + v) * p[k + 3]
    return hp


# ------------------------------------------------------------ Broyden tridiagonal
@_jit
def _broyden_tridiagonal_residual(x):
    n = x.shape[0]
    r = np.empty(n)
    for i in range(n):
        v = (3.0 - 2.0 * x[i]) * x[i] + 1.0
        if i > 0:
            v -= x[i - 1]
        if i < n - 1:
            v -= 2.0 * x[i + 1]
        r[i] = v
    return r


@_jit
def _broyden_tridiagonal_jt(x, v):
    n = x.shape[0]
    out = np.empty(n)
    for j in range(n):
        s = (3.0 - 4.0 * x[j]) * v[j]
        if j < n - 1:
            s -= v[j + 1]
        if j > 0:
            s -= 2.0 * v[j - 1]
        out[j] = s
    return out


@_jit
def broyden_tridiagonal_fun(x):
    r = _broyden_tridiagonal_residual(x)
    total = 0.0
    for i in range(r.shape[0]):
        total += r[i] * r[i]
    return total


@_jit
def broyden_tridiagonal_jac(x):
    return 2.0 * _broyden_tridiagonal_jt(x, _broyden_tridiagonal_residual(x))


@_jit
def broyden_tridiagonal_hessp(x, p):
    n = x.shape[0]
    r = _broyden_tridiagonal_residual(x)
    jp = np.empty(n)
    for i in range(n):
        v = (3.0 - 4.0 * x[i]) * p[i]
        if i > 0:
            v -= p[i - 1]
        if i < n - 1:
            v -= 2.0 * p[i + 1]
        jp[i] = v
    out = _broyden_tridiagonal_jt(x, jp)
    for i in range(n):
        out[i] = 2.0 * out[i] - 8.0 * r[i] * p[i]
    return out


# ------------------------------------------------------ ill-conditioned quadratic
@_jit
def _quadratic_weight(i, n, log10_cond):
    if n == 1:
        return 1.0
    return 10.0 ** (log10_cond * i / (n - 1))


def make_quadratic_kernels(cond):
    """numba ``fun, jac, hessp`` of ``0.5 * sum a_i (x_i - 1)**2``, ``a = logspace(0, log10(cond), n)``.

    The weights are recomputed from ``n = x.size`` inside the kernels, so the
    functions take only ``x`` (and ``p``).  `cond` is a closure constant, part
    of numba's cache key.
    """
    log10_cond = float(math.log10(cond))

    @_jit
    def quadratic_fun(x):
        n = x.shape[0]
        total = 0.0
        for i in range(n):
            e = x[i] - 1.0
            total += _quadratic_weight(i, n, log10_cond) * e * e
        return 0.5 * total

    @_jit
    def quadratic_jac(x):
        n = x.shape[0]
        g = np.empty(n)
        for i in range(n):
            g[i] = _quadratic_weight(i, n, log10_cond) * (x[i] - 1.0)
        return g

    @_jit
    def quadratic_hessp(x, p):
        n = x.shape[0]
        hp = np.empty(n)
        for i in range(n):
            hp[i] = _quadratic_weight(i, n, log10_cond) * p[i]
        return hp

    return quadratic_fun, quadratic_jac, quadratic_hessp


# ------------------------------------------------------------- small MGH problems
dense_matvec = _jit(_small.dense_matvec)

freudenstein_roth_fun = _jit(_small.freudenstein_roth_fun)
freudenstein_roth_jac = _jit(_small.freudenstein_roth_jac)
_freudenstein_roth_hess = _jit(_small.freudenstein_roth_hess)


@_jit
def freudenstein_roth_hessp(x, p):
    return dense_matvec(_freudenstein_roth_hess(x), p)


powell_badly_scaled_fun = _jit(_small.powell_badly_scaled_fun)
powell_badly_scaled_jac = _jit(_small.powell_badly_scaled_jac)
_powell_badly_scaled_hess = _jit(_small.powell_badly_scaled_hess)


@_jit
def powell_badly_scaled_hessp(x, p):
    return dense_matvec(_powell_badly_scaled_hess(x), p)


brown_badly_scaled_fun = _jit(_small.brown_badly_scaled_fun)
brown_badly_scaled_jac = _jit(_small.brown_badly_scaled_jac)
_brown_badly_scaled_hess = _jit(_small.brown_badly_scaled_hess)


@_jit
def brown_badly_scaled_hessp(x, p):
    return dense_matvec(_brown_badly_scaled_hess(x), p)


beale_fun = _jit(_small.beale_fun)
beale_jac = _jit(_small.beale_jac)
_beale_hess = _jit(_small.beale_hess)


@_jit
def beale_hessp(x, p):
    return dense_matvec(_beale_hess(x), p)


helical_valley_fun = _jit(_small.helical_valley_fun)
helical_valley_jac = _jit(_small.helical_valley_jac)
_helical_valley_hess = _jit(_small.helical_valley_hess)


@_jit
def helical_valley_hessp(x, p):
    return dense_matvec(_helical_valley_hess(x), p)


wood_fun = _jit(_small.wood_fun)
wood_jac = _jit(_small.wood_jac)
_wood_hess = _jit(_small.wood_hess)


@_jit
def wood_hessp(x, p):
    return dense_matvec(_wood_hess(x), p)
