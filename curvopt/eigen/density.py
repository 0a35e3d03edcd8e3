"""Spectral density by stochastic Lanczos quadrature."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._common import as_counting_operator, as_generator, check_positive_int
from ._result import SpectralDensity

__all__ = ["spectral_density"]


def spectral_density(H, n_vectors=10, lanczos_steps=40, grid=None, sigma=None, rng=None) -> SpectralDensity:
    """Smoothed eigenvalue density of a symmetric operator by stochastic Lanczos quadrature.

    For each of `n_vectors` random unit vectors ``v`` (Rademacher entries
    over ``sqrt(n)``), `lanczos_steps` steps of Lanczos with full
    reorthogonalization give a Gauss quadrature rule -- nodes ``theta_j``
    (the Ritz values) and weights ``tau_j`` (squared first components of the
    Ritz vectors) -- for the spectral measure ``v^T delta(t - H) v``, whose
    expectation is ``(1/n) sum_i delta(t - lambda_i)``.  The density is the
    average of the rules broadened by a Gaussian of width `sigma`::

        phi(t) = (1 / n_vectors) sum_l sum_j tau_j^l N(t; theta_j^l, sigma^2)

    so it integrates to 1 over the real line (to about 1 over `grid`).  All
    probe vectors advance together: each Lanczos step is one ``matmat`` call
    with `n_vectors` columns.

    Parameters
    ----------
    H : LinearOperator, ndarray or sparse matrix, shape (n, n)
        Symmetric.
    n_vectors : int
        Number of random probe vectors.
    lanczos_steps : int
        Lanczos steps (products) per probe vector (at most n).
    grid : None, int or array_like
        Where to evaluate the density: an increasing 1-D array, or the number
        of uniform points (default 1000) spanning the nodes plus ``5 sigma``
        on each side.
    sigma : float, optional
        Gaussian broadening width; default 1% of the range of the nodes
        (``(max - min) / 100``; the spectrum's range is known to the
        quadrature to high accuracy after a few dozen steps).
    rng : None, int or numpy.random.Generator
        Source of the probe vectors.

    Returns
    -------
    SpectralDensity
        ``grid``, ``density``, ``nodes`` and ``weights`` (shape
        ``(n_vectors, lanczos_steps)``; when a probe's Krylov space becomes
        invariant early its remaining nodes are NaN with weight 0),
        ``n_products`` and ``sigma``.

    References
    ----------
    .. [1] L. Lin, Y. Saad and C. Yang, "Approximating spectral densities of
       large matrices", SIAM Review 58(1), 34-65 (2016).
    .. [2] S. Ubaru, J. Chen and Y. Saad, "Fast estimation of tr(f(A)) via
       stochastic Lanczos quadrature", SIAM J. Matrix Anal. Appl. 38(4),
       1075-1099 (2017).
    .. [3] B. Ghorbani, S. Krishnan and Y. Xiao, "An investigation into neural
       net optimization via Hessian eigenvalue density", ICML (2019).

    Examples
    --------
    >>> import numpy as np
    >>> from curvopt.eigen import spectral_density
    >>> A = np.diag(np.linspace(0.0, 1.0, 200))
    >>> d = spectral_density(A, n_vectors=4, lanczos_steps=30, rng=0)
    >>> bool(abs(np.trapezoid(d.density, d.grid) - 1.0) < 1e-3)
    True
    """
    opc = as_counting_operator(H)
    n = opc.n
    nv = check_positive_int(n_vectors, "n_vectors")
    m = min(check_positive_int(lanczos_steps, "lanczos_steps"), n)
    if sigma is not None:
        try:
            sigma = float(sigma)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"`sigma` must be a positive float, got {sigma!r}") from exc
        if not (np.isfinite(sigma) and sigma > 0):
            raise ValueError(f"`sigma` must be a positive finite float, got {sigma!r}")
    grid_points = None
    if grid is None:
        grid_points = 1000
    elif isinstance(grid, numbers.Integral) and not isinstance(grid, bool):
        grid_points = check_positive_int(grid, "grid", minimum=2)
    else:
        grid = np.asarray(grid, dtype=np.float64)
        if grid.ndim != 1 or grid.size < 2 or not np.all(np.isfinite(grid)) or np.any(np.diff(grid) <= 0):
            raise ValueError("`grid` must be None, an int >= 2, or an increasing 1-D array of finite values")
    gen = as_generator(rng)

    # Lanczos on all probes at once; basis Q[step, probe, :]
    Q = np.zeros((m + 1, nv, n))
    alpha = np.zeros((nv, m))
    beta = np.zeros((nv, m))
    steps = np.zeros(nv, dtype=int)
    Q[0] = gen.choice(np.array([-1.0, 1.0]), size=(nv, n)) / math.sqrt(n)
    active = np.ones(nv, dtype=bool)
    for i in range(m):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        W = opc.matmat(np.ascontiguousarray(Q[i, idx].T)).T
        for c, l in enumerate(idx):
            w = W[c]
            alpha[l, i] = Q[i, l] @ w
            w = w - alpha[l, i] * Q[i, l]
            if i:
                w = w - beta[l, i - 1] * Q[i - 1, l]
            basis = Q[: i + 1, l]
            for _ in range(2):
                w = w - basis.T @ (basis @ w)
            steps[l] = i + 1
            b = np.linalg.norm(w)
            beta[l, i] = b
            scale = max(abs(alpha[l, : i + 1]).max(), beta[l, : i + 1].max(), np.finfo(float).tiny)
            if b <= 1e-12 * scale or i + 1 == m:
                active[l] = False
            else:
                Q[i + 1, l] = w / b

    nodes = np.full((nv, m), np.nan)
    weights = np.zeros((nv, m))
    for l in range(nv):
        s = steps[l]
        T = np.diag(alpha[l, :s]) + np.diag(beta[l, : s - 1], 1) + np.diag(beta[l, : s - 1], -1)
        theta, S = np.linalg.eigh(T)
        nodes[l, :s] = theta
        weights[l, :s] = S[0] ** 2
    finite = nodes[np.isfinite(nodes)]
    lo, hi = float(finite.min()), float(finite.max())
    if sigma is None:
        span = hi - lo
        sigma = span / 100.0 if span > 0 else max(abs(hi), 1.0) * 1e-2
    if grid_points is not None:
        grid = np.linspace(lo - 5 * sigma, hi + 5 * sigma, grid_points)
    density = np.zeros(grid.size)
    norm = 1.0 / (nv * sigma * math.sqrt(2 * math.pi))
    for l in range(nv):
        s = steps[l]
        d = (grid[:, None] - nodes[l, :s][None, :]) / sigma
        density += np.exp(-0.5 * d * d) @ weights[l, :s]
    density *= norm
    return SpectralDensity(
        grid=grid, density=density, nodes=nodes, weights=weights, n_products=opc.n_products, sigma=float(sigma)
    )
