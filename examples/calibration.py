"""Structural estimation: Rust's bus-engine replacement model by maximum likelihood, with bounds.

A dynamic discrete-choice model in the style of Rust (1987).  Each period the manager of a bus
fleet either keeps a bus (paying a maintenance cost that grows with mileage, ``c1 * x / 10`` on
a grid of mileage states x = 0, 1, ..., n_states - 1) or replaces its engine (paying ``RC``; the
mileage resets).  Mileage then rises by 0, 1 or 2 states with known probabilities, and choices
carry i.i.d. extreme-value shocks, so that the expected value function EV solves the Bellman
fixed point

    EV(x) = sum_j pi_j log( exp(-c(y_j) + beta EV(y_j)) + exp(-RC + beta EV(0)) ),  y_j = x + j,

and the probability of replacement is logistic in the difference of the two choice values.  The
fixed point is solved by Rust's polyalgorithm (contraction steps, then Newton-Kantorovich), and
the gradient of the log-likelihood by the implicit function theorem, ``dEV/dtheta =
(I - dT/dEV)^-1 dT/dtheta``: one model solution gives value *and* gradient, so the objective is
passed with ``jac=True``.  Everything that touches the model is numba-compiled.

The parameters theta = (RC, c1, beta) are estimated from data simulated with a fixed seed, under
bounds: ``RC >= 0.1``, ``c1 >= 0``, and a discount factor ``0 <= beta <= 0.999``.  The model has
no solution for beta >= 1 (the Bellman operator is no longer a contraction) and raises there:
curvopt's bounded trust-region method on a limited-memory quasi-Newton model (``'trust-lbfgs'``
with bounds) never evaluates it outside the box.  It needs no Hessian-vector product, so every
model solution goes to a trial point: about half the solutions of ``'trust-bounds'`` (projected
trust-region Newton on finite-difference products, one model solution each) on this problem.

The example prints the estimates with standard errors (inverse Hessian of the log-likelihood and
White's robust sandwich, from curvopt.stats), the truth, and a side-by-side comparison with
scipy's L-BFGS-B in the same run: gradient calls (= model solutions), time, and the standard
errors that L-BFGS-B's quasi-Newton ``hess_inv`` would give.

Run:  OMP_NUM_THREADS=1 python examples/calibration.py

(With several BLAS threads, idle threads left spinning by the model's LAPACK calls slow scipy's
L-BFGS-B down tenfold and the time comparison means nothing.)  The first run compiles the model
(about 10 s) and caches it; later runs take about 3 s.  Across seeds, the estimates' deviations
from the truth in units of their standard errors behave like standard normal draws.

References
----------
J. Rust, "Optimal replacement of GMC bus engines: an empirical model of Harold Zurcher",
Econometrica 55(5), 999-1033, 1987.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.optimize
from numba import njit

import curvopt
from curvopt.stats import covariance
from curvopt.testing import Counted
from curvopt.trust_region.bounded import projected_gradient

# numba's on-disk cache records the module's name: cache when run as a script, compile in memory
# when imported (as the tests do), so that the two never read each other's entries.
_CACHE = __name__ == "__main__"

PARAMETERS = ("RC", "c1", "beta")
TRUE_THETA = np.array([8.0, 1.0, 0.9])
MILEAGE_STEPS = np.array([0.3, 0.5, 0.2])  # P(mileage rises by 0, 1, 2 states)
BOUNDS = scipy.optimize.Bounds([0.1, 0.0, 0.0], [50.0, 20.0, 0.999])
START = np.array([4.0, 0.5, 0.5])


# ------------------------------------------------------------------ the model (numba)


@njit(cache=_CACHE)
def _choice_values(ev, theta, n_states):
    """Log-sum (expected maximum) and replacement probability at every state."""
    rc, c1, beta = theta[0], theta[1], theta[2]
    logsum = np.empty(n_states)
    p_replace = np.empty(n_states)
    v_replace = -rc + beta * ev[0]
    for y in range(n_states):
        v_keep = -c1 * y / 10.0 + beta * ev[y]
        m = max(v_keep, v_replace)
        logsum[y] = m + np.log(np.exp(v_keep - m) + np.exp(v_replace - m))
        p_replace[y] = np.exp(v_replace - logsum[y])
    return logsum, p_replace


@njit(cache=_CACHE)
def _bellman(ev, theta, steps, n_states):
    logsum, p_replace = _choice_values(ev, theta, n_states)
    out = np.zeros(n_states)
    for x in range(n_states):
        for j in range(steps.size):
            out[x] += steps[j] * logsum[min(x + j, n_states - 1)]
    return out, p_replace


@njit(cache=_CACHE)
def _bellman_jacobian(p_replace, beta, steps, n_states):
    """dT/dEV: the Bellman operator's derivative with respect to EV."""
    J = np.zeros((n_states, n_states))
    for x in range(n_states):
        for j in range(steps.size):
            y = min(x + j, n_states - 1)
            J[x, y] += steps[j] * beta * (1.0 - p_replace[y])
            J[x, 0] += steps[j] * beta * p_replace[y]
    return J


