"""The `Problem` record shared by every test problem of `curvopt.testing`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

__all__ = ["Problem", "DEFAULT_F_ATOL", "DEFAULT_F_RTOL"]

#: Default absolute tolerance of `Problem.is_solution`.
DEFAULT_F_ATOL = 1e-8
#: Default relative tolerance (of the reference value) of `Problem.is_solution`.
DEFAULT_F_RTOL = 1e-6


class _ArrayCopyField:
    """Dataclass field descriptor that stores a read-only float64 vector and
    hands out a fresh, writable copy on every access.

    Dataclasses call ``__get__(None, owner)`` to look for a default value; raising
    `AttributeError` there tells them the field has none.
    """

    def __init__(self, allow_none: bool = False):
        self._allow_none = allow_none

    def __set_name__(self, owner, name):
        self._public = name
        self._key = "_stored_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            if self._allow_none:
                return None
            raise AttributeError(self._public)
        value = obj.__dict__[self._key]
        return None if value is None else value.copy()

    def __set__(self, obj, value):
        if value is None:
            if not self._allow_none:
                raise TypeError(f"Problem.{self._public} cannot be None")
            obj.__dict__[self._key] = None
            return
        array = np.array(value, dtype=np.float64, copy=True)
        if array.ndim != 1:
            raise ValueError(f"Problem.{self._public} must be 1-D, got shape {array.shape}")
        array.flags.writeable = False
        obj.__dict__[self._key] = array


@dataclass(frozen=True, eq=False, kw_only=True)
class Problem:
    """One unconstrained minimization test problem with exact derivatives.

    Attributes
    ----------
    name : str
        Unique name, e.g. ``"rosenbrock"`` or, for a problem whose dimension is
        free, the base name and dimension, e.g. ``"chained_rosenbrock_1000"``.
    n : int
        Number of variables.
    x0 : ndarray
        The standard starting point.  Every access returns a new float64
        copy, so callers may modify it.
    fun : callable
        ``fun(x) -> float``, the objective.
    jac : callable
        ``jac(x) -> ndarray`` of shape ``(n,)``, the exact gradient.
    hessp : callable
        ``hessp(x, p) -> ndarray`` of shape ``(n,)``, the exact product of the
        Hessian at `x` with `p`.
    hess : callable or None
        ``hess(x) -> ndarray`` of shape ``(n, n)``, the exact dense Hessian;
        None for large problems (``n > 2000``).
    f_min : float
        The global minimum value.
    x_min : ndarray or None
        A global minimizer (fresh copy on each access), or None where it is
        not unique or not known in closed form.
    f_local : tuple of float
        Values of other local minima that a correct local method may reach
        from `x0` (for example Freudenstein-Roth's 48.98425...).
    f_atol, f_rtol : float
        Tolerances used by `is_solution` (see there).  Problems whose reference
        value is only known to a few digits carry looser values.
    reference : str
        Where the problem and its minimum come from.
    tags : frozenset of str
        Labels such as ``"mgh"``, ``"least-squares"``, ``"scalable"``,
        ``"quadratic"``, ``"ill-conditioned"``, ``"badly-scaled"``,
        ``"nonzero-residual"``, ``"local-minima"``, ``"numba"``.
    m : int or None
        Number of residuals for least-squares problems ``f = sum(r(x)**2)``.
    residual : callable or None
        ``residual(x) -> ndarray`` of shape ``(m,)`` for least-squares problems.
    autograd_objective : callable or None
        The objective written in ``autograd.numpy``, from which the reference
        derivatives are obtained by automatic differentiation (the hand-written
        `jac` and `hessp` are tested against it).
    numba_fun, numba_jac, numba_hessp : callable or None
        ``numba.njit(cache=True)`` versions of `fun`, `jac` and `hessp` taking
        float64 1-D arrays (``fun(x)``, ``jac(x)``, ``hessp(x, p)``), where
        provided.  They compile on their first call.
    notes : str
        Anything else worth knowing (origin of refined values, traps).
    """

    name: str
    n: int
    x0: np.ndarray = _ArrayCopyField()
    fun: Callable[[np.ndarray], float]
    jac: Callable[[np.ndarray], np.ndarray]
    hessp: Callable[[np.ndarray, np.ndarray], np.ndarray]
    hess: Optional[Callable[[np.ndarray], np.ndarray]]
    f_min: float
    x_min: Optional[np.ndarray] = _ArrayCopyField(allow_none=True)
    f_local: tuple = ()
    f_atol: float = DEFAULT_F_ATOL
    f_rtol: float = DEFAULT_F_RTOL
    reference: str = ""
    tags: frozenset = field(default_factory=frozenset)
    m: Optional[int] = None
    residual: Optional[Callable[[np.ndarray], np.ndarray]] = None
    autograd_objective: Optional[Callable] = None
    numba_fun: Optional[Callable] = None
    numba_jac: Optional[Callable] = None
    numba_hessp: Optional[Callable] = None
    notes: str = ""

    def __post_init__(self):
        object.__setattr__(self, "n", int(self.n))
        object.__setattr__(self, "f_min", float(self.f_min))
        object.__setattr__(self, "f_local", tuple(float(v) for v in self.f_local))
        object.__setattr__(self, "tags", frozenset(self.tags))
        if self.__dict__["_stored_x0"].shape != (self.n,):
            raise ValueError(f"{self.name}: x0 has shape {self.__dict__['_stored_x0'].shape}, expected ({self.n},)")
        x_min = self.__dict__["_stored_x_min"]
        if x_min is not None and x_min.shape != (self.n,):
            raise ValueError(f"{self.name}: x_min has shape {x_min.shape}, expected ({self.n},)")

    def __repr__(self):
        return f"Problem(name={self.name!r}, n={self.n}, f_min={self.f_min!r}, f_local={self.f_local!r})"

    @property
    def has_numba(self) -> bool:
        """True when `numba_fun`, `numba_jac` and `numba_hessp` are all provided."""
        return self.numba_fun is not None and self.numba_jac is not None and self.numba_hessp is not None

    def tolerance(self, value: float, *, atol: float | None = None, rtol: float | None = None) -> float:
        """The admissible distance ``atol + rtol * |value|`` from a reference value."""
        atol = self.f_atol if atol is None else atol
        rtol = self.f_rtol if rtol is None else rtol
        return atol + rtol * abs(value)

    def matching_minimum(self, f: float, *, atol: float | None = None, rtol: float | None = None,
                         allow_local: bool = True) -> float | None:
        """Return the known minimum value (`f_min` or one of `f_local`) that `f` matches, or None.

        `f` matches a reference value ``v`` when ``|f - v| <= atol + rtol * |v|``.
        """
        f = float(f)
        if not np.isfinite(f):
            return None
        candidates = (self.f_min,) + (self.f_local if allow_local else ())
        for value in candidates:
            if abs(f - value) <= self.tolerance(value, atol=atol, rtol=rtol):
                return value
        return None

    def is_solution(self, x=None, f: float | None = None, *, atol: float | None = None,
                    rtol: float | None = None, allow_local: bool = True) -> bool:
        """Whether a returned point is at a known minimum of the problem.

        Parameters
        ----------
        x : array_like, optional
            The returned point; used to compute ``f = fun(x)`` when `f` is not given.
        f : float, optional
            The objective value at the returned point.
        atol, rtol : float, optional
            Absolute tolerance and tolerance relative to the reference value.
            Defaults: the problem's `f_atol` and `f_rtol`, which are
            ``1e-8`` and ``1e-6`` unless the problem says otherwise.
        allow_local : bool, default True
            Also accept the local-minimum values in `f_local`.

        Returns
        -------
        bool
            True when ``|f - v| <= atol + rtol * |v|`` for ``v = f_min`` or,
            if `allow_local`, for some ``v`` in `f_local`.
        """
        if f is None:
            if x is None:
                raise TypeError("is_solution needs x or f")
            f = self.fun(np.asarray(x, dtype=np.float64))
        return self.matching_minimum(f, atol=atol, rtol=rtol, allow_local=allow_local) is not None
