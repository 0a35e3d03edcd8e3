"""Rigid-body modes: the translations and rotations of a set of points.

An energy invariant under rigid motions has zero curvature along them at a
stationary point; eigensolvers and saddle searches project them out.  Shared
by `curvopt.find_saddle` and `curvopt.chem`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rigid_body_basis"]


def rigid_body_basis(positions, masses=None, *, pbc=False, tol=1e-6):
    """Orthonormal rigid-body (translation and rotation) modes in mass-weighted coordinates.

    Parameters
    ----------
    positions : ndarray, shape (n, 3)
        Cartesian positions (Å).
    masses : ndarray, shape (n,), optional
        Masses (amu), positive; None for unit masses (plain Cartesian coordinates).
    pbc : bool
        Periodic system: only the three translations are returned (a crystal
        is invariant under translation, not rotation).
    tol : float
        A principal moment of inertia below ``tol`` times the largest is
        zero: the molecule is linear (two rotations) or a single atom (none).

    Returns
    -------
    R : ndarray, shape (3 n, m)
        Orthonormal columns: ``m = 6`` for a non-linear molecule, 5 for a
        linear one, 3 for a single atom or a periodic system (fewer if
        ``n`` is too small).
    linear : bool
        Whether the inertia tensor has one zero principal moment.

    Notes
    -----
    In mass-weighted coordinates ``q = M^(1/2) x`` a translation along axis
    ``a`` is ``sqrt(m_i) e_a`` on every atom and an infinitesimal rotation
    about principal axis ``u`` is ``sqrt(m_i) u x (r_i - r_com)``; these are
    the Eckart conditions of Wilson, Decius & Cross, Sec. 11-1.  Rotations
    about an axis with zero moment of inertia are dropped.
    """
    positions = np.asarray(positions, dtype=float).reshape(-1, 3)
    masses = np.ones(len(positions)) if masses is None else np.asarray(masses, dtype=float)
    n = positions.shape[0]
    sm = np.sqrt(masses)
    cols = []
    for a in range(3):
        t = np.zeros((n, 3))
        t[:, a] = sm
        cols.append(t.ravel())
    linear = False
    if not pbc and n > 1:
        com = masses @ positions / masses.sum()
        r = positions - com
        inertia = np.eye(3) * np.sum(masses * np.sum(r * r, axis=1)) - (masses[:, None] * r).T @ r
        moments, axes = np.linalg.eigh(inertia)
        big = max(moments[-1], np.finfo(float).tiny)
        nonzero = moments > tol * big
        linear = int(np.sum(~nonzero)) == 1
        for j in range(3):
            if nonzero[j]:
                cols.append((sm[:, None] * np.cross(axes[:, j], r)).ravel())
    A = np.array(cols).T
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    keep = s > 1e-8 * s[0]
    return U[:, keep], linear
