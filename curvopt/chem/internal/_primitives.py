"""Primitive internal coordinates and their Wilson B-matrix rows, vectorized by kind.

Each kind is a pure function ``(x, index arrays) -> values, derivatives`` on
Cartesian positions ``x`` of shape ``(n, 3)`` in Å; angles are in radians.
The derivative formulas are the classical ones of Wilson, Decius & Cross [1]_
(stretch, bend), Blondel & Karplus [2]_ (torsion, written without any
``1 / sin`` so that it stays finite), and a linear-bend pair projected on two
fixed axes orthogonal to the line (the construction of Bakken & Helgaker [3]_,
there with the same intent: no coordinate divides by ``sin(angle)`` near 180°).
Translation and rotation coordinates of a fragment are the TRIC idea of Wang &
Song [4]_, here with the rotation linearized about a reference geometry, so
that its B rows are constant and exact; the reference is reset at every
accepted step (see ``_coordinates``).

References
----------
.. [1] E. B. Wilson, J. C. Decius and P. C. Cross, *Molecular Vibrations*,
   McGraw-Hill (1955), chapter 4.
.. [2] A. Blondel and M. Karplus, "New formulation for derivatives of torsion
   angles and improper torsion angles in molecular mechanics: elimination of
   singularities", J. Comput. Chem. 17, 1132 (1996).
.. [3] V. Bakken and T. Helgaker, "The efficient optimization of molecular
   geometries using redundant internal coordinates", J. Chem. Phys. 117,
   9160 (2002).
.. [4] L.-P. Wang and C. Song, "Geometry optimization made simple with
   translation and rotation coordinates", J. Chem. Phys. 144, 214108 (2016).
"""

from __future__ import annotations

import numpy as np

# a bend is treated as linear beyond this |cos(angle)| (about 162°), as in [3]
LINEAR_COS = 0.9
# sin(angle) is floored here inside bend derivatives: the coordinate set is
# rebuilt long before (at LINEAR_COS), the floor only keeps a wild trial finite
_SIN_FLOOR = 1e-8


def _norm(v):
    return np.sqrt(np.einsum("...i,...i->...", v, v))


def bonds(x, ij):
    """Distances ``|x_j - x_i|`` and their derivatives, shape ``(m, 2, 3)``."""
    r = x[ij[:, 1]] - x[ij[:, 0]]
    d = _norm(r)
    u = r / d[:, None]
    return d, np.stack([-u, u], axis=1)


def angles(x, ijk):
    """Bend angles at the middle atom ``j`` of ``(i, j, k)``; derivatives ``(m, 3, 3)``."""
    u = x[ijk[:, 0]] - x[ijk[:, 1]]
    v = x[ijk[:, 2]] - x[ijk[:, 1]]
    lu, lv = _norm(u), _norm(v)
    uh, vh = u / lu[:, None], v / lv[:, None]
    cos = np.einsum("ij,ij->i", uh, vh)
    sin = _norm(np.cross(uh, vh))
    theta = np.arctan2(sin, cos)
    s = np.maximum(sin, _SIN_FLOOR)[:, None]
    di = (cos[:, None] * uh - vh) / (lu[:, None] * s)
    dk = (cos[:, None] * vh - uh) / (lv[:, None] * s)
    return theta, np.stack([di, -di - dk, dk], axis=1)


def linear_bends(x, ijk, axes):
    """Linear-bend coordinates ``(u_ji + u_jk) . e`` for unit vectors from ``j``.

    Zero for a straight ``i-j-k``; to first order the bend angle's deviation
    from 180° projected on the axis ``e`` (fixed, orthogonal to the line when
    the coordinate was made).  No division by ``sin(angle)``.
    """
    u = x[ijk[:, 0]] - x[ijk[:, 1]]
    v = x[ijk[:, 2]] - x[ijk[:, 1]]
    lu, lv = _norm(u), _norm(v)
    uh, vh = u / lu[:, None], v / lv[:, None]
    ue = np.einsum("ij,ij->i", uh, axes)
    ve = np.einsum("ij,ij->i", vh, axes)
    di = (axes - ue[:, None] * uh) / lu[:, None]
    dk = (axes - ve[:, None] * vh) / lv[:, None]
    return ue + ve, np.stack([di, -di - dk, dk], axis=1)


def dihedrals(x, ijkl):
    """Torsion angles of ``i-j-k-l`` in (-pi, pi]; derivatives ``(m, 4, 3)`` from [2]."""
    f = x[ijkl[:, 0]] - x[ijkl[:, 1]]
    g = x[ijkl[:, 1]] - x[ijkl[:, 2]]
    h = x[ijkl[:, 3]] - x[ijkl[:, 2]]
    a = np.cross(f, g)
    b = np.cross(h, g)
    lg = _norm(g)
    aa = np.maximum(np.einsum("ij,ij->i", a, a), 1e-300)
    bb = np.maximum(np.einsum("ij,ij->i", b, b), 1e-300)
    phi = np.arctan2(np.einsum("ij,ij->i", np.cross(b, a), g) / lg, np.einsum("ij,ij->i", a, b))
    fg = np.einsum("ij,ij->i", f, g)
    hg = np.einsum("ij,ij->i", h, g)
    ta = (lg / aa)[:, None] * a
    tb = (lg / bb)[:, None] * b
    ca = (fg / (aa * lg))[:, None] * a
    cb = (hg / (bb * lg))[:, None] * b
    di = -ta
    dj = ta + ca - cb
    dk = cb - ca - tb
    dl = tb
    return phi, np.stack([di, dj, dk, dl], axis=1)


def translations(x, members):
    """Centroid of one fragment: 3 values, constant derivatives ``1 / n`` per atom."""
    return x[members].mean(axis=0)


def rotation_matrix_rows(reference):
    """Linear map ``(n_frag, 3) -> 3``: the small rotation (times the radius of gyration) about the centroid.

    For the centred reference positions ``r0_i`` and displaced positions
    ``x_i``, the least-squares rotation vector ``theta`` minimizing
    ``sum |x_i - c - (r0_i + theta x r0_i)|^2`` is
    ``I0^+ sum r0_i x x_i`` with ``I0 = sum (|r0_i|^2 1 - r0_i r0_i')``
    (the inertia tensor of unit masses).  Scaling by the radius of gyration
    gives the coordinate length units, as in TRIC [4].  A linear fragment has
    a singular ``I0``: the pseudo-inverse drops the rotation about its axis.
    Returns ``A`` of shape ``(3, n_frag, 3)`` with ``value = A . x``.
    """
    r0 = reference - reference.mean(axis=0)
    n = r0.shape[0]
    rg = max(float(np.sqrt(np.mean(np.sum(r0**2, axis=1)))), 1e-12)
    inertia = np.sum(r0**2) * np.eye(3) - r0.T @ r0
    w, v = np.linalg.eigh(inertia)
    keep = w > 1e-6 * max(w[-1], 1e-300)
    inv = (v[:, keep] / w[keep]) @ v[:, keep].T
    # d(r0 x x)/dx = [r0]_x, the cross-product matrix of r0
    cross = np.zeros((n, 3, 3))
    cross[:, 0, 1], cross[:, 0, 2] = -r0[:, 2], r0[:, 1]
    cross[:, 1, 0], cross[:, 1, 2] = r0[:, 2], -r0[:, 0]
    cross[:, 2, 0], cross[:, 2, 1] = -r0[:, 1], r0[:, 0]
    return rg * np.einsum("ab,nbc->anc", inv, cross), int(np.count_nonzero(keep))
