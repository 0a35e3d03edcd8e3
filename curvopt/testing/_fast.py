"""Vectorised numpy objectives, gradients and Hessian-vector products.

These are the hand-written, O(n) implementations of the scalable problems,
used wherever speed matters (benchmarks, n up to 1e5 and beyond).  Each one is
tested against automatic differentiation of the residuals in `_mgh_residuals`.

Objectives that are sums of squares ``f = sum r_i**2`` use ``grad f = 2 J'r``
and ``hess f p = 2 (J'(J p) + sum_i r_i (hess r_i) p)``.

References
----------
.. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
   optimization software", ACM Trans. Math. Software 7(1):17-41, 1981.
"""

from __future__ import annotations

import numpy as np


def _as_vector(x):
    return np.asarray(x, dtype=np.float64)


# ----------------------------------------------------------- chained Rosenbrock
def chained_rosenbrock_fun(x):
    x = _as_vector(x)
    head, tail = x[:-1], x[1:]
    a = tail - head * head
    b = 1.0 - head
    return float(np.sum(100.0 * a * a + b * b))


def chained_rosenbrock_jac(x):
    x = _as_vector(x)
    head, tail = x[:-1], x[1:]
    a = tail - head * head
    g = np.zeros_like(x)
    g[:-1] = -400.0 * head * a - 2.0 * (1.0 - head)
    g[1:] += 200.0 * a
    return g


def _chained_rosenbrock_bands(x):
    head, tail = x[:-1], x[1:]
    diagonal = np.zeros_like(x)
    diagonal[:-1] = 1200.0 * head * head - 400.0 * tail + 2.0
    diagonal[1:] += 200.0
    off = -400.0 * head
    return diagonal, off


def chained_rosenbrock_hessp(x, p):
    x = _as_vector(x)
    p = _as_vector(p)
    diagonal, off = _chained_rosenbrock_bands(x)
    hp = diagonal * p
    hp[:-1] += off * p[1:]
    hp[1:] += off * p[:-1]
    return hp


def chained_rosenbrock_hess(x):
    x = _as_vector(x)
    diagonal, off = _chained_rosenbrock_bands(x)
    return np.diag(diagonal) + np.diag(off, 1) + np.diag(off, -1)


# ---------------------------------------------------------- extended Rosenbrock
def extended_rosenbrock_fun(x):
    x = _as_vector(x)
    odd, even = x[0::2], x[1::2]
    a = even - odd * odd
    b = 1.0 - odd
    return float(np.sum(100.0 * a * a + b * b))


def extended_rosenbrock_jac(x):
    x = _as_vector(x)
    odd, even = x[0::2], x[1::2]
    a = even - odd * odd
    g = np.empty_like(x)
    g[0::2] = -400.0 * odd * a - 2.0 * (1.0 - odd)
    g[1::2] = 200.0 * a
    return g


def extended_rosenbrock_hessp(x, p):
    x = _as_vector(x)
    p = _as_vector(p)
    odd, even = x[0::2], x[1::2]
    h11 = 1200.0 * odd * odd - 400.0 * even + 2.0
    h12 = -400.0 * odd
    hp = np.empty_like(x)
    hp[0::2] = h11 * p[0::2] + h12 * p[1::2]
    hp[1::2] = h12 * p[0::2] + 200.0 * p[1::2]
    return hp


def extended_rosenbrock_hess(x):
    x = _as_vector(x)
    n = x.size
    odd, even = x[0::2], x[1::2]
    h = np.zeros((n, n))
    i = np.arange(0, n, 2)
    h[i, i] = 1200.0 * odd * odd - 400.0 * even + 2.0
    h[i, i + 1] = h[i + 1, i] = -400.0 * odd
    h[i + 1, i + 1] = 200.0
    return h


# ------------------------------------------------------ extended Powell singular
def extended_powell_fun(x):
    x = _as_vector(x)
    a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
    s1 = a + 10.0 * b
    s2 = c - d
    s3 = (b - 2.0 * c) ** 2
    s4 = (a - d) ** 2
    return float(np.sum(s1 * s1 + 5.0 * s2 * s2 + s3 * s3 + 10.0 * s4 * s4))


def extended_powell_jac(x):
    x = _as_vector(x)
    a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
    s1 = a + 10.0 * b
    s2 = c - d
    t3 = (b - 2.0 * c) ** 3
    t4 = (a - d) ** 3
    g = np.empty_like(x)
    g[0::4] = 2.0 * s1 + 40.0 * t4
    g[1::4] = 20.0 * s1 + 4.0 * t3
    g[2::4] = 10.0 * s2 - 8.0 * t3
    g[3::4] = -10.0 * s2 - 40.0 * t4
    return g


