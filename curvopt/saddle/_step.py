"""Partitioned rational-function (P-RFO) steps restricted to a trust region.

In the eigenbasis of the model Hessian, with eigenvalues ``lam`` (ascending)
and gradient components ``g``, the step maximizes along the ``k`` lowest
modes and minimizes along the others (Cerjan & Miller 1981; Banerjee et al.
1985; Baker 1986)::

    s_i = g_i / (mu_max - lam_i)   (i < k,  mu_max > max(lam_i, 0): uphill)
    s_i = -g_i / (lam_i - mu_min)  (i >= k, mu_min < min(lam_i, 0): downhill)

``mu_max`` and ``mu_min`` are the extreme eigenvalues of the two augmented
("arrowhead") matrices ``[[diag(lam), g], [g^T, 0]]`` of the partitions,
roots of the secular equation ``mu = sum g_i^2 / (mu - lam_i)``.  When the
step is longer than the trust radius, both shifts are moved further out by
the same ``tau > 0`` (the restricted-step idea of Besalú & Bofill 1998, in
the form of a level shift) until its length equals the radius; every
component shrinks monotonically as ``tau`` grows.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

__all__ = ["prfo_step", "trust_length"]


def trust_length(s, norm):
    """Length of a step in the trust-region norm: '2' (Euclidean) or 'atoms'
    (largest Euclidean length of the consecutive 3-vectors: the largest atomic
    displacement, Sella's restricted atomic step)."""
    if norm == "atoms":
        return float(np.max(np.sqrt(np.sum(s.reshape(-1, 3) ** 2, axis=1))))
    return float(np.sqrt(s @ s))


def _lower_root(lam, g, a2=1.0):
    """Smallest root of ``a2 mu = sum g_i^2 / (mu - lam_i)``, below ``min(lam, 0)``."""
    if lam.size == 0:
        return 0.0
    g2 = g * g
    nz = g2 > 0.0
    top = min(float(np.min(lam)), 0.0)
    if not np.any(nz):
        return top
    lam_nz, g2_nz = lam[nz], g2[nz]
    pole = float(np.min(lam_nz))
    gnorm = float(np.sqrt(np.sum(g2_nz)))

    def phi(mu):
        return a2 * mu + float(np.sum(g2_nz / (lam_nz - mu)))

    hi = min(pole, 0.0)
    lo = hi - gnorm / math.sqrt(a2) - 1.0
    while phi(lo) > 0.0:  # cannot happen in exact arithmetic; guards rounding
        lo = hi - 2.0 * (hi - lo)
    # phi -> +inf at the pole from below (or phi(0) > 0 when the pole is positive)
    right = hi - 4.0 * np.finfo(float).eps * max(abs(hi), gnorm, 1.0) if hi == pole else hi
    if phi(right) <= 0.0:
        root = right  # numerically at the pole: the step along that mode is long, and cut by the trust radius
    else:
        root = brentq(phi, lo, right, xtol=1e-14 * max(1.0, abs(lo)), rtol=4 * np.finfo(float).eps, maxiter=200)
    # a mode with no gradient component below the root would make the
    # augmented matrix's lowest eigenvalue its own: never shift past it
    return min(root, top)


def prfo_step(lam, V, g, order, radius, norm="2"):
    """The P-RFO step in the model's eigenbasis, restricted to `radius`.

    Parameters
    ----------
    lam : ndarray (p,)
        Model eigenvalues in the free subspace, ascending.
    V : ndarray (n, p)
        Their orthonormal eigenvectors.
    g : ndarray (n,)
        Gradient.
    order : int
        Number of modes to maximize along (the lowest ones).
    radius : float
        Trust radius.
    norm : {'2', 'atoms'}

    Returns
    -------
    s : ndarray (n,)
        The step.
    predicted : float
        The model's change of the objective along it, ``g.s + s.B.s / 2``.
    predicted_image : float
        The model's change of the image function (the objective with the
        sign of its uphill modes' part reversed): negative, a sum of negative
        terms, unlike `predicted`, whose uphill and downhill parts may cancel.
    restricted : bool
        Whether the trust radius cut the step.
    """
    gq = V.T @ g
    k = order
    mu_max = -_lower_root(-lam[:k], gq[:k]) if k else 0.0
    mu_min = _lower_root(lam[k:], gq[k:])

    def components(tau):
        c = np.zeros_like(gq)
        if k:
            den = mu_max + tau - lam[:k]
            with np.errstate(divide="ignore", invalid="ignore"):
                c[:k] = np.where(gq[:k] != 0.0, gq[:k] / den, 0.0)
        den = lam[k:] - mu_min + tau
        with np.errstate(divide="ignore", invalid="ignore"):
            c[k:] = np.where(gq[k:] != 0.0, -gq[k:] / den, 0.0)
        return c

    c = components(0.0)
    s = V @ c
    length = trust_length(s, norm)
    restricted = False
    if length > radius:
        restricted = True
        gnorm = float(np.sqrt(gq @ gq))
        hi = gnorm / radius
        while trust_length(V @ components(hi), norm) > radius:
            hi *= 2.0

        def excess(tau):
            return trust_length(V @ components(tau), norm) - radius

        tau = brentq(excess, 0.0, hi, xtol=1e-12 * hi, rtol=1e-10, maxiter=200)
        c = components(tau)
        s = V @ c
        length = trust_length(s, norm)
        if length > radius:  # the root is within tolerance of the radius: scale onto it
            c *= radius / length
            s = V @ c
    terms = gq * c + 0.5 * lam * c * c
    predicted = float(np.sum(terms))
    predicted_image = float(np.sum(terms[k:]) - np.sum(terms[:k]))
    return s, predicted, predicted_image, restricted
