"""Hand-written objective, gradient and Hessian of small MGH problems.

Each function is self-contained scalar code on a float64 1-D array, so that the
same source serves as the plain-Python implementation (fast for n <= 4: no array
overhead) and, compiled by `numba.njit`, as the numba implementation (see
`_numba_kernels`).  Every function here is checked against the automatic
differentiation of the residuals in `_mgh_residuals` by the test suite.

Objectives are ``f(x) = sum_i r_i(x)**2``; with ``J`` the Jacobian of ``r``,
``grad f = 2 J'r`` and ``hess f = 2 (J'J + sum_i r_i hess r_i)``.

References
----------
.. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
   optimization software", ACM Trans. Math. Software 7(1):17-41, 1981.
"""

import math

import numpy as np


# ------------------------------------------------ MGH 2: Freudenstein and Roth
def freudenstein_roth_fun(x):
    x1 = x[0]
    x2 = x[1]
    r1 = -13.0 + x1 + ((5.0 - x2) * x2 - 2.0) * x2
    r2 = -29.0 + x1 + ((x2 + 1.0) * x2 - 14.0) * x2
    return r1 * r1 + r2 * r2


def freudenstein_roth_jac(x):
    x1 = x[0]
    x2 = x[1]
    r1 = -13.0 + x1 + ((5.0 - x2) * x2 - 2.0) * x2
    r2 = -29.0 + x1 + ((x2 + 1.0) * x2 - 14.0) * x2
    d1 = (10.0 - 3.0 * x2) * x2 - 2.0
    d2 = (3.0 * x2 + 2.0) * x2 - 14.0
    g = np.empty(2)
    g[0] = 2.0 * (r1 + r2)
    g[1] = 2.0 * (r1 * d1 + r2 * d2)
    return g


def freudenstein_roth_hess(x):
    x1 = x[0]
    x2 = x[1]
    r1 = -13.0 + x1 + ((5.0 - x2) * x2 - 2.0) * x2
    r2 = -29.0 + x1 + ((x2 + 1.0) * x2 - 14.0) * x2
    d1 = (10.0 - 3.0 * x2) * x2 - 2.0
    d2 = (3.0 * x2 + 2.0) * x2 - 14.0
    h = np.empty((2, 2))
    h[0, 0] = 4.0
    h[0, 1] = 2.0 * (d1 + d2)
    h[1, 0] = h[0, 1]
    h[1, 1] = 2.0 * (d1 * d1 + d2 * d2 + r1 * (10.0 - 6.0 * x2) + r2 * (6.0 * x2 + 2.0))
    return h


# ------------------------------------------------ MGH 3: Powell badly scaled
def powell_badly_scaled_fun(x):
    r1 = 1e4 * x[0] * x[1] - 1.0
    r2 = math.exp(-x[0]) + math.exp(-x[1]) - 1.0001
    return r1 * r1 + r2 * r2


def powell_badly_scaled_jac(x):
    e1 = math.exp(-x[0])
    e2 = math.exp(-x[1])
    r1 = 1e4 * x[0] * x[1] - 1.0
    r2 = e1 + e2 - 1.0001
    g = np.empty(2)
    g[0] = 2.0 * (r1 * 1e4 * x[1] - r2 * e1)
    g[1] = 2.0 * (r1 * 1e4 * x[0] - r2 * e2)
    return g


def powell_badly_scaled_hess(x):
    e1 = math.exp(-x[0])
    e2 = math.exp(-x[1])
    r1 = 1e4 * x[0] * x[1] - 1.0
    r2 = e1 + e2 - 1.0001
    h = np.empty((2, 2))
    h[0, 0] = 2.0 * (1e8 * x[1] * x[1] + e1 * e1 + r2 * e1)
    h[0, 1] = 2.0 * (1e8 * x[0] * x[1] + e1 * e2 + r1 * 1e4)
    h[1, 0] = h[0, 1]
    h[1, 1] = 2.0 * (1e8 * x[0] * x[0] + e2 * e2 + r2 * e2)
    return h