def solve_model(theta, steps, n_states):
    """EV and replacement probabilities at theta (raises outside the model's domain)."""
    _check_domain(theta)
    return _solve_model(theta, steps, n_states)


def _check_domain(theta):
    if not 0.0 <= theta[2] < 1.0:
        raise ValueError(f"the discount factor must be in [0, 1): no fixed point otherwise; got {theta[2]!r}")


@njit(cache=_CACHE)
def _solve_model(theta, steps, n_states):
    """EV and replacement probabilities: contraction steps, then Newton-Kantorovich."""
    ev = np.zeros(n_states)
    for _ in range(30):
        ev, p_replace = _bellman(ev, theta, steps, n_states)
    for _ in range(50):
        t_ev, p_replace = _bellman(ev, theta, steps, n_states)
        residual = ev - t_ev
        if np.max(np.abs(residual)) <= 1e-13 * (1.0 + np.max(np.abs(ev))):
            break
        A = np.eye(n_states) - _bellman_jacobian(p_replace, theta[2], steps, n_states)
        ev = ev - np.linalg.solve(A, residual)
    return _bellman(ev, theta, steps, n_states)


@njit(cache=_CACHE)
def _index_derivatives(theta, steps, n_states):
    """P(replace) at each state and d(v_replace - v_keep)/dtheta (n_states x 3), via the IFT."""
    ev, p_replace = _solve_model(theta, steps, n_states)
    beta = theta[2]
    dT = np.zeros((n_states, 3))
    for x in range(n_states):
        for j in range(steps.size):
            y = min(x + j, n_states - 1)
            p1 = p_replace[y]
            p0 = 1.0 - p1
            dT[x, 0] += steps[j] * (-p1)
            dT[x, 1] += steps[j] * (-p0 * y / 10.0)
            dT[x, 2] += steps[j] * (p0 * ev[y] + p1 * ev[0])
    A = np.eye(n_states) - _bellman_jacobian(p_replace, beta, steps, n_states)
    dev = np.linalg.solve(A, dT)  # dEV/dtheta by the implicit function theorem
    dindex = np.empty((n_states, 3))
    for x in range(n_states):
        dindex[x, 0] = -1.0 + beta * (dev[0, 0] - dev[x, 0])
        dindex[x, 1] = x / 10.0 + beta * (dev[0, 1] - dev[x, 1])
        dindex[x, 2] = ev[0] - ev[x] + beta * (dev[0, 2] - dev[x, 2])
    return p_replace, dindex


def mean_nll_and_gradient(theta, counts, steps):
    """Mean negative log-likelihood of the choices and its gradient (one model solution).

    Raises ValueError for a discount factor outside [0, 1), where the model has no solution.
    """
    _check_domain(theta)
    return _mean_nll_and_gradient(theta, counts, steps)


@njit(cache=_CACHE)
def _mean_nll_and_gradient(theta, counts, steps):
    n_states = counts.shape[0]
    p_replace, dindex = _index_derivatives(theta, steps, n_states)
    nll = 0.0
    grad = np.zeros(3)
    total = 0.0
    for x in range(n_states):
        n_keep, n_replace = counts[x, 0], counts[x, 1]
        total += n_keep + n_replace
        p1 = p_replace[x]
        p0 = 1.0 - p1
        nll -= n_keep * np.log(p0) + n_replace * np.log(p1)
        slope = n_replace * p0 - n_keep * p1  # d loglik / d(v_replace - v_keep)
        for k in range(3):
            grad[k] -= slope * dindex[x, k]
    return nll / total, grad / total


def scores(theta, counts, steps):
    """Per-observation scores, grouped: observations with the same (state, choice) have the same
    score, so rows ``sqrt(count) * score`` give the same ``S'S`` as one row per observation."""
    _check_domain(theta)
    p_replace, dindex = _index_derivatives(theta, steps, counts.shape[0])
    keep = -p_replace[:, None] * dindex  # d log P(keep | x) / dtheta
    replace = (1.0 - p_replace)[:, None] * dindex
    return np.vstack([np.sqrt(counts[:, :1]) * keep, np.sqrt(counts[:, 1:]) * replace])


def simulate(theta, n_buses, n_periods, n_states, seed):
    """Counts of (state, choice) in a simulated panel, every bus starting new."""
    rng = np.random.default_rng(seed)
    _, p_replace = solve_model(theta, MILEAGE_STEPS, n_states)
    x = np.zeros(n_buses, dtype=np.int64)
    counts = np.zeros((n_states, 2))
    for _ in range(n_periods):
        replace = rng.uniform(size=n_buses) < p_replace[x]
        np.add.at(counts, (x, replace.astype(np.int64)), 1.0)
        x = np.where(replace, 0, x)
        x = np.minimum(x + rng.choice(MILEAGE_STEPS.size, size=n_buses, p=MILEAGE_STEPS), n_states - 1)
    return counts


# ------------------------------------------------------------------ estimation


def fit_curvopt(objective, x0, gtol, method="trust-lbfgs"):
    """curvopt's bounded trust-region method, value and gradient from one call (jac=True)."""
    return curvopt.minimize(objective, x0, jac=True, method=method, bounds=BOUNDS, options={"gtol": gtol})


