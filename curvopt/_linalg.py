"""Inner products for compiled kernels, identical to the last bit to ``np.dot``.

The Python solvers take norms as ``sqrt(np.dot(v, v))`` and the compiled
kernels must reproduce them exactly, so that the Python and the compiled
trust-region paths follow the same iterates.  Long vectors go to BLAS, as in
``np.dot`` (a sequential sum is several times slower at n >= 1000); below
`_SHORT` a plain loop replaces the BLAS call, whose ~25 ns overhead would then
dominate, and OpenBLAS's x86 kernels sum such short vectors sequentially too,
so the result is the same to the last bit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["dot", "norm"]

_SHORT = 16


@njit(cache=True)
def _blas_dot(a, b):
    return np.dot(a, b)


@njit(cache=True, inline="always")
def dot(a, b):
    """a'b as ``np.dot`` computes it (inlined: BLAS calls keep reference counts)."""
    if a.size < _SHORT:
        total = 0.0
        for i in range(a.size):
            total += a[i] * b[i]
        return total
    return _blas_dot(a, b)  # not inlined: numba's BLAS call is much code, compiled once


@njit(cache=True, inline="always")
def norm(v):
    """sqrt(v'v), as `curvopt._validation.norm` (numba's np.linalg.norm uses the scaled nrm2)."""
    return math.sqrt(dot(v, v))
