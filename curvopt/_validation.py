"""Input checks shared by every public entry point: done once, at the edge."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["as_finite_vector", "as_point", "norm"]


def norm(v) -> float:
    """Euclidean norm of a 1-D float array, without `numpy.linalg.norm`'s overhead
    (it dominates in small problems, where each call costs microseconds)."""
    return math.sqrt(float(np.dot(v, v)))


def as_finite_vector(value, name: str, n: int | None = None) -> np.ndarray:
    """`value` as a finite 1-D float64 array (a copy), or a ValueError naming `name`."""
    if np.iscomplexobj(value):  # numpy would drop the imaginary part with only a warning
        raise ValueError(f"`{name}` must be real; got complex values")
    try:
        arr = np.array(value, dtype=float, copy=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`{name}` must be a 1-D array of real numbers; {exc}") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D; got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"`{name}` must not be empty")
    if n is not None and arr.size != n:
        raise ValueError(f"`{name}` must have shape ({n},); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite; it contains NaN or inf at indices {np.flatnonzero(~np.isfinite(arr))[:10].tolist()}")
    return arr


def as_point(x0) -> np.ndarray:
    """The starting point as `minimize` accepts it: scalars become 1-element vectors, as in scipy."""
    return as_finite_vector(x0, "x0")
