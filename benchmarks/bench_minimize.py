"""curvopt.minimize against scipy.optimize.minimize, side by side in one run.

For each problem: wall-time ratio to scipy's trust-ncg with its exact Hessian-vector product
(measured in this run, minimum over repeats), iterations, gradient calls (every call counted by a
wrapper around the user's gradient, those inside finite-difference products included), products,
final f and ||g||, success. Python oracles first, then numba-jitted ones (curvopt runs its whole
loop compiled). The reference of the time ratios is always scipy's trust-ncg with the exact
product and plain numpy oracles (scipy.optimize.rosen, rosen_der, rosen_hess_prod for the chained
Rosenbrock, as in shared/REFERENCE.md); the numba tables also show scipy with the jitted oracles.

Run:  OMP_NUM_THREADS=1 python benchmarks/bench_minimize.py [--quick] [--sizes 2,100,1000,10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.optimize

import curvopt
from curvopt.testing import Counted, chained_rosenbrock, get_problem

GTOL = 1e-5


def timed(run, budget=0.3, max_repeats=50):
    """Minimum wall time over repeats (at least one, until `budget` seconds are spent)."""
    best, spent, repeats = np.inf, 0.0, 0
    while repeats < max_repeats and (repeats == 0 or spent < budget):
        start = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - start
        best, spent, repeats = min(best, elapsed), spent + elapsed, repeats + 1
    return best, result


def numpy_oracles(problem):
    """The problem's plain numpy functions; scipy's own for the chained Rosenbrock (as in REFERENCE.md)."""
    if problem.name.startswith("chained_rosenbrock"):
        return scipy.optimize.rosen, scipy.optimize.rosen_der, scipy.optimize.rosen_hess_prod
    return problem.fun, problem.jac, problem.hessp


def solvers(problem, oracle):
    """(label, run) pairs; each run returns (result, gradient calls, products).

    The first is the reference of the time ratios: scipy's trust-ncg with exact products and plain
    numpy oracles, whatever the oracles of the curvopt rows.
    """
    x0 = problem.x0
    maxiter = 200 * problem.n

    def scipy_run(method, use_hessp, functions):
        fun, jac, hessp = functions

        def run():
            g = Counted(jac)
            kwargs = {"hessp": hessp} if use_hessp else {}
            options = {"gtol": GTOL, "maxiter": maxiter} if method != "Newton-CG" else {"maxiter": maxiter}
            if method == "L-BFGS-B":
                options["maxfun"] = 20 * maxiter
            res = scipy.optimize.minimize(fun, x0, jac=g, method=method, options=options, **kwargs)
            return res, g.calls, res.get("nhev", 0)
        return run

    def curvopt_run(method, products):
        if oracle == "numba":
            fun, jac, hessp = problem.numba_fun, problem.numba_jac, problem.numba_hessp
        else:
            fun, jac, hessp = numpy_oracles(problem)

        def run():
            # numba oracles cannot be wrapped without leaving nopython mode: curvopt's own count
            g = jac if oracle == "numba" else Counted(jac)
            hp = hessp if products == "exact" else products
            res = curvopt.minimize(fun, x0, jac=g, hessp=hp, method=method,
                                   options={"gtol": GTOL, "maxiter": maxiter})
            calls = res.njev if oracle == "numba" else g.calls
            assert calls == res.njev, "curvopt's njev must count every gradient call"
            return res, calls, res.n_hvp
        return run

    rows = [("scipy trust-ncg (exact hessp)", scipy_run("trust-ncg", True, numpy_oracles(problem)))]
    if oracle == "numba":
        jitted = (problem.numba_fun, problem.numba_jac, problem.numba_hessp)
        rows.append(("scipy trust-ncg (exact, jitted oracles)", scipy_run("trust-ncg", True, jitted)))
    else:
        rows += [
            ("scipy Newton-CG (FD products)", scipy_run("Newton-CG", False, numpy_oracles(problem))),
            ("scipy L-BFGS-B", scipy_run("L-BFGS-B", False, numpy_oracles(problem))),
        ]
    rows += [
        ("curvopt trust-ncg (FD products)", curvopt_run("trust-ncg", "2-point")),
        ("curvopt trust-ncg (exact hessp)", curvopt_run("trust-ncg", "exact")),
        ("curvopt newton-cg (FD products)", curvopt_run("newton-cg", "2-point")),
        ("curvopt trust-krylov (FD products)", curvopt_run("trust-krylov", "2-point")),
    ]
    return rows


def table(problem, oracle, skip_slow):
    print(f"\n{problem.name} (n = {problem.n}), {oracle} oracles, gtol {GTOL:g}")
    header = (f"  {'solver':<36} {'time/scipy':>10} {'time [s]':>9} {'nit':>7} {'grad calls':>10} "
              f"{'products':>9} {'f':>10} {'||g||':>9}  success")
    print(header)
    reference_time = None
    for label, run in solvers(problem, oracle):
        if oracle == "numba" and label.startswith("curvopt") and "trust-ncg" not in label:
            continue  # only trust-ncg has a compiled path: the others are in the Python table
        if skip_slow and problem.n >= 10_000 and ("krylov" in label or "newton-cg" in label):
            continue
        budget = 0.0 if problem.n >= 10_000 else 0.3
        seconds, (res, calls, products) = timed(run, budget=budget)
        if reference_time is None:
            reference_time = seconds
        gnorm = float(np.linalg.norm(problem.jac(res.x)))
        print(f"  {label:<36} {seconds / reference_time:>10.3f} {seconds:>9.4f} {res.nit:>7d} {calls:>10d} "
              f"{products:>9d} {res.fun:>10.2e} {gnorm:>9.1e}  {bool(res.success)}", flush=True)


def _rosen2(x):
    a = x[1] - x[0] * x[0]
    b = 1.0 - x[0]
    return 100.0 * a * a + b * b


def _rosen2_der(x):
    a = x[1] - x[0] * x[0]
    return np.array([-400.0 * x[0] * a - 2.0 * (1.0 - x[0]), 200.0 * a])


def _rosen2_hessp(x, p):
    h00 = 1200.0 * x[0] * x[0] - 400.0 * x[1] + 2.0
    return np.array([h00 * p[0] - 400.0 * x[0] * p[1], -400.0 * x[0] * p[0] + 200.0 * p[1]])


def overhead_table():
    """Time per iteration spent in the solvers themselves: 2-D Rosenbrock with near-free oracles."""
    x0 = np.array([-1.2, 1.0])
    runs = [
        ("scipy trust-ncg (exact hessp)", lambda: scipy.optimize.minimize(
            _rosen2, x0, jac=_rosen2_der, hessp=_rosen2_hessp, method="trust-ncg", options={"gtol": GTOL})),
        ("curvopt trust-ncg (exact hessp)", lambda: curvopt.minimize(
            _rosen2, x0, jac=_rosen2_der, hessp=_rosen2_hessp, options={"gtol": GTOL})),
        ("curvopt trust-ncg (FD products)", lambda: curvopt.minimize(
            _rosen2, x0, jac=_rosen2_der, options={"gtol": GTOL})),
        ("scipy Newton-CG (exact hessp)", lambda: scipy.optimize.minimize(
            _rosen2, x0, jac=_rosen2_der, hessp=_rosen2_hessp, method="Newton-CG")),
        ("curvopt newton-cg (exact hessp)", lambda: curvopt.minimize(
            _rosen2, x0, jac=_rosen2_der, hessp=_rosen2_hessp, method="newton-cg", options={"gtol": GTOL})),
    ]
    print("\nSolver overhead: 2-D Rosenbrock, hand-written oracles (about 1 us per call)")
    print(f"  {'solver':<36} {'time/scipy':>10} {'us/iteration':>12} {'nit':>5} {'grad calls':>10}")
    reference = None
    for label, run in runs:
        seconds, res = timed(run, budget=0.5, max_repeats=2000)
        reference = reference or seconds
        print(f"  {label:<36} {seconds / reference:>10.3f} {seconds / res.nit * 1e6:>12.1f} {res.nit:>5d} "
              f"{res.njev:>10d}", flush=True)


def compile_time():
    """First-call time of the compiled path in this process (cache on disk may make it short)."""
    problem = chained_rosenbrock(2)
    start = time.perf_counter()
    curvopt.minimize(problem.numba_fun, problem.x0, jac=problem.numba_jac)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,100,1000,10000", help="chained Rosenbrock dimensions")
    parser.add_argument("--quick", action="store_true", help="skip the slowest solvers at n = 10^4")
    args = parser.parse_args()
    print(f"curvopt {curvopt.__version__}, scipy {scipy.__version__}, numpy {np.__version__}")
    print(f"first call of the compiled path (compile or load from cache): {compile_time():.2f} s")
    overhead_table()
    sizes = [int(s) for s in args.sizes.split(",")]
    problems = [chained_rosenbrock(n) for n in sizes]
    problems += [get_problem(name) for name in ("helical_valley", "wood", "powell_singular")]
    problems += [get_problem("extended_powell", 1000), get_problem("broyden_tridiagonal", 1000),
                 get_problem("ill_conditioned_quadratic", 1000)]
    for oracle in ("python", "numba"):
        for problem in problems:
            if oracle == "numba" and problem.numba_fun is None:
                continue
            table(problem, oracle, args.quick)


if __name__ == "__main__":
    main()
