"""Assembly of `Problem` objects from a residual (or objective) and optional fast code."""

from __future__ import annotations

import numpy as np

from ._autodiff import autograd_derivatives, sum_of_squares
from ._problem import Problem

#: Above this dimension no dense Hessian is offered.
MAX_DENSE_N = 2000

MGH_REFERENCE = ("J. J. Moré, B. S. Garbow and K. E. Hillstrom, Testing unconstrained "
                 "optimization software, ACM TOMS 7(1):17-41, 1981")


def mgh_reference(number):
    return f"{MGH_REFERENCE}, problem {number}"


def _numpy_residual(residual):
    def r(x):
        return np.asarray(residual(np.asarray(x, dtype=np.float64)), dtype=np.float64)

    return r


def _hessp_from_hess(hess):
    def hessp(x, p):
        return hess(x) @ np.asarray(p, dtype=np.float64)

    return hessp


def build_problem(*, name, x0, residual=None, objective=None, fast=None, numba=None,
                  tags=(), **fields):
    """Make a `Problem` whose derivatives are exact.

    Parameters
    ----------
    name : str
    x0 : array_like
    residual : callable, optional
        ``r(x)`` in autograd.numpy; the objective is ``sum(r(x)**2)``.
    objective : callable, optional
        Scalar objective in autograd.numpy (when there is no residual).
    fast : dict, optional
        Hand-written ``fun``, ``jac``, ``hessp`` and optionally ``hess``
        replacing the automatically differentiated ones.  A missing ``hessp``
        is taken as ``hess(x) @ p``.
    numba : tuple, optional
        ``(fun, jac, hessp)`` numba kernels.
    tags : iterable of str
    **fields
        Remaining `Problem` fields (f_min, x_min, f_local, reference, ...).
    """
    x0 = np.asarray(x0, dtype=np.float64)
    n = x0.size
    tags = set(tags)
    if residual is not None:
        objective = sum_of_squares(residual)
        tags.add("least-squares")
        fields.setdefault("residual", _numpy_residual(residual))
        fields.setdefault("m", int(np.size(residual(x0))))
    fun, jac, hessp, hess = autograd_derivatives(objective)
    if fast is not None:
        tags.add("hand-coded")
        fun, jac = fast["fun"], fast["jac"]
        hess = fast.get("hess")
        hessp = fast.get("hessp") or _hessp_from_hess(hess)
    if n > MAX_DENSE_N:
        hess = None
    numba_fun = numba_jac = numba_hessp = None
    if numba is not None:
        numba_fun, numba_jac, numba_hessp = numba
        tags.add("numba")
    if fields.get("f_local"):
        tags.add("local-minima")
    return Problem(name=name, n=n, x0=x0, fun=fun, jac=jac, hessp=hessp, hess=hess,
                   autograd_objective=objective,
                   numba_fun=numba_fun, numba_jac=numba_jac, numba_hessp=numba_hessp,
                   tags=frozenset(tags), **fields)
