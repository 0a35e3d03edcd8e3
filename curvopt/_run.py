"""What every curvopt solver shares: the best point so far, the callback,
progress, and turning however a run ends into an honest `OptimizeResult`.

A solver body is a function ``body(run) -> Status`` that moves `run` through
its iterations; `execute` calls it and converts the ways a run can be cut
short (budget, Ctrl-C, an oracle failure at an accepted point) into statuses,
so that no work is lost and nothing is raised past the user.
"""

from __future__ import annotations

import inspect

import numpy as np

from ._oracle import BudgetExhausted, OracleError
from ._progress import Progress
from ._result import OptimizeResult, Status
from ._validation import norm as _norm

__all__ = ["Run", "execute", "wrap_callback", "DEFAULT_MAX_FAILURES"]

# Each failure at least quarters the trust radius, so ten span six orders of magnitude.
DEFAULT_MAX_FAILURES = 10


def wrap_callback(callback):
    """scipy's rule: a callback whose only parameter is named
    ``intermediate_result`` gets an `OptimizeResult`, any other gets ``xk``."""
    if callback is None:
        return None
    if not callable(callback):
        raise TypeError(f"`callback` must be callable; got {type(callback).__name__}")
    try:
        params = set(inspect.signature(callback).parameters)
    except (TypeError, ValueError):  # builtins without a signature
        params = set()
    if params == {"intermediate_result"}:
        return lambda res: callback(intermediate_result=res)
    return lambda res: callback(np.copy(res.x))


class Run:
    """The state a solver carries: current point, counters, history."""

    def __init__(self, oracle, backend, x, f, g, *, callback=None, disp=False, return_all=False, columns=()):
        self.oracle = oracle
        self.backend = backend
        self.x, self.f, self.g = x, f, g
        self.gnorm = _norm(g)
        self.nit = 0
        self.n_nonfinite = 0
        self.cg_iterations = 0
        # Consecutive failed trial points (an exception, NaN or inf) a method accepts before it
        # gives up (option `max_failures`); each failure shrinks the trust radius.
        self.max_failures = DEFAULT_MAX_FAILURES
        self.extra = {}
        self.allvecs = [x.copy()] if return_all else None
        self._callback = wrap_callback(callback)
        self.progress = Progress(disp, columns)

    def move_to(self, x, f, g):
        self.x, self.f, self.g = x, f, g
        self.gnorm = _norm(g)
        if self.allvecs is not None:
            self.allvecs.append(x.copy())

    def end_of_iteration(self, **progress_values) -> bool:
        """Print progress and call the callback; True if the callback asked to stop."""
        self.progress.line(self.nit, **progress_values)
        log = getattr(self.oracle, "log", None)
        if log is not None:
            log.iteration(self.nit, self.x, self.f, self.gnorm, self.oracle.njev,
                          progress_values.get("trust_radius"), progress_values.get("accepted"))
        if self._callback is None:
            return False
        intermediate = OptimizeResult(progress_values)
        del intermediate["f"]  # the progress table's name for `fun`
        intermediate.update(x=self.x.copy(), fun=self.f, jac=self.g.copy(), nit=self.nit, njev=self.oracle.njev)
        try:
            self._callback(intermediate)
        except StopIteration:
            return True
        return False

    def result(self, status: Status) -> OptimizeResult:
        oracle, backend = self.oracle, self.backend
        res = OptimizeResult(
            x=self.x,
            fun=self.f,
            jac=self.g,
            nit=self.nit,
            nfev=oracle.nfev,
            njev=oracle.njev,
            nhev=0 if backend is None else backend.n_evaluations,
            n_hvp=0 if backend is None else backend.n_products,
            status=int(status),
            success=status.success,
            message=status.message,
            n_nonfinite=self.n_nonfinite,
            cg_iterations=self.cg_iterations,
        )
        res.update(self.extra)
        if self.allvecs is not None:
            res["allvecs"] = self.allvecs
        self.progress.summary(res)
        return res


def execute(body, run: Run) -> OptimizeResult:
    """Run `body(run)`; every way it can be cut short becomes a status."""
    try:
        status = body(run)
    except BudgetExhausted:
        status = Status.EVAL_BUDGET
    except KeyboardInterrupt:
        status = Status.INTERRUPTED
    except OracleError as err:
        status = Status.ORACLE_ERROR
        run.extra["exception"] = err.__cause__
    result = run.result(status)
    log = getattr(run.oracle, "log", None)
    if log is not None:
        log.finish(result)  # adds n_replayed and n_fresh
    return result
