"""Residual vectors of the Moré-Garbow-Hillstrom test problems, in autograd.numpy.

Each function maps ``x`` to the residual vector ``r(x)``; the objective is
``f(x) = sum(r(x)**2)`` as in [1]_.  These definitions are the reference from
which exact derivatives are obtained by automatic differentiation, and against
which the hand-written derivatives of `curvopt.testing` are tested.

References
----------
.. [1] J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained
   optimization software", ACM Trans. Math. Software 7(1):17-41, 1981.
"""

from __future__ import annotations

import math

import autograd.numpy as anp
import numpy as np

# ---------------------------------------------------------------- data tables
BEALE_Y = np.array([1.5, 2.25, 2.625])

BARD_Y = np.array([0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58,
                   0.73, 0.96, 1.34, 2.10, 4.39])

GAUSSIAN_Y = np.array([0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989,
                       0.3521, 0.2420, 0.1295, 0.0540, 0.0175, 0.0044, 0.0009])

MEYER_Y = np.array([34780.0, 28610.0, 23650.0, 19630.0, 16370.0, 13720.0, 11540.0, 9744.0,
                    8261.0, 7030.0, 6005.0, 5147.0, 4427.0, 3820.0, 3307.0, 2872.0])

KOWALIK_OSBORNE_Y = np.array([0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456,
                              0.0342, 0.0323, 0.0235, 0.0246])
KOWALIK_OSBORNE_U = np.array([4.0, 2.0, 1.0, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833,
                              0.0714, 0.0625])

OSBORNE1_Y = np.array([0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818,
                       0.784, 0.751, 0.718, 0.685, 0.658, 0.628, 0.603, 0.580, 0.558,
                       0.538, 0.522, 0.506, 0.490, 0.478, 0.467, 0.457, 0.448, 0.438,
                       0.431, 0.424, 0.420, 0.414, 0.411, 0.406])

OSBORNE2_Y = np.array([1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786,
                       0.725, 0.746, 0.679, 0.608, 0.655, 0.616, 0.606, 0.602, 0.626,
                       0.651, 0.724, 0.649, 0.649, 0.694, 0.644, 0.624, 0.661, 0.612,
                       0.558, 0.533, 0.495, 0.500, 0.423, 0.395, 0.375, 0.372, 0.391,
                       0.396, 0.405, 0.428, 0.429, 0.523, 0.562, 0.607, 0.653, 0.672,
                       0.708, 0.633, 0.668, 0.645, 0.632, 0.591, 0.559, 0.597, 0.625,
                       0.739, 0.710, 0.729, 0.720, 0.636, 0.581, 0.428, 0.292, 0.162,
                       0.098, 0.054])

#: Number of residuals used for the Gulf problem (MGH allow 3 <= m <= 100; m = 100
#: would put a data point exactly at the solution's x2 = 25, where |y - x2|**x3 is
#: not differentiable in x3 by the chain rule).
GULF_M = 99
#: Number of residuals for Box 3-D and Biggs EXP6 (MGH's usual choices).
BOX3D_M = 10
BIGGS_M = 13
#: Jennrich-Sampson uses m = 10 residuals, Brown-Dennis m = 20.
JENNRICH_SAMPSON_M = 10
BROWN_DENNIS_M = 20


