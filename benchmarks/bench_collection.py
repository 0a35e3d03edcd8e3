"""Every problem of curvopt.testing, curvopt's methods beside scipy's, in one run.

For each problem and solver: success (the stopping test really holds), whether the end point is a
known minimum of the problem, gradient calls (every call counted by a wrapper around the gradient,
those inside finite-difference products included) and Hessian-vector products. A summary gives,
per solver, the problems solved and the median gradient calls over the problems every solver
solved.

Run:  OMP_NUM_THREADS=1 python benchmarks/bench_collection.py [--gtol 1e-6] [--max-n 1000]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import scipy.optimize

import curvopt
from curvopt.testing import Counted, problems


def solvers(gtol):
    def scipy_solver(method, exact):
        def run(p):
            jac = Counted(p.jac)
            kwargs = {"hessp": p.hessp} if exact else {}
            options = {"gtol": gtol, "maxiter": 20_000}
            if method == "L-BFGS-B":
                options["maxfun"] = 200_000
            res = scipy.optimize.minimize(p.fun, p.x0, jac=jac, method=method, options=options, **kwargs)
            return res, jac.calls, res.get("nhev", 0)
        return run

    def curvopt_solver(method, exact):
        def run(p):
            jac = Counted(p.jac)
            res = curvopt.minimize(p.fun, p.x0, jac=jac, hessp=p.hessp if exact else None, method=method,
                                   options={"gtol": gtol, "maxiter": 20_000})
            assert res.njev == jac.calls
            return res, jac.calls, res.n_hvp
        return run

    return {
        "scipy L-BFGS-B": scipy_solver("L-BFGS-B", False),
        "scipy trust-ncg (exact)": scipy_solver("trust-ncg", True),
        "scipy trust-krylov (exact)": scipy_solver("trust-krylov", True),
        "curvopt trust-ncg (exact)": curvopt_solver("trust-ncg", True),
        "curvopt trust-krylov (exact)": curvopt_solver("trust-krylov", True),
        "curvopt trust-ncg (FD)": curvopt_solver("trust-ncg", False),
        "curvopt trust-krylov (FD)": curvopt_solver("trust-krylov", False),
        "curvopt newton-cg (FD)": curvopt_solver("newton-cg", False),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gtol", type=float, default=1e-6)
    parser.add_argument("--max-n", type=int, default=1000)
    args = parser.parse_args()
    runs = solvers(args.gtol)
    names = list(runs)
    calls = {name: {} for name in names}
    solved = {name: 0 for name in names}
    false_success = {name: 0 for name in names}
    width = max(map(len, names))
    print(f"gtol {args.gtol:g} on ||g||_2 (L-BFGS-B: on the projected gradient's inf-norm, its own test)")
    print("cells: gradient calls / products; * = not a known minimum, - = failed\n")
    print(f"{'problem':<32}" + "".join(f" {n[:22]:>22}" for n in names))
    test_problems = [p for p in problems() if p.n <= args.max_n]
    for p in test_problems:
        cells = []
        for name in names:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res, ncalls, nprod = runs[name](p)
            known = p.is_solution(res.x, p.fun(res.x))
            if res.success and not known and np.linalg.norm(p.jac(res.x)) > 10 * args.gtol:
                false_success[name] += 1
            if res.success and known:
                solved[name] += 1
                calls[name][p.name] = ncalls
                cells.append(f"{ncalls}/{nprod}")
            elif res.success:
                cells.append(f"{ncalls}/{nprod}*")
            else:
                cells.append("-")
        print(f"{p.name:<32}" + "".join(f" {c:>22}" for c in cells), flush=True)
    common = set.intersection(*(set(c) for c in calls.values()))
    print(f"\n{'solver':<{width}}  solved (of {len(test_problems)})  median grad calls on the {len(common)} "
          "problems all solved   false successes")
    for name in names:
        median = np.median([calls[name][q] for q in common]) if common else float("nan")
        print(f"{name:<{width}}  {solved[name]:>6}  {median:>12.0f}  {false_success[name]:>10}")


if __name__ == "__main__":
    main()