# ------------------------------------------------ MGH 4: Brown badly scaled
def brown_badly_scaled_fun(x):
    r1 = x[0] - 1e6
    r2 = x[1] - 2e-6
    r3 = x[0] * x[1] - 2.0
    return r1 * r1 + r2 * r2 + r3 * r3


def brown_badly_scaled_jac(x):
    r1 = x[0] - 1e6
    r2 = x[1] - 2e-6
    r3 = x[0] * x[1] - 2.0
    g = np.empty(2)
    g[0] = 2.0 * (r1 + r3 * x[1])
    g[1] = 2.0 * (r2 + r3 * x[0])
    return g


def brown_badly_scaled_hess(x):
    r3 = x[0] * x[1] - 2.0
    h = np.empty((2, 2))
    h[0, 0] = 2.0 * (1.0 + x[1] * x[1])
    h[0, 1] = 2.0 * (x[0] * x[1] + r3)
    h[1, 0] = h[0, 1]
    h[1, 1] = 2.0 * (1.0 + x[0] * x[0])
    return h


# ------------------------------------------------ MGH 5: Beale
def beale_fun(x):
    y1 = 1.5
    y2 = 2.25
    y3 = 2.625
    b = x[1]
    r1 = y1 - x[0] * (1.0 - b)
    r2 = y2 - x[0] * (1.0 - b * b)
    r3 = y3 - x[0] * (1.0 - b * b * b)
    return r1 * r1 + r2 * r2 + r3 * r3


def beale_jac(x):
    a = x[0]
    b = x[1]
    r1 = 1.5 - a * (1.0 - b)
    r2 = 2.25 - a * (1.0 - b * b)
    r3 = 2.625 - a * (1.0 - b * b * b)
    g = np.empty(2)
    g[0] = -2.0 * (r1 * (1.0 - b) + r2 * (1.0 - b * b) + r3 * (1.0 - b * b * b))
    g[1] = 2.0 * a * (r1 + r2 * 2.0 * b + r3 * 3.0 * b * b)
    return g


def beale_hess(x):
    a = x[0]
    b = x[1]
    r1 = 1.5 - a * (1.0 - b)
    r2 = 2.25 - a * (1.0 - b * b)
    r3 = 2.625 - a * (1.0 - b * b * b)
    # Jacobian rows (dr_i/da, dr_i/db)
    j1a = -(1.0 - b)
    j2a = -(1.0 - b * b)
    j3a = -(1.0 - b * b * b)
    j1b = a
    j2b = 2.0 * a * b
    j3b = 3.0 * a * b * b
    h = np.empty((2, 2))
    h[0, 0] = 2.0 * (j1a * j1a + j2a * j2a + j3a * j3a)
    h[0, 1] = 2.0 * (j1a * j1b + j2a * j2b + j3a * j3b + r1 + r2 * 2.0 * b + r3 * 3.0 * b * b)
    h[1, 0] = h[0, 1]
    h[1, 1] = 2.0 * (j1b * j1b + j2b * j2b + j3b * j3b + r2 * 2.0 * a + r3 * 6.0 * a * b)
    return h


# ------------------------------------------------ MGH 7: helical valley
def helical_valley_fun(x):
    angle = math.atan2(x[1], x[0])
    theta = angle / (2.0 * math.pi)
    if angle < -0.5 * math.pi:
        theta += 1.0
    rho = math.sqrt(x[0] * x[0] + x[1] * x[1])
    r1 = 10.0 * (x[2] - 10.0 * theta)
    r2 = 10.0 * (rho - 1.0)
    return r1 * r1 + r2 * r2 + x[2] * x[2]


def helical_valley_jac(x):
    x1 = x[0]
    x2 = x[1]
    angle = math.atan2(x2, x1)
    theta = angle / (2.0 * math.pi)
    if angle < -0.5 * math.pi:
        theta += 1.0
    rho2 = x1 * x1 + x2 * x2
    rho = math.sqrt(rho2)
    r1 = 10.0 * (x[2] - 10.0 * theta)
    r2 = 10.0 * (rho - 1.0)
    c = 1.0 / (2.0 * math.pi * rho2)
    g = np.empty(3)
    g[0] = 2.0 * (r1 * (100.0 * x2 * c) + r2 * 10.0 * x1 / rho)
    g[1] = 2.0 * (r1 * (-100.0 * x1 * c) + r2 * 10.0 * x2 / rho)
    g[2] = 2.0 * (10.0 * r1 + x[2])
    return g