# ------------------------------------------------------------ fixed dimension
def rosenbrock(x):
    return anp.stack([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def freudenstein_roth(x):
    return anp.stack([
        -13.0 + x[0] + ((5.0 - x[1]) * x[1] - 2.0) * x[1],
        -29.0 + x[0] + ((x[1] + 1.0) * x[1] - 14.0) * x[1],
    ])


def powell_badly_scaled(x):
    return anp.stack([1e4 * x[0] * x[1] - 1.0, anp.exp(-x[0]) + anp.exp(-x[1]) - 1.0001])


def brown_badly_scaled(x):
    return anp.stack([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2.0])


def beale(x):
    i = np.arange(1, 4)
    return BEALE_Y - x[0] * (1.0 - x[1] ** i)


def jennrich_sampson(x):
    i = np.arange(1, JENNRICH_SAMPSON_M + 1, dtype=np.float64)
    return 2.0 + 2.0 * i - (anp.exp(i * x[0]) + anp.exp(i * x[1]))


def helical_valley_theta(x1, x2):
    """MGH's angle: arctan(x2/x1)/(2 pi), plus 1/2 when x1 < 0 (range (-1/4, 3/4])."""
    angle = anp.arctan2(x2, x1)
    return angle / (2.0 * math.pi) + anp.where(angle < -0.5 * math.pi, 1.0, 0.0)


def helical_valley(x):
    theta = helical_valley_theta(x[0], x[1])
    return anp.stack([
        10.0 * (x[2] - 10.0 * theta),
        10.0 * (anp.sqrt(x[0] ** 2 + x[1] ** 2) - 1.0),
        x[2],
    ])


def bard(x):
    u = np.arange(1, 16, dtype=np.float64)
    v = 16.0 - u
    w = np.minimum(u, v)
    return BARD_Y - (x[0] + u / (v * x[1] + w * x[2]))


def gaussian(x):
    t = (8.0 - np.arange(1, 16)) / 2.0
    return x[0] * anp.exp(-x[1] * (t - x[2]) ** 2 / 2.0) - GAUSSIAN_Y


def meyer(x):
    t = 45.0 + 5.0 * np.arange(1, 17)
    return x[0] * anp.exp(x[1] / (t + x[2])) - MEYER_Y


def gulf_data():
    t = np.arange(1, GULF_M + 1) / 100.0
    y = 25.0 + (-50.0 * np.log(t)) ** (2.0 / 3.0)
    return t, y


def gulf_research(x):
    t, y = gulf_data()
    return anp.exp(-(anp.abs(y - x[1]) ** x[2]) / x[0]) - t


def box_3d(x):
    t = 0.1 * np.arange(1, BOX3D_M + 1)
    return anp.exp(-t * x[0]) - anp.exp(-t * x[1]) - x[2] * (np.exp(-t) - np.exp(-10.0 * t))


def powell_singular(x):
    return anp.stack([
        x[0] + 10.0 * x[1],
        math.sqrt(5.0) * (x[2] - x[3]),
        (x[1] - 2.0 * x[2]) ** 2,
        math.sqrt(10.0) * (x[0] - x[3]) ** 2,
    ])


def wood(x):
    return anp.stack([
        10.0 * (x[1] - x[0] ** 2),
        1.0 - x[0],
        math.sqrt(90.0) * (x[3] - x[2] ** 2),
        1.0 - x[2],
        math.sqrt(10.0) * (x[1] + x[3] - 2.0),
        (x[1] - x[3]) / math.sqrt(10.0),
    ])


def kowalik_osborne(x):
    u = KOWALIK_OSBORNE_U
    return KOWALIK_OSBORNE_Y - x[0] * (u ** 2 + u * x[1]) / (u ** 2 + u * x[2] + x[3])


def brown_dennis(x):
    t = np.arange(1, BROWN_DENNIS_M + 1) / 5.0
    return (x[0] + t * x[1] - np.exp(t)) ** 2 + (x[2] + x[3] * np.sin(t) - np.cos(t)) ** 2


def osborne_1(x):
    t = 10.0 * np.arange(33)
    return OSBORNE1_Y - (x[0] + x[1] * anp.exp(-t * x[3]) + x[2] * anp.exp(-t * x[4]))


def biggs_exp6(x):
    t = 0.1 * np.arange(1, BIGGS_M + 1)
    y = np.exp(-t) - 5.0 * np.exp(-10.0 * t) + 3.0 * np.exp(-4.0 * t)
    return (x[2] * anp.exp(-t * x[0]) - x[3] * anp.exp(-t * x[1])
            + x[5] * anp.exp(-t * x[4]) - y)


def osborne_2(x):
    t = np.arange(65) / 10.0
    model = (x[0] * anp.exp(-t * x[4])
             + x[1] * anp.exp(-(t - x[8]) ** 2 * x[5])
             + x[2] * anp.exp(-(t - x[9]) ** 2 * x[6])
             + x[3] * anp.exp(-(t - x[10]) ** 2 * x[7]))
    return OSBORNE2_Y - model


# ------------------------------------------------------------ variable dimension
def watson(x):
    n = x.shape[0]
    t = np.arange(1, 30) / 29.0
    j = np.arange(n)
    powers = t[:, None] ** j[None, :]                              # t_i^(j-1), j = 1..n
    derivative_part = anp.dot(powers[:, : n - 1], j[1:] * x[1:])  # sum (j-1) x_j t^(j-2)
    value_part = anp.dot(powers, x)
    fit = derivative_part - value_part ** 2 - 1.0
    return anp.concatenate([fit, anp.stack([x[0], x[1] - x[0] ** 2 - 1.0])])


def extended_rosenbrock(x):
    odd, even = x[0::2], x[1::2]
    return anp.concatenate([10.0 * (even - odd ** 2), 1.0 - odd])


def extended_powell(x):
    a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
    return anp.concatenate([
        a + 10.0 * b,
        math.sqrt(5.0) * (c - d),
        (b - 2.0 * c) ** 2,
        math.sqrt(10.0) * (a - d) ** 2,
    ])


PENALTY_A = 1e-5


def penalty_1(x):
    return anp.concatenate([math.sqrt(PENALTY_A) * (x - 1.0), anp.stack([anp.sum(x ** 2) - 0.25])])


def penalty_2(x):
    n = x.shape[0]
    i = np.arange(2, n + 1)
    y = np.exp(i / 10.0) + np.exp((i - 1) / 10.0)
    sa = math.sqrt(PENALTY_A)
    weights = np.arange(n, 0, -1)
    return anp.concatenate([
        anp.stack([x[0] - 0.2]),
        sa * (anp.exp(x[1:] / 10.0) + anp.exp(x[:-1] / 10.0) - y),
        sa * (anp.exp(x[1:] / 10.0) - math.exp(-0.1)),
        anp.stack([anp.sum(weights * x ** 2) - 1.0]),
    ])


def variably_dimensioned(x):
    n = x.shape[0]
    s = anp.dot(np.arange(1, n + 1), x - 1.0)
    return anp.concatenate([x - 1.0, anp.stack([s, s ** 2])])


def trigonometric(x):
    n = x.shape[0]
    i = np.arange(1, n + 1)
    return n - anp.sum(anp.cos(x)) + i * (1.0 - anp.cos(x)) - anp.sin(x)


def product(x):
    """Product of the entries, as a chain of multiplications.

    (autograd's ``prod`` differentiates by dividing by ``x``, which gives NaN at
    zeros, e.g. at Brown almost-linear's local minimizer (0, ..., 0, n + 1).)
    """
    value = x[0]
    for i in range(1, x.shape[0]):
        value = value * x[i]
    return value


def brown_almost_linear(x):
    n = x.shape[0]
    s = anp.sum(x)
    return anp.concatenate([x[:-1] + s - (n + 1.0), anp.stack([product(x) - 1.0])])


def discrete_boundary_value(x):
    n = x.shape[0]
    h = 1.0 / (n + 1)
    t = h * np.arange(1, n + 1)
    zero = anp.zeros(1)
    left = anp.concatenate([zero, x[:-1]])
    right = anp.concatenate([x[1:], zero])
    return 2.0 * x - left - right + h ** 2 * (x + t + 1.0) ** 3 / 2.0


def discrete_integral_equation(x):
    n = x.shape[0]
    h = 1.0 / (n + 1)
    t = h * np.arange(1, n + 1)
    cube = (x + t + 1.0) ** 3
    lower = anp.cumsum(t * cube)                                 # sum_{j<=i} t_j c_j
    upper_all = anp.cumsum(((1.0 - t) * cube)[::-1])[::-1]       # sum_{j>=i} (1-t_j) c_j
    upper = anp.concatenate([upper_all[1:], anp.zeros(1)])       # sum_{j>i}
    return x + h * ((1.0 - t) * lower + t * upper) / 2.0


def broyden_tridiagonal(x):
    zero = anp.zeros(1)
    left = anp.concatenate([zero, x[:-1]])
    right = anp.concatenate([x[1:], zero])
    return (3.0 - 2.0 * x) * x - left - 2.0 * right + 1.0


BROYDEN_BANDED_LOWER = 5
BROYDEN_BANDED_UPPER = 1


def broyden_banded(x):
    n = x.shape[0]
    q = x * (1.0 + x)
    coupling = anp.zeros(n)
    for offset in range(-BROYDEN_BANDED_LOWER, BROYDEN_BANDED_UPPER + 1):
        if offset == 0 or abs(offset) >= n:
            continue
        if offset < 0:   # x_j with j = i + offset < i
            coupling = coupling + anp.concatenate([anp.zeros(-offset), q[: n + offset]])
        else:            # x_j with j = i + offset > i
            coupling = coupling + anp.concatenate([q[offset:], anp.zeros(offset)])
    return x * (2.0 + 5.0 * x ** 2) + 1.0 - coupling


def linear_full_rank(x, m):
    n = x.shape[0]
    s = anp.sum(x)
    return anp.concatenate([x - 2.0 * s / m - 1.0, anp.zeros(m - n) - 2.0 * s / m - 1.0])


def chained_rosenbrock(x):
    return anp.concatenate([10.0 * (x[1:] - x[:-1] ** 2), 1.0 - x[:-1]])