def timed(make_run, repeats=3):
    """Best wall time over `repeats` fresh runs; the result and call count of the last one."""
    best = np.inf
    for _ in range(repeats):
        counted, run = make_run()
        start = time.perf_counter()
        out = run(counted)
        best = min(best, time.perf_counter() - start)
    return out, counted.calls, best


def main(n_buses=400, n_periods=100, n_states=90, seed=0, gtol=1e-8, verbose=True):
    """Simulate, estimate with curvopt and L-BFGS-B, and report; returns a dict of the results."""
    counts = simulate(TRUE_THETA, n_buses, n_periods, n_states, seed)
    n_obs = int(counts.sum())

    def objective(theta):
        return mean_nll_and_gradient(theta, counts, MILEAGE_STEPS)

    def gradient(theta):
        return mean_nll_and_gradient(theta, counts, MILEAGE_STEPS)[1]

    objective(START)  # compile (or load from numba's cache) outside the timings

    res, calls, our_time = timed(lambda: (Counted(objective), lambda f: fit_curvopt(f, START.copy(), gtol)))
    ref, calls_lbfgsb, ref_time = timed(lambda: (Counted(objective), lambda f: scipy.optimize.minimize(
        f, START.copy(), jac=True, method="L-BFGS-B", bounds=BOUNDS,
        options={"gtol": gtol, "ftol": 1e-15, "maxiter": 1000})))

    # Standard errors at curvopt's estimate: central differences of the analytic gradient.
    cov = covariance(res, jac=gradient, n_obs=n_obs, bounds=BOUNDS)
    cov_robust = covariance(res, kind="sandwich", jac=gradient, n_obs=n_obs, bounds=BOUNDS,
                            scores=scores(res.x, counts, MILEAGE_STEPS))
    se = np.sqrt(np.diag(cov))
    se_robust = np.sqrt(np.diag(cov_robust))
    se_lbfgsb = np.sqrt(np.diag(ref.hess_inv.todense()) / n_obs)  # quasi-Newton approximation
    out = {
        "true": TRUE_THETA.copy(), "estimate": res.x.copy(), "se": se, "se_robust": se_robust,
        "result": res, "lbfgsb": ref, "se_lbfgsb": se_lbfgsb, "n_obs": n_obs,
        "calls": calls, "calls_lbfgsb": calls_lbfgsb, "time": our_time, "time_lbfgsb": ref_time,
    }
    if verbose:
        print(f"Rust bus-engine model: {n_states} mileage states, {n_buses} buses x {n_periods} periods "
              f"= {n_obs} choices ({int(counts[:, 1].sum())} replacements), seed {seed}")
        print(f"bounds: RC in [0.1, 50], c1 in [0, 20], beta in [0, 0.999]; start {START.tolist()}\n")
        print(f"{'':6} {'true':>8} {'estimate':>10} {'s.e.':>8} {'robust':>8} {'t vs true':>10} {'L-BFGS-B':>10} "
              f"{'its s.e.':>9}")
        for k, name in enumerate(PARAMETERS):
            print(f"{name:6} {TRUE_THETA[k]:>8.4f} {res.x[k]:>10.4f} {se[k]:>8.4f} {se_robust[k]:>8.4f} "
                  f"{(res.x[k] - TRUE_THETA[k]) / se[k]:>10.2f} {ref.x[k]:>10.4f} {se_lbfgsb[k]:>9.4f}")
        print("\n(s.e.: inverse Hessian of the log-likelihood from Hessian-vector products; robust: White's "
              "sandwich; L-BFGS-B's s.e.: its quasi-Newton hess_inv, an approximation)\n")
        print(f"{'solver':32} {'success':>7} {'-loglik/n':>12} {'||proj g||':>10} {'model solutions':>15} "
              f"{'time [s]':>9}")
        for label, r, n_calls, seconds in (("curvopt trust-lbfgs (jac=True)", res, calls, our_time),
                                           ("scipy L-BFGS-B (jac=True)", ref, calls_lbfgsb, ref_time)):
            pg = np.max(np.abs(projected_gradient(r.x, gradient(r.x), BOUNDS.lb, BOUNDS.ub)))
            print(f"{label:32} {str(bool(r.success)):>7} {r.fun:>12.8f} {pg:>10.1e} {n_calls:>15d} {seconds:>9.3f}")
        newton = fit_curvopt(objective, START.copy(), gtol, method="trust-bounds")
        print(f"{'curvopt trust-bounds (jac=True)':32} {str(bool(newton.success)):>7} {newton.fun:>12.8f} "
              f"{newton.pgnorm:>10.1e} {newton.nfev:>15d} {'':>9}")
        print(f"\ntrust-lbfgs spends {res.n_hvp} Hessian-vector products (a quasi-Newton model); trust-bounds' count "
              f"includes {newton.n_hvp} (forward differences of the gradient, one model solution each).  Each "
              f"covariance costs {2 * res.x.size} more model solutions (central differences).  Times: best of 3 runs.")
    return out


if __name__ == "__main__":
    main()
