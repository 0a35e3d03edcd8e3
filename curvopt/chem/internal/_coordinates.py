"""Redundant internal coordinates of a molecule: the primitive set, its B-matrix, and the way back to Cartesians.

The primitive set follows Bakken & Helgaker [1]_ with TRIC's treatment of
separate fragments (Wang & Song [2]_): bonds from covalent radii; bends at
every atom with two bonded neighbours (a pair of linear-bend coordinates where
the bend is beyond about 162°); torsions about every bond whose adjacent bends
are not linear; an improper torsion at every atom with three neighbours (the
out-of-plane motion of a planar centre is second order in its bends); and,
when the bond graph has several fragments, the centroid and a rotation of
each fragment (a single atom gets its three Cartesians).  If the set still
misses a direction (rank of B below ``3N - 6``), Cartesians of all atoms are
added so that every motion is reachable.

References
----------
.. [1] V. Bakken and T. Helgaker, "The efficient optimization of molecular
   geometries using redundant internal coordinates", J. Chem. Phys. 117,
   9160 (2002).
.. [2] L.-P. Wang and C. Song, "Geometry optimization made simple with
   translation and rotation coordinates", J. Chem. Phys. 144, 214108 (2016).
.. [3] P. Pulay and G. Fogarasi, "Geometry optimization in redundant internal
   coordinates", J. Chem. Phys. 96, 2856 (1992) (the generalized inverse of
   ``G = B B'`` and the iterative back-transformation).
"""

from __future__ import annotations

import numpy as np
from ase.data import covalent_radii

from . import _primitives as prim

__all__ = ["InternalCoordinates", "bond_graph", "fragments"]

# atoms closer than BOND_SCALE times the sum of their covalent radii are bonded
# (ASE's neighbour-list default is 1.0 with a skin; geomeTRIC uses 1.2; 1.25
# keeps a stretched bond of a perturbed start in the graph)
BOND_SCALE = 1.25
# eigenvalues of G below this are its null space (B rows of unit-free bends
# and Å-scaled rotations have G eigenvalues of order 0.1 to 10)
G_NULL_TOL = 1e-7


def bond_graph(numbers, positions, scale=BOND_SCALE):
    """Bonded pairs ``(i, j)``, ``i < j``, from covalent radii."""
    numbers = np.asarray(numbers)
    x = np.asarray(positions, dtype=float)
    r = covalent_radii[numbers]
    d = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
    i, j = np.nonzero(np.triu(d < scale * (r[:, None] + r[None, :]), k=1))
    return np.stack([i, j], axis=1).astype(np.intp)


