"""A dense, symmetric, indefinite quasi-Newton model of the Hessian.

The model ``B`` absorbs two kinds of curvature information:

* steps: the pair ``(s, y) = (x+ - x, g(x+) - g(x))``, with ``y ~ H s``;
* Hessian-vector products: every product ``H v`` an eigensolver computes is
  an exact (up to the finite-difference error) curvature pair ``(v, H v)``.

Both go through one multi-secant update of the symmetric rank-two family
(Dennis & Moré 1977; Schnabel 1983)::

    B+ = B + J U^T + U J^T - U (J^T S) U^T,   J = Y - B S,   U^T S = I,

which satisfies ``B+ S = Y`` for every column of a block at once (when
``S^T Y`` is symmetric, which `symmetrize` arranges first).  The choice of
``U`` names the update:

``'ts-bfgs'`` (default)
    ``U = W (S^T W)^{-1}``, ``W = Y (Y^T S) + |B| S (S^T |B| S)``: the
    TS-BFGS update of Anglada & Bofill (J. Comput. Chem. 19, 349, 1998) in the multi-secant form Sella
    uses (Hermes et al. 2022).  ``|B|`` (eigenvalues replaced by their
    absolute values) keeps ``S^T W`` positive definite whatever the signs of
    the curvatures, so the update stays defined and symmetric, and may be
    indefinite -- unlike BFGS, whose positive definiteness would erase the
    negative curvature a saddle point needs.
``'psb'``
    ``U = S (S^T S)^{-1}``: Powell's symmetric Broyden update, the change of
    least Frobenius norm.  For orthonormal ``S`` it replaces the block
    ``S^T B S`` and the coupling ``(I - S S^T) B S`` by the measured ones and
    leaves the rest of ``B`` alone.
``'bofill'``
    Bofill's (1994) mixture ``phi SR1 + (1 - phi) PSB`` with
    ``phi = (j^T s)^2 / (j^T j s^T s)``, applied pair by pair (for a block,
    to its columns in turn; each column's secant equation then holds only
    approximately for the earlier ones).

Memory is one dense ``n x n`` array (8 n^2 bytes: 8 MB at n = 1000, 72 MB at
n = 3000); each update and each eigendecomposition costs O(n^3) (about a
second at n = 3000), negligible next to a gradient of an electronic-structure
code, the intended use.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

__all__ = ["HessianModel", "UPDATES"]

UPDATES = ("ts-bfgs", "psb", "bofill")


def _solve_spd(A, B):
    """Solve ``A X = B`` for a (nearly) symmetric positive definite ``A``; least squares if singular."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
            return scipy.linalg.solve(A, B, assume_a="sym")
    except (np.linalg.LinAlgError, ValueError, scipy.linalg.LinAlgWarning):
        return np.linalg.lstsq(A, B, rcond=None)[0]


def symmetrize(S, Y):
    """The smallest change ``Y + S C`` of Y (columns in span S) making ``S^T Y`` symmetric.

    A secant block from finite differences, or from steps through a
    non-quadratic function, has a slightly unsymmetric ``S^T Y``, which no
    symmetric update can match; the skew part is moved onto ``S``.
    """
    if S.shape[1] == 1:
        return Y
    A = S.T @ Y
    K = 0.5 * (A - A.T)
    G = S.T @ S
    return Y - S @ _solve_spd(G, K)