def helical_valley_hess(x):
    x1 = x[0]
    x2 = x[1]
    angle = math.atan2(x2, x1)
    theta = angle / (2.0 * math.pi)
    if angle < -0.5 * math.pi:
        theta += 1.0
    rho2 = x1 * x1 + x2 * x2
    rho = math.sqrt(rho2)
    rho3 = rho2 * rho
    r1 = 10.0 * (x[2] - 10.0 * theta)
    r2 = 10.0 * (rho - 1.0)
    c = 1.0 / (2.0 * math.pi * rho2)
    c2 = 1.0 / (2.0 * math.pi * rho2 * rho2)
    # Jacobian rows of r1 and r2 (r3 = x3 has row (0, 0, 1))
    a1 = 100.0 * x2 * c
    a2 = -100.0 * x1 * c
    b1 = 10.0 * x1 / rho
    b2 = 10.0 * x2 / rho
    # second derivatives: r1 = 10 x3 - 100 theta, r2 = 10 rho - 10
    t11 = 2.0 * x1 * x2 * c2
    t12 = (x2 * x2 - x1 * x1) * c2
    p11 = x2 * x2 / rho3
    p12 = -x1 * x2 / rho3
    p22 = x1 * x1 / rho3
    h = np.empty((3, 3))
    h[0, 0] = 2.0 * (a1 * a1 + b1 * b1 - 100.0 * r1 * t11 + 10.0 * r2 * p11)
    h[0, 1] = 2.0 * (a1 * a2 + b1 * b2 - 100.0 * r1 * t12 + 10.0 * r2 * p12)
    h[1, 1] = 2.0 * (a2 * a2 + b2 * b2 + 100.0 * r1 * t11 + 10.0 * r2 * p22)
    h[0, 2] = 20.0 * a1
    h[1, 2] = 20.0 * a2
    h[2, 2] = 2.0 * (100.0 + 1.0)
    h[1, 0] = h[0, 1]
    h[2, 0] = h[0, 2]
    h[2, 1] = h[1, 2]
    return h


# ------------------------------------------------ MGH 14: Wood
def wood_fun(x):
    a = x[1] - x[0] * x[0]
    b = x[3] - x[2] * x[2]
    c = x[1] + x[3] - 2.0
    d = x[1] - x[3]
    return (100.0 * a * a + (1.0 - x[0]) ** 2 + 90.0 * b * b + (1.0 - x[2]) ** 2
            + 10.0 * c * c + 0.1 * d * d)


def wood_jac(x):
    a = x[1] - x[0] * x[0]
    b = x[3] - x[2] * x[2]
    c = x[1] + x[3] - 2.0
    d = x[1] - x[3]
    g = np.empty(4)
    g[0] = -400.0 * x[0] * a - 2.0 * (1.0 - x[0])
    g[1] = 200.0 * a + 20.0 * c + 0.2 * d
    g[2] = -360.0 * x[2] * b - 2.0 * (1.0 - x[2])
    g[3] = 180.0 * b + 20.0 * c - 0.2 * d
    return g


def wood_hess(x):
    h = np.zeros((4, 4))
    h[0, 0] = 1200.0 * x[0] * x[0] - 400.0 * x[1] + 2.0
    h[0, 1] = -400.0 * x[0]
    h[1, 1] = 220.2
    h[1, 3] = 19.8
    h[2, 2] = 1080.0 * x[2] * x[2] - 360.0 * x[3] + 2.0
    h[2, 3] = -360.0 * x[2]
    h[3, 3] = 200.2
    h[1, 0] = h[0, 1]
    h[3, 1] = h[1, 3]
    h[3, 2] = h[2, 3]
    return h


def dense_matvec(a, p):
    """``a @ p`` for a small dense matrix, as a loop (numba-friendly, no BLAS)."""
    n = a.shape[0]
    out = np.zeros(n)
    for i in range(n):
        s = 0.0
        for j in range(a.shape[1]):
            s += a[i, j] * p[j]
        out[i] = s
    return out