def extended_powell_hessp(x, p):
    x = _as_vector(x)
    p = _as_vector(p)
    a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
    pa, pb, pc, pd = p[0::4], p[1::4], p[2::4], p[3::4]
    u = 12.0 * (b - 2.0 * c) ** 2
    v = 120.0 * (a - d) ** 2
    hp = np.empty_like(x)
    hp[0::4] = (2.0 + v) * pa + 20.0 * pb - v * pd
    hp[1::4] = 20.0 * pa + (200.0 + u) * pb - 2.0 * u * pc
    hp[2::4] = -2.0 * u * pb + (10.0 + 4.0 * u) * pc - 10.0 * pd
    hp[3::4] = -v * pa - 10.0 * pc + (10.0 + v) * pd
    return hp


def extended_powell_hess(x):
    x = _as_vector(x)
    n = x.size
    eye = np.eye(n)
    return np.column_stack([extended_powell_hessp(x, eye[:, j]) for j in range(n)])


# ------------------------------------------------------ ill-conditioned quadratic
def quadratic_diagonal(n, cond):
    """Eigenvalues ``logspace(0, log10(cond), n)`` (``[1.0]`` when n = 1)."""
    if n == 1:
        return np.ones(1)
    return np.logspace(0.0, np.log10(cond), n)


class DiagonalQuadratic:
    """``f(x) = 0.5 * sum_i a_i (x_i - 1)**2`` with fixed positive weights ``a``."""

    def __init__(self, diagonal):
        self.diagonal = np.asarray(diagonal, dtype=np.float64)

    def fun(self, x):
        e = _as_vector(x) - 1.0
        return float(0.5 * np.dot(self.diagonal * e, e))

    def jac(self, x):
        return self.diagonal * (_as_vector(x) - 1.0)

    def hessp(self, x, p):
        return self.diagonal * _as_vector(p)

    def hess(self, x):
        return np.diag(self.diagonal)


# ------------------------------------------------------------ Broyden tridiagonal
def broyden_tridiagonal_residual(x):
    x = _as_vector(x)
    r = (3.0 - 2.0 * x) * x + 1.0
    r[1:] -= x[:-1]
    r[:-1] -= 2.0 * x[1:]
    return r


def _broyden_tridiagonal_jacobian_product(x, p):
    jp = (3.0 - 4.0 * x) * p
    jp[1:] -= p[:-1]
    jp[:-1] -= 2.0 * p[1:]
    return jp


def _broyden_tridiagonal_jacobian_transpose_product(x, v):
    jtv = (3.0 - 4.0 * x) * v
    jtv[:-1] -= v[1:]
    jtv[1:] -= 2.0 * v[:-1]
    return jtv


def broyden_tridiagonal_fun(x):
    r = broyden_tridiagonal_residual(x)
    return float(np.dot(r, r))


def broyden_tridiagonal_jac(x):
    x = _as_vector(x)
    return 2.0 * _broyden_tridiagonal_jacobian_transpose_product(x, broyden_tridiagonal_residual(x))


def broyden_tridiagonal_hessp(x, p):
    x = _as_vector(x)
    p = _as_vector(p)
    r = broyden_tridiagonal_residual(x)
    jp = _broyden_tridiagonal_jacobian_product(x, p)
    # each residual has second derivative -4 in its own variable only
    return 2.0 * _broyden_tridiagonal_jacobian_transpose_product(x, jp) - 8.0 * r * p


def broyden_tridiagonal_hess(x):
    x = _as_vector(x)
    n = x.size
    eye = np.eye(n)
    return np.column_stack([broyden_tridiagonal_hessp(x, eye[:, j]) for j in range(n)])


# --------------------------------------------------------- variably dimensioned
def variably_dimensioned_fun(x):
    e = _as_vector(x) - 1.0
    s = np.dot(np.arange(1.0, e.size + 1.0), e)
    return float(np.dot(e, e) + s * s + s ** 4)


def variably_dimensioned_jac(x):
    e = _as_vector(x) - 1.0
    w = np.arange(1.0, e.size + 1.0)
    s = np.dot(w, e)
    return 2.0 * e + (2.0 * s + 4.0 * s ** 3) * w


def variably_dimensioned_hessp(x, p):
    e = _as_vector(x) - 1.0
    p = _as_vector(p)
    w = np.arange(1.0, e.size + 1.0)
    s = np.dot(w, e)
    return 2.0 * p + (2.0 + 12.0 * s * s) * np.dot(w, p) * w


def variably_dimensioned_hess(x):
    e = _as_vector(x) - 1.0
    w = np.arange(1.0, e.size + 1.0)
    s = np.dot(w, e)
    return 2.0 * np.eye(e.size) + (2.0 + 12.0 * s * s) * np.outer(w, w)


# ------------------------------------------------------------------ trigonometric
def trigonometric_residual(x):
    x = _as_vector(x)
    n = x.size
    i = np.arange(1.0, n + 1.0)
    cos = np.cos(x)
    return n - np.sum(cos) + i * (1.0 - cos) - np.sin(x)


def trigonometric_fun(x):
    r = trigonometric_residual(x)
    return float(np.dot(r, r))


