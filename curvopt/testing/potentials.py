"""Potential energy surfaces with known minima and saddle points: Müller-Brown and Lennard-Jones.

References
----------
K. Müller and L. D. Brown, "Location of saddle points and minimum energy paths by a
constrained simplex optimization procedure", Theor. Chim. Acta 53, 75-93 (1979).
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["muller_brown", "muller_brown_hessian", "lennard_jones", "lennard_jones_hessian", "lj7_minimum",
           "MULLER_BROWN_SADDLES"]

# The standard parameters (Müller & Brown 1979).
MB_A = np.array([-200.0, -100.0, -170.0, 15.0])
MB_a = np.array([-1.0, -1.0, -6.5, 0.7])
MB_b = np.array([0.0, 0.0, 11.0, 0.6])
MB_c = np.array([-10.0, -10.0, -6.5, 0.7])
MB_X0 = np.array([1.0, 0.0, -0.5, -1.0])
MB_Y0 = np.array([0.0, 0.5, 1.5, 1.0])

#: The two order-1 saddles (to 5 decimals) and the starts of shared/REFERENCE.md that lead to them.
MULLER_BROWN_SADDLES = {(-0.70, 0.60): (-0.82200, 0.62431), (0.15, 0.35): (0.21249, 0.29299)}


def muller_brown(p):
    """Müller-Brown energy and gradient at p = (x, y), in ``jac=True`` form."""
    dx, dy = p[0] - MB_X0, p[1] - MB_Y0
    e = MB_A * np.exp(MB_a * dx**2 + MB_b * dx * dy + MB_c * dy**2)
    return float(e.sum()), np.array([(e * (2 * MB_a * dx + MB_b * dy)).sum(), (e * (MB_b * dx + 2 * MB_c * dy)).sum()])


def muller_brown_hessian(p):
    """The analytic 2 x 2 Hessian of the Müller-Brown potential."""
    dx, dy = p[0] - MB_X0, p[1] - MB_Y0
    e = MB_A * np.exp(MB_a * dx**2 + MB_b * dx * dy + MB_c * dy**2)
    ux, uy = 2 * MB_a * dx + MB_b * dy, MB_b * dx + 2 * MB_c * dy
    hxx, hyy, hxy = (e * (ux * ux + 2 * MB_a)).sum(), (e * (uy * uy + 2 * MB_c)).sum(), (e * (ux * uy + MB_b)).sum()
    return np.array([[hxx, hxy], [hxy, hyy]])


def lennard_jones(x):
    """Lennard-Jones energy and gradient of flat coordinates (3N,), epsilon = sigma = 1, no cutoff."""
    X = x.reshape(-1, 3)
    n = X.shape[0]
    d = X[:, None, :] - X[None, :, :]
    r2 = np.einsum("ijk,ijk->ij", d, d) + np.eye(n)
    inv6 = 1.0 / r2**3
    np.fill_diagonal(inv6, 0.0)
    energy = 2.0 * float(np.sum(inv6 * inv6 - inv6))  # each pair twice: 4/2
    coef = (-48.0 * inv6 * inv6 + 24.0 * inv6) / r2
    return energy, np.einsum("ij,ijk->ik", coef, d).reshape(-1)


def lennard_jones_hessian(x, rc=np.inf):
    """Analytic Cartesian Hessian of the Lennard-Jones pair sum (epsilon = sigma = 1), pairs within `rc`.

    For ``V(r) = 4 (r^-12 - r^-6)`` each pair contributes the block
    ``V'' u u' + V'/r (I - u u')`` (``u`` the unit vector between the atoms) to
    its two diagonal blocks and minus it to the off-diagonal ones.  ASE's
    ``LennardJones(rc=...)`` shifts the energy by a constant per pair inside
    ``rc`` (unless ``smooth=True``), which leaves these second derivatives as
    they are: with ``rc=10`` this is the Hessian of ASE's calculator.
    """
    X = np.asarray(x, dtype=float).reshape(-1, 3)
    n = X.shape[0]
    H = np.zeros((3 * n, 3 * n))
    for i in range(n):
        for j in range(i + 1, n):
            d = X[i] - X[j]
            r = float(np.sqrt(d @ d))
            if r > rc:
                continue
            sr6 = r**-6
            dV = 4.0 * (-12.0 * sr6 * sr6 + 6.0 * sr6) / r
            d2V = 4.0 * (156.0 * sr6 * sr6 - 42.0 * sr6) / (r * r)
            u = d / r
            uu = np.outer(u, u)
            B = d2V * uu + dV / r * (np.eye(3) - uu)
            H[3 * i:3 * i + 3, 3 * i:3 * i + 3] += B
            H[3 * j:3 * j + 3, 3 * j:3 * j + 3] += B
            H[3 * i:3 * i + 3, 3 * j:3 * j + 3] -= B
            H[3 * j:3 * j + 3, 3 * i:3 * i + 3] -= B
    return H


@functools.lru_cache(maxsize=1)
def _lj7_minimum():
    from scipy.optimize import minimize

    ring = 1.12 / (2 * np.sin(np.pi / 5))
    angles = np.arange(5) * 2 * np.pi / 5
    X = np.vstack([np.column_stack([ring * np.cos(angles), ring * np.sin(angles), np.zeros(5)]),
                   [[0, 0, 0.55], [0, 0, -0.55]]])
    res = minimize(lennard_jones, X.reshape(-1), jac=True, method="L-BFGS-B",
                   options=dict(gtol=1e-8, ftol=0.0, maxiter=10000))
    return res.x


def lj7_minimum():
    """The LJ7 pentagonal bipyramid (E = -16.505384), relaxed with scipy's L-BFGS-B to gtol 1e-8; a copy."""
    return _lj7_minimum().copy()
