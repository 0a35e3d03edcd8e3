"""Result object and the one table of stop reasons.

`OptimizeResult` subclasses scipy's so that code written against
``scipy.optimize.minimize`` keeps working; `Status` gives every way a run can
end one name, one integer (scipy's numbering where scipy has one) and one
message, so that no solver keeps a tuple of messages of its own.
"""

from __future__ import annotations

import enum

import scipy.optimize

__all__ = ["OptimizeResult", "Status"]


class OptimizeResult(scipy.optimize.OptimizeResult):
    """The result of `curvopt.minimize`: scipy's `OptimizeResult` plus curvopt's keys.

    Attributes
    ----------
    x : ndarray
        The solution (the best accepted point when the run did not converge).
    fun : float
        Objective value at `x`.
    jac : ndarray
        Gradient at `x`.
    nit : int
        Number of iterations.
    nfev, njev, nhev : int
        Calls of the objective, of the user's gradient (every call inside a
        finite-difference Hessian-vector product included) and number of
        Hessian-vector products (or Hessian evaluations).
    status : int
        A `Status` value; ``result.status.name`` is available on the enum.
    success : bool
        True only when the stopping test really holds at `x`.
    message : str
        Why the run stopped.
    """


class Status(enum.IntEnum):
    """Why a run stopped.  ``Status.X.message`` is the one message for it.

    Values 0-4 follow scipy's trust-region methods; the rest are curvopt's.
    """

    SUCCESS = 0
    MAXITER = 1
    PRECISION_LOSS = 2
    NAN_RESULT = 3
    CALLBACK = 99
    EVAL_BUDGET = 5
    LINE_SEARCH = 6
    ORACLE_ERROR = 7
    INTERRUPTED = 8
    TRUST_RADIUS = 9
    SADDLE_POINT = 10

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @property
    def success(self) -> bool:
        return self is Status.SUCCESS


_MESSAGES = {
    Status.SUCCESS: "Optimization terminated successfully.",
    Status.MAXITER: "Maximum number of iterations has been exceeded.",
    Status.PRECISION_LOSS: "Desired error not necessarily achieved due to precision loss.",
    Status.NAN_RESULT: "NaN result encountered.",
    Status.CALLBACK: "`callback` raised `StopIteration`.",
    Status.EVAL_BUDGET: "The budget of gradient evaluations (option `max_grad_calls`) is exhausted.",
    Status.LINE_SEARCH: "The line search failed to find a point of sufficient decrease.",
    Status.ORACLE_ERROR: "The objective or its gradient raised an exception (at an accepted point, or at more "
    "consecutive trial points than max_failures allows); the result holds the best point so far.",
    Status.INTERRUPTED: "Interrupted by the user (KeyboardInterrupt); the result holds the best point so far.",
    Status.SADDLE_POINT: "The gradient test holds at a saddle point (the Hessian has negative curvature there) "
    "and stepping off it along the negative-curvature direction failed.",
    Status.TRUST_RADIUS: "The trust radius fell below its floor without meeting the gradient test "
    "(the model cannot be trusted at any step length; the gradient or products may be inaccurate).",
}
