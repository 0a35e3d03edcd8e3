"""Model Hessians in primitive internal coordinates: the starting curvature of the optimizer.

``'lindh'`` (default) gives each primitive the force constant of Lindh et al.
[1]_: ``k_r rho_ij`` for a stretch, ``k_phi rho_ij rho_jk`` for a bend and
``k_tau rho_ij rho_jk rho_kl`` for a torsion, with
``rho_ij = exp(alpha_ij (r_ref,ij^2 - r_ij^2))`` (bohr) and ``alpha``,
``r_ref`` tabulated by the periodic-table rows of the two atoms (rows beyond
the third take the third row's values).  The constants decay with distance,
so a stretched bond or a bend between long bonds is soft, as it is in the
molecule.  ``'simple'`` gives fixed constants per kind (0.5, 0.2, 0.1
hartree per bohr^2 or rad^2 for stretch, bend, torsion; the classic
diagonal guess of Baker's benchmark study [2]_).  ``'unit'`` is the identity
(no chemistry; the baseline in the benchmark).

Fragment translations and rotations (TRIC) and fallback Cartesians get
0.05 hartree/bohr^2 as geomeTRIC does [3]_; linear bends take the bend
constant.  Every constant is floored at a small positive value, so the model
is positive definite on the primitives.

References
----------
.. [1] R. Lindh, A. Bernhardsson, G. Karlström and P.-Å. Malmqvist, "On the
   use of a Hessian model function in molecular geometry optimizations",
   Chem. Phys. Lett. 241, 423 (1995).
.. [2] J. Baker, "Techniques for geometry optimization: a comparison of
   Cartesian and natural internal coordinates", J. Comput. Chem. 14, 1085
   (1993).
.. [3] L.-P. Wang and C. Song, "Geometry optimization made simple with
   translation and rotation coordinates", J. Chem. Phys. 144, 214108 (2016).
"""

from __future__ import annotations

import numpy as np
from ase.units import Bohr, Hartree

__all__ = ["model_hessian", "MODELS"]

MODELS = ("lindh", "simple", "unit")

# Lindh et al. (1995), table 1: alpha (bohr^-2) and r_ref (bohr) by row pair
_ALPHA = np.array([[1.0000, 0.3949, 0.3949], [0.3949, 0.2800, 0.2800], [0.3949, 0.2800, 0.2800]])
_RREF = np.array([[1.35, 2.10, 2.53], [2.10, 2.87, 3.40], [2.53, 3.40, 3.40]])
_K_STRETCH, _K_BEND, _K_TORSION = 0.45, 0.15, 0.005  # hartree/bohr^2, hartree/rad^2
_K_TR = 0.05  # hartree/bohr^2 (TRIC's translation/rotation guess)
_STRETCH = Hartree / Bohr**2  # eV/Å^2 per hartree/bohr^2
_FLOOR = {"bond": 0.05 * _STRETCH, "angle": 0.002 * Hartree, "linear": 0.002 * Hartree,
          "dihedral": 0.0005 * Hartree, "improper": 0.0005 * Hartree}


def _row(z):
    return np.where(z <= 2, 0, np.where(z <= 10, 1, 2))


def _rho(numbers, x, i, j):
    ri, rj = _row(numbers[i]), _row(numbers[j])
    r = np.linalg.norm(x[i] - x[j]) / Bohr
    return float(np.exp(_ALPHA[ri, rj] * (_RREF[ri, rj] ** 2 - r**2)))


def model_hessian(coords, positions, model="lindh"):
    """Diagonal model Hessian on the primitives of `coords` (eV per Å^2 or rad^2).

    Parameters
    ----------
    coords : InternalCoordinates
    positions : ndarray, shape (n, 3)
        Cartesian positions (Å) where the model is evaluated.
    model : {'lindh', 'simple', 'unit'}

    Returns
    -------
    ndarray, shape (n_primitives, n_primitives)
    """
    if model not in MODELS:
        raise ValueError(f"`hessian` must be one of {MODELS} or a square array; got {model!r}")
    x = np.asarray(positions, dtype=float).reshape(-1, 3)
    z = coords.numbers
    k = np.empty(coords.n_primitives)
    for p, (kind, at) in enumerate(zip(coords.kinds, coords.atoms_of)):
        if model == "unit":
            k[p] = 1.0
            continue
        if kind in ("translation", "rotation", "cartesian"):
            k[p] = _K_TR * _STRETCH
            continue
        if model == "simple":
            k[p] = {"bond": 0.5 * _STRETCH, "angle": 0.2 * Hartree, "linear": 0.2 * Hartree,
                    "dihedral": 0.1 * Hartree, "improper": 0.1 * Hartree}[kind]
            continue
        if kind == "bond":
            val = _K_STRETCH * _STRETCH * _rho(z, x, *at)
        elif kind in ("angle", "linear"):
            i, j, m = at
            val = _K_BEND * Hartree * _rho(z, x, i, j) * _rho(z, x, j, m)
        elif kind == "improper":
            # atoms (nb0, c, nb1, nb2): weight by the three bonds to the centre
            i, c, m, n = at
            val = _K_TORSION * Hartree * _rho(z, x, c, i) * _rho(z, x, c, m) * _rho(z, x, c, n)
        else:
            i, j, m, n = at
            val = _K_TORSION * Hartree * _rho(z, x, i, j) * _rho(z, x, j, m) * _rho(z, x, m, n)
        k[p] = max(val, _FLOOR[kind])
    return np.diag(k)