def fragments(n, pairs):
    """Connected components of the bond graph, each a sorted array of atom indices."""
    parent = list(range(n))

    def root(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j in pairs:
        ri, rj = root(int(i)), root(int(j))
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    groups = {}
    for a in range(n):
        groups.setdefault(root(a), []).append(a)
    return [np.array(g, dtype=np.intp) for g in groups.values()]


def _perpendicular_axes(line):
    """Two unit vectors orthogonal to `line` and to each other."""
    t = line / np.linalg.norm(line)
    trial = np.eye(3)[np.argmin(np.abs(t))]
    e1 = np.cross(t, trial)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(t, e1)


class InternalCoordinates:
    """A redundant set of primitive internal coordinates for one molecule (or a few fragments).

    Parameters
    ----------
    numbers : array_like of int, shape (n,)
        Atomic numbers.
    positions : array_like, shape (n, 3)
        Cartesian positions (Å) the set is built for.
    linear : iterable of (i, j, k), optional
        Bends to represent by a linear-bend pair whatever their angle (the
        optimizer asks for this when a step would straighten a bend).

    Attributes
    ----------
    kinds : ndarray of str
        Kind of each primitive: 'bond', 'angle', 'linear', 'dihedral',
        'improper' (a torsion nb0-c-nb1-nb2 about a centre c with three
        neighbours), 'translation', 'rotation' or 'cartesian'.
    atoms_of : list of tuple
        Atoms of each primitive (for the model Hessian).
    n_fragments : int
        Connected components of the bond graph.
    n_rigid : int
        Rigid-body motions the set cannot see: 6 (5 linear) for one fragment,
        0 once fragment translations and rotations (or Cartesians) are in.
    linear : bool
        The molecule is linear (one fragment, rank ``3N - 5``).
    """

    def __init__(self, numbers, positions, linear=()):
        numbers = np.asarray(numbers, dtype=int)
        x = np.asarray(positions, dtype=float).reshape(-1, 3)
        if numbers.ndim != 1 or numbers.shape[0] != x.shape[0]:
            raise ValueError(
                f"`numbers` must be one atomic number per row of `positions`; got {numbers.shape} and {x.shape}"
            )
        if not np.all(np.isfinite(x)):
            raise ValueError("`positions` must be finite")
        self.numbers = numbers
        self.n_atoms = n = x.shape[0]
        if n < 2:
            raise ValueError(f"internal coordinates need at least 2 atoms; got {n}")
        dmin = _min_distance(x)
        if dmin < 0.1:
            raise ValueError(f"`positions` has two atoms {dmin:.3g} Å apart: not a molecule")
        self.bonds = bond_graph(numbers, x)
        self.fragment_list = fragments(n, self.bonds)
        self.n_fragments = len(self.fragment_list)
        nbr = [[] for _ in range(n)]
        for i, j in self.bonds:
            nbr[i].append(int(j))
            nbr[j].append(int(i))
        self.neighbours = [sorted(v) for v in nbr]

        forced = {(min(i, k), j, max(i, k)) for i, j, k in linear}
        self.forced_linear = forced
        angles, linear, axes = [], [], []
        for j in range(n):
            nb = self.neighbours[j]
            for a in range(len(nb)):
                for b in range(a + 1, len(nb)):
                    i, k = nb[a], nb[b]
                    if abs(_cos(x, i, j, k)) < prim.LINEAR_COS and (i, j, k) not in forced:
                        angles.append((i, j, k))
                    else:
                        for e in _perpendicular_axes(x[k] - x[i]):
                            linear.append((i, j, k))
                            axes.append(e)
        dihedrals = []
        for j, k in self.bonds:
            for i in self.neighbours[j]:
                if i == k or abs(_cos(x, i, j, k)) >= prim.LINEAR_COS:
                    continue
                for m in self.neighbours[k]:
                    if m in (j, i) or abs(_cos(x, j, k, m)) >= prim.LINEAR_COS:
                        continue
                    dihedrals.append((i, j, k, m))
        n_proper = len(dihedrals)
        for c in range(n):
            nb = self.neighbours[c]
            if len(nb) == 3 and all(
                abs(_cos(x, p, c, q)) < prim.LINEAR_COS for p, q in ((nb[0], nb[1]), (nb[1], nb[2]), (nb[0], nb[2]))
            ):
                # improper torsion nb0-c-nb1-nb2: zero or pi for a planar centre, first order out of plane
                if abs(_cos(x, c, nb[1], nb[2])) < prim.LINEAR_COS:
                    dihedrals.append((nb[0], c, nb[1], nb[2]))
        self.angle_idx = np.array(angles, dtype=np.intp).reshape(-1, 3)
        self.linear_idx = np.array(linear, dtype=np.intp).reshape(-1, 3)
        self.linear_axes = np.array(axes, dtype=float).reshape(-1, 3)
        self.n_impropers = len(dihedrals) - n_proper
        self.dihedral_idx = np.array(dihedrals, dtype=np.intp).reshape(-1, 4)
        self.tr_fragments = list(self.fragment_list) if self.n_fragments > 1 else []
        self.cartesian_atoms = np.zeros(0, dtype=np.intp)
        self._rotation_maps = []
        self.reset_reference(x)
        self._index_rows()

        self.linear = not self.tr_fragments and _is_linear(x)
        expected = 3 * n - (0 if self.tr_fragments else (5 if self.linear else 6))
        rank = self.rank(x)
        if rank < expected:
            # an incomplete set (e.g. a linear chain inside a larger molecule): Cartesians make every motion reachable
            self.cartesian_atoms = np.arange(n, dtype=np.intp)
            self._index_rows()
        self.n_rigid = 0 if (self.tr_fragments or self.cartesian_atoms.size) else (5 if self.linear else 6)

    # ------------------------------------------------------------------ layout
    def _index_rows(self):
        kinds, atoms_of = [], []
        for i, j in self.bonds:
            kinds.append("bond")
            atoms_of.append((int(i), int(j)))
        for t in self.angle_idx:
            kinds.append("angle")
            atoms_of.append(tuple(int(a) for a in t))
        for t in self.linear_idx:
            kinds.append("linear")
            atoms_of.append(tuple(int(a) for a in t))
        n_proper = self.dihedral_idx.shape[0] - self.n_impropers
        for r, t in enumerate(self.dihedral_idx):
            kinds.append("dihedral" if r < n_proper else "improper")
            atoms_of.append(tuple(int(a) for a in t))
        for f, (_, nrot) in zip(self.tr_fragments, self._rotation_maps):
            kinds += ["translation"] * 3
            atoms_of += [tuple(int(a) for a in f)] * 3
            if f.size > 1:
                kinds += ["rotation"] * 3
                atoms_of += [tuple(int(a) for a in f)] * 3
        for a in self.cartesian_atoms:
            kinds += ["cartesian"] * 3
            atoms_of += [(int(a),)] * 3
        self.kinds = np.array(kinds)
        self.atoms_of = atoms_of
        self.periodic = (self.kinds == "dihedral") | (self.kinds == "improper")
        self.n_primitives = len(kinds)

    def reset_reference(self, positions):
        """Re-centre the linearized fragment rotations on `positions` (their values become zero there).

        Also turns the axes of each linear-bend pair to stay orthogonal to its
        current line ``i -> k`` (the first axis keeps its direction as far as it
        can): axes fixed once would let the pair see rigid rotation as bending
        when a near-linear chain straightens.
        """
        x = np.asarray(positions, dtype=float).reshape(-1, 3)
        for r in range(0, self.linear_idx.shape[0], 2):
            i, _, k = self.linear_idx[r]
            t = x[k] - x[i]
            t /= np.linalg.norm(t)
            e1 = self.linear_axes[r] - (self.linear_axes[r] @ t) * t
            if np.linalg.norm(e1) < 1e-6:
                e1, _ = _perpendicular_axes(t)
            e1 /= np.linalg.norm(e1)
            self.linear_axes[r], self.linear_axes[r + 1] = e1, np.cross(t, e1)
        self._rotation_maps = [
            prim.rotation_matrix_rows(x[f]) if f.size > 1 else (None, 0) for f in self.tr_fragments
        ]

    # ------------------------------------------------------------------ values and B
    def values(self, positions):
        """Primitive values ``q(x)`` (Å and radians)."""
        return self._evaluate(positions, want_b=False)[0]

    def bmatrix(self, positions):
        """Wilson B-matrix ``dq/dx``, shape ``(n_primitives, 3 n_atoms)``."""
        return self._evaluate(positions, want_b=True)[1]

    def values_and_bmatrix(self, positions):
        """``q(x)`` and ``B(x)`` in one pass."""
        return self._evaluate(positions, want_b=True)

    def _evaluate(self, positions, want_b):
        x = np.asarray(positions, dtype=float).reshape(-1, 3)
        n = self.n_atoms
        q = np.empty(self.n_primitives)
        B = np.zeros((self.n_primitives, n, 3)) if want_b else None
        row = 0
        for func, idx, extra in (
            (prim.bonds, self.bonds, None),
            (prim.angles, self.angle_idx, None),
            (prim.linear_bends, self.linear_idx, self.linear_axes),
            (prim.dihedrals, self.dihedral_idx, None),
        ):
            m = idx.shape[0]
            if m == 0:
                continue
            v, d = func(x, idx) if extra is None else func(x, idx, extra)
            q[row:row + m] = v
            if want_b:
                rows = np.arange(row, row + m)
                for c in range(idx.shape[1]):
                    # atoms of one primitive are distinct, so no two writes collide
                    B[rows, idx[:, c], :] += d[:, c, :]
            row += m
        for f, (rot, _) in zip(self.tr_fragments, self._rotation_maps):
            q[row:row + 3] = prim.translations(x, f)
            if want_b:
                for a in range(3):
                    B[row + a, f, a] = 1.0 / f.size
            row += 3
            if rot is not None:
                q[row:row + 3] = np.einsum("anc,nc->a", rot, x[f])
                if want_b:
                    B[row:row + 3, f, :] = rot
                row += 3
        for a in self.cartesian_atoms:
            q[row:row + 3] = x[a]
            if want_b:
                for c in range(3):
                    B[row + c, a, c] = 1.0
            row += 3
        return q, (B.reshape(self.n_primitives, 3 * n) if want_b else None)

    def difference(self, q1, q0):
        """``q1 - q0`` with torsion differences wrapped into (-pi, pi]."""
        d = np.asarray(q1, dtype=float) - np.asarray(q0, dtype=float)
        p = self.periodic
        d[p] = (d[p] + np.pi) % (2 * np.pi) - np.pi
        return d

    def rank(self, positions):
        """Rank of ``B`` (the number of independent internal motions)."""
        s = np.linalg.svd(self.bmatrix(positions), compute_uv=False)
        return int(np.count_nonzero(s**2 > G_NULL_TOL * max(1.0, s[0] ** 2)))

    # ------------------------------------------------------------------ transformations
    def nonredundant_basis(self, B):
        """Orthonormal basis ``U`` of the range of ``G = B B'`` (the delocalized internals) and ``G``'s eigenvalues there."""
        G = B @ B.T
        w, V = np.linalg.eigh(G)
        keep = w > G_NULL_TOL * max(1.0, w[-1])
        return V[:, keep], w[keep]

    def gradient(self, B, gradient_cartesian):
        """Internal gradient ``g_q = G^+ B g_x`` (Pulay & Fogarasi [3])."""
        U, w = self.nonredundant_basis(B)
        return U @ ((U.T @ (B @ np.ravel(gradient_cartesian))) / w)

    def back_transform(self, positions, dq, *, max_iter=50, tol=1e-8):
        """Cartesians ``x`` with ``q(x) - q(x0)`` as close to `dq` as the iteration gets.

        Iterates ``x <- x + B^+ (q_target - q(x))`` (Pulay & Fogarasi [3]);
        keeps the iterate with the smallest residual, so a diverging
        iteration (a step too large for the coordinates) returns its best
        point rather than a wild one.

        Returns
        -------
        x : ndarray, shape (n, 3)
        achieved : ndarray
            ``q(x) - q(x0)`` (wrapped).
        residual : float
            RMS of ``dq - achieved``.
        """
        x0 = np.asarray(positions, dtype=float).reshape(-1, 3)
        q0 = self.values(x0)
        dq = np.asarray(dq, dtype=float)
        x = x0.copy()
        best = (np.inf, x0, np.zeros_like(dq))
        q = q0
        for _ in range(max_iter):
            achieved = self.difference(q, q0)
            r = dq - achieved
            res = float(np.sqrt(np.mean(r**2)))
            if res < best[0]:
                best = (res, x.copy(), achieved)
            elif res > 10 * best[0]:
                break
            B = self.bmatrix(x)
            dx, *_ = np.linalg.lstsq(B, r, rcond=1e-8)
            x = x + dx.reshape(-1, 3)
            if np.sqrt(np.mean(dx**2)) < tol:
                q = self.values(x)
                achieved = self.difference(q, q0)
                res = float(np.sqrt(np.mean((dq - achieved) ** 2)))
                if res < best[0]:
                    best = (res, x.copy(), achieved)
                break
            q = self.values(x)
        res, x, achieved = best
        return x, achieved, res

    def valid_for(self, positions):
        """False when a bend of the set has gone (nearly) linear, so that its torsions lose meaning: rebuild then."""
        x = np.asarray(positions, dtype=float).reshape(-1, 3)
        if self.angle_idx.shape[0]:
            th, _ = prim.angles(x, self.angle_idx)
            if np.any(np.abs(np.cos(th)) > 0.985):
                return False
        if self.dihedral_idx.shape[0]:
            for cols in ((0, 1, 2), (1, 2, 3)):
                th, _ = prim.angles(x, self.dihedral_idx[:, cols])
                if np.any(np.abs(np.cos(th)) > 0.985):
                    return False
        if self.linear_idx.shape[0]:
            th, _ = prim.angles(x, self.linear_idx)
            if np.any(np.abs(np.cos(th)) < 0.8):
                return False
        return True


def _cos(x, i, j, k):
    u = x[i] - x[j]
    v = x[k] - x[j]
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def _min_distance(x):
    d = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
    d[np.diag_indices_from(d)] = np.inf
    return float(d.min())


def _is_linear(x, tol=0.1):
    # the second principal extent is small against the first: a (perturbed) linear molecule
    c = x - x.mean(axis=0)
    s = np.linalg.svd(c, compute_uv=False)
    return bool(s[1] < tol * max(s[0], 1e-12))