class HessianModel:
    """Dense symmetric model ``B`` of the Hessian, updated from curvature pairs.

    Parameters
    ----------
    n : int
        Dimension.
    update : {'ts-bfgs', 'psb', 'bofill'}
        The secant update (see the module docstring).

    Attributes
    ----------
    B : ndarray (n, n) or None
        The model; None until the first pair arrives (it then starts from a
        multiple of the identity, see `initialize`).
    n_updates : int
        Pairs absorbed so far.
    """

    def __init__(self, n, update="ts-bfgs"):
        if update not in UPDATES:
            raise ValueError(f"option `update` must be one of {UPDATES}; got {update!r}")
        self.n = n
        self.update_rule = update
        self.B = None
        self.n_updates = 0
        self._eig_full = None

    # -- set up
    def initialize(self, S, Y):
        """Start from ``B = lambda0 I``, lambda0 the geometric mean of the |Ritz values| of the pairs.

        This is Sella's choice (Hermes et al. 2022): the scale of the measured
        curvature, positive, so that directions never probed are treated as
        stiff ones to be minimized along, with Newton steps of a sensible
        length.
        """
        G = S.T @ S
        A = S.T @ Y
        A = 0.5 * (A + A.T)
        try:
            theta = scipy.linalg.eigh(A, G, eigvals_only=True)
        except (np.linalg.LinAlgError, ValueError):
            theta = np.diag(A) / np.maximum(np.diag(G), np.finfo(float).tiny)
        # geometric mean: the scale of a spectrum spanning decades (soft rotations
        # to stiff bonds) without the stiffest few dominating, as an arithmetic mean
        # would (unexplored directions then look too stiff, and steps too short)
        magnitudes = np.abs(theta[np.isfinite(theta)])
        magnitudes = magnitudes[magnitudes > 1e-12 * np.max(magnitudes)] if magnitudes.size else magnitudes
        lam0 = float(np.exp(np.mean(np.log(magnitudes)))) if magnitudes.size else 1.0
        if not np.isfinite(lam0) or lam0 <= 0.0:
            lam0 = 1.0
        self.B = lam0 * np.eye(self.n)
        self._eig_full = None

    def set_matrix(self, B):
        B = np.asarray(B, dtype=float)
        self.B = 0.5 * (B + B.T)
        self._eig_full = None

    # -- updates
    def update(self, S, Y, rtol=1e-8):
        """Absorb the curvature pairs ``(S[:, i], Y[:, i])`` (``Y ~ H S``).

        Pairs with a negligible ``s`` are dropped; a block whose columns are
        (nearly) dependent keeps an independent subset.
        """
        S = np.array(S, dtype=float, ndmin=2)
        Y = np.array(Y, dtype=float, ndmin=2)
        if S.shape[0] != self.n:
            S, Y = S.T, Y.T
        if not (np.all(np.isfinite(S)) and np.all(np.isfinite(Y))):
            return
        S, Y = _independent(S, Y, rtol)
        if S.shape[1] == 0:
            return
        if self.B is None:
            self.initialize(S, Y)
        if self.update_rule == "bofill":
            for i in range(S.shape[1]):
                self._bofill(S[:, i], Y[:, i])
        else:
            self._multisecant(S, symmetrize(S, Y))
        self.n_updates += S.shape[1]
        self._eig_full = None

    def _multisecant(self, S, Y):
        B = self.B
        BS = B @ S
        J = Y - BS
        if self.update_rule == "psb":
            W = S
        else:
            absBS = self._abs_B() @ S
            W = Y @ (Y.T @ S) + absBS @ (S.T @ absBS)
        StW = S.T @ W
        U = _solve_spd(StW.T, W.T).T  # U = W (S^T W)^{-1}
        JtS = J.T @ S
        JtS = 0.5 * (JtS + JtS.T)
        UJt = U @ J.T
        dB = UJt + UJt.T - U @ JtS @ U.T
        if np.all(np.isfinite(dB)):
            B = B + dB
            self.B = 0.5 * (B + B.T)

    def _bofill(self, s, y):
        B = self.B
        j = y - B @ s
        js = float(j @ s)
        jj = float(j @ j)
        ss = float(s @ s)
        if jj == 0.0 or ss == 0.0:
            return
        phi = js * js / (jj * ss)
        psb = (np.outer(j, s) + np.outer(s, j)) / ss - js * np.outer(s, s) / (ss * ss)
        # phi * SR1 = phi j j^T / (j^T s) = (j^T s) j j^T / (j^T j s^T s): finite as j^T s -> 0
        dB = (1.0 - phi) * psb + (js / (jj * ss)) * np.outer(j, j)
        B = B + dB
        self.B = 0.5 * (B + B.T)

    def _abs_B(self):
        lam, V = self.eig_full()
        return (V * np.abs(lam)) @ V.T

    # -- spectra
    def eig_full(self):
        if self._eig_full is None:
            self._eig_full = np.linalg.eigh(self.B)
        return self._eig_full

    def eig(self, D=None):
        """Eigenpairs of the model restricted to the complement of ``span(D)``.

        Returns ``(lam, V)``, ascending, ``V`` (n, n - m) orthonormal and
        orthogonal to the m orthonormal columns of `D`.
        """
        if D is None or D.shape[1] == 0:
            return self.eig_full()
        B = self.B
        m = D.shape[1]
        BD = B @ D
        DtBD = D.T @ BD
        PBP = B - D @ BD.T - BD @ D.T + D @ DtBD @ D.T
        # lift the deflated directions above the rest of the spectrum, then drop them
        c = 2.0 * max(1.0, float(np.max(np.sum(np.abs(B), axis=1))))
        M = PBP + c * (D @ D.T)
        lam, V = np.linalg.eigh(0.5 * (M + M.T))
        lam, V = lam[:-m], V[:, :-m]
        V -= D @ (D.T @ V)  # clean the rounding left along the deflated directions
        return lam, V

    def quadratic(self, g, s) -> float:
        """The model's predicted change ``g.s + s.B.s / 2`` (0 when there is no model)."""
        if self.B is None:
            return float(g @ s)
        return float(g @ s + 0.5 * s @ (self.B @ s))


def _independent(S, Y, rtol=1e-8):
    """Columns of S (with their Y), scaled to unit length, that are numerically independent.

    Greedy in the given order (the caller puts the pair it must keep first):
    a column is kept when its part orthogonal to the columns kept before it
    is longer than `rtol`.  Scaling a pair ``(s, y)`` by ``1 / ||s||`` keeps
    its secant relation and makes the test an angle.
    """
    norms = np.linalg.norm(S, axis=0)
    keep = norms > 0.0
    S, Y = S[:, keep] / norms[keep], Y[:, keep] / norms[keep]
    if S.shape[1] <= 1:
        return S, Y
    Q = np.empty_like(S)
    idx = []
    for j in range(S.shape[1]):
        q = S[:, j].copy()
        if idx:
            Qk = Q[:, : len(idx)]
            q -= Qk @ (Qk.T @ q)
            q -= Qk @ (Qk.T @ q)
        r = float(np.linalg.norm(q))
        if r > rtol:
            Q[:, len(idx)] = q / r
            idx.append(j)
    return S[:, idx], Y[:, idx]