def trigonometric_jac(x):
    # J = 1 sin(x)' + diag(i sin x - cos x)
    x = _as_vector(x)
    i = np.arange(1.0, x.size + 1.0)
    r = trigonometric_residual(x)
    sin, cos = np.sin(x), np.cos(x)
    return 2.0 * (sin * np.sum(r) + (i * sin - cos) * r)


def trigonometric_hessp(x, p):
    x = _as_vector(x)
    p = _as_vector(p)
    i = np.arange(1.0, x.size + 1.0)
    r = trigonometric_residual(x)
    sin, cos = np.sin(x), np.cos(x)
    own = i * sin - cos
    jp = np.dot(sin, p) + own * p
    jtjp = sin * np.sum(jp) + own * jp
    # hess r_i = diag(cos x) + e_i e_i' (i cos x_i + sin x_i)
    second = (cos * np.sum(r) + r * (i * cos + sin)) * p
    return 2.0 * (jtjp + second)


# ------------------------------------------------------- discrete boundary value
def _boundary_value_grid(n):
    h = 1.0 / (n + 1)
    return h, h * np.arange(1.0, n + 1.0)


def discrete_boundary_value_residual(x):
    x = _as_vector(x)
    h, t = _boundary_value_grid(x.size)
    r = 2.0 * x + 0.5 * h * h * (x + t + 1.0) ** 3
    r[1:] -= x[:-1]
    r[:-1] -= x[1:]
    return r


def _second_difference(v, diagonal):
    out = diagonal * v
    out[1:] -= v[:-1]
    out[:-1] -= v[1:]
    return out


def discrete_boundary_value_fun(x):
    r = discrete_boundary_value_residual(x)
    return float(np.dot(r, r))


def discrete_boundary_value_jac(x):
    # J = tridiag(-1, 2 + 1.5 h^2 (x + t + 1)^2, -1), symmetric
    x = _as_vector(x)
    h, t = _boundary_value_grid(x.size)
    diagonal = 2.0 + 1.5 * h * h * (x + t + 1.0) ** 2
    return 2.0 * _second_difference(discrete_boundary_value_residual(x), diagonal)


def discrete_boundary_value_hessp(x, p):
    x = _as_vector(x)
    p = _as_vector(p)
    h, t = _boundary_value_grid(x.size)
    u = x + t + 1.0
    diagonal = 2.0 + 1.5 * h * h * u * u
    r = discrete_boundary_value_residual(x)
    jp = _second_difference(p, diagonal)
    return 2.0 * (_second_difference(jp, diagonal) + 3.0 * h * h * u * r * p)


# ---------------------------------------------------------------------- penalty I
PENALTY_A = 1e-5


def penalty_1_fun(x):
    x = _as_vector(x)
    e = x - 1.0
    s = np.dot(x, x) - 0.25
    return float(PENALTY_A * np.dot(e, e) + s * s)


def penalty_1_jac(x):
    x = _as_vector(x)
    s = np.dot(x, x) - 0.25
    return 2.0 * PENALTY_A * (x - 1.0) + 4.0 * s * x


def penalty_1_hessp(x, p):
    x = _as_vector(x)
    p = _as_vector(p)
    s = np.dot(x, x) - 0.25
    return (2.0 * PENALTY_A + 4.0 * s) * p + 8.0 * np.dot(x, p) * x


def penalty_1_hess(x):
    x = _as_vector(x)
    s = np.dot(x, x) - 0.25
    return (2.0 * PENALTY_A + 4.0 * s) * np.eye(x.size) + 8.0 * np.outer(x, x)


# --------------------------------------------------------------- linear full rank
class LinearFullRank:
    """MGH 32: ``r_i = x_i - 2 s/m - 1`` (i <= n), ``r_i = -2 s/m - 1`` (i > n), ``s = sum x``."""

    def __init__(self, m):
        self.m = int(m)

    def residual(self, x):
        x = _as_vector(x)
        c = 2.0 * np.sum(x) / self.m + 1.0
        return np.concatenate([x - c, np.full(self.m - x.size, -c)])

    def fun(self, x):
        r = self.residual(x)
        return float(np.dot(r, r))

    def _jt(self, v, n):
        # J = [I; 0] - (2/m) 1 1'
        return v[:n] - 2.0 / self.m * np.sum(v)

    def _j(self, p):
        return np.concatenate([p, np.zeros(self.m - p.size)]) - 2.0 / self.m * np.sum(p)

    def jac(self, x):
        x = _as_vector(x)
        return 2.0 * self._jt(self.residual(x), x.size)

    def hessp(self, x, p):
        p = _as_vector(p)
        return 2.0 * self._jt(self._j(p), p.size)

    def hess(self, x):
        n = _as_vector(x).size
        eye = np.eye(n)
        return np.column_stack([self.hessp(x, eye[:, j]) for j in range(n)])
