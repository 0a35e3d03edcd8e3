"""Gradient calls to convergence, side by side: curvopt's trust-lbfgs against L-BFGS-B, ASE and trust-ncg.

Where one gradient costs minutes, gradient calls are the figure that matters.  One run, same starts,
same stopping test for every solver:

1. chained Rosenbrock n = 1000 (scipy.optimize.rosen) from (-1.2, 1, ...): ||g||_2 <= 1e-5 for the
   curvopt methods; L-BFGS-B with gtol 1e-5 on its own projected-gradient inf-norm test (as in
   REFERENCE.md: its 5784 calls), ftol 0 so that it does not stop on a small f decrease;
2. the collection (`curvopt.testing.problems()`, n <= --max-n): ||g||_2 <= 1e-6 (L-BFGS-B: its own
   inf-norm test 1e-6, ftol 0); per problem and the median over the problems every solver solved;
   a success at a point that is not a known minimum with ||g|| > 10 gtol counts as a false success;
3. Lennard-Jones LJ13 / LJ38 / LJ75 (ASE LennardJones(epsilon=1, sigma=1, rc=10), starts as in
   shared/REFERENCE.md): converged when the largest per-atom force norm (ASE's fmax) < 1e-3.
   trust-lbfgs takes that measure as its option `measure` (so it stops, and runs the curvature
   check, exactly there); L-BFGS-B and trust-ncg are stopped by a wrapper around the calculator that
   raises when the forces it just returned meet the test (the call is counted); ASE BFGS and LBFGS
   use fmax = 1e-3.  A force call is one calculator call (energy and forces come together: all
   solvers get ``jac=True``).  The curvature check of trust-lbfgs at the end (verify=True: the
   full finite-difference Hessian for n <= 40, otherwise 40 Lanczos products) is shown separately:
   'calls' is to convergence, '+check' what the check added.

Columns: gradient calls (njev, every finite-difference product included); for trust-lbfgs also the
value-only calls of rejected trial points (nfev - njev, in brackets) on the analytic problems, where
value and gradient are separate functions.

Run:  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_efficiency.py [--max-n 1000] [--skip-rosenbrock]
"""

from __future__ import annotations

import argparse
import os
import warnings

import numpy as np
import scipy.optimize

import curvopt
from curvopt._rigid import rigid_body_basis
from curvopt.testing import Counted, problems

TRUST_LBFGS = {"memory": 10}


# ---------------------------------------------------------------- analytic problems
def run_lbfgsb(fun, jac, x0, gtol):
    g = Counted(jac)
    res = scipy.optimize.minimize(fun, x0, jac=g, method="L-BFGS-B",
                                  options={"gtol": gtol, "ftol": 0.0, "maxiter": 200_000, "maxfun": 200_000})
    return res, g.calls, res.nfev


def run_curvopt(method, fun, jac, x0, gtol, **options):
    g = Counted(jac)
    res = curvopt.minimize(fun, x0, jac=g, method=method,
                           options={"gtol": gtol, "maxiter": 200_000, "verify": False, **options})
    assert res.njev == g.calls
    return res, g.calls, res.nfev


def rosenbrock_table(args):
    from scipy.optimize import rosen, rosen_der

    x0 = np.tile([-1.2, 1.0], 500)
    print("Chained Rosenbrock n = 1000 from (-1.2, 1, ...), gtol 1e-5")
    print(f"{'solver':<28} {'grad calls':>10} {'f calls':>8} {'success':>8} {'final f':>10}")
    rows = [("scipy L-BFGS-B", run_lbfgsb(rosen, rosen_der, x0, 1e-5)),
            ("curvopt trust-lbfgs", run_curvopt("trust-lbfgs", rosen, rosen_der, x0, 1e-5, **TRUST_LBFGS))]
    if not args.quick:
        rows.append(("curvopt trust-ncg (FD)", run_curvopt("trust-ncg", rosen, rosen_der, x0, 1e-5)))
    for name, (res, calls, nfev) in rows:
        print(f"{name:<28} {calls:>10d} {nfev:>8d} {str(bool(res.success)):>8} {res.fun:>10.2e}", flush=True)
    print()


def collection_table(args):
    gtol = 1e-6
    test_problems = [p for p in problems() if p.n <= args.max_n]
    solvers = {
        "L-BFGS-B": lambda p: run_lbfgsb(p.fun, p.jac, p.x0, gtol),
        "trust-lbfgs": lambda p: run_curvopt("trust-lbfgs", p.fun, p.jac, p.x0, gtol, **TRUST_LBFGS),
        "trust-ncg (FD)": lambda p: run_curvopt("trust-ncg", p.fun, p.jac, p.x0, gtol),
    }
    names = list(solvers)
    calls = {name: {} for name in names}
    false = {name: 0 for name in names}
    print(f"The collection, n <= {args.max_n}, gtol {gtol:g}: gradient calls (trust-lbfgs: [+ value-only calls]); "
          "* = success not at a known minimum, - = failed")
    print(f"{'problem':<34}" + "".join(f" {n:>18}" for n in names))
    for p in test_problems:
        cells = []
        for name in names:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res, ncalls, nfev = solvers[name](p)
            known = p.is_solution(res.x, p.fun(res.x))
            extra = f" [+{nfev - ncalls}]" if name == "trust-lbfgs" else ""
            if res.success and not known and np.linalg.norm(p.jac(res.x)) > 10 * gtol:
                false[name] += 1
            if res.success and known:
                calls[name][p.name] = ncalls
                cells.append(f"{ncalls}{extra}")
            elif res.success:
                cells.append(f"{ncalls}*")
            else:
                cells.append("-")
        print(f"{p.name:<34}" + "".join(f" {c:>18}" for c in cells), flush=True)
    common = set.intersection(*(set(c) for c in calls.values()))
    print(f"\n{'solver':<16} {'solved':>6}  median grad calls over the {len(common)} problems all solved  "
          "false successes")
    for name in names:
        median = np.median([calls[name][q] for q in common]) if common else float("nan")
        print(f"{name:<16} {len(calls[name]):>6}  {median:>10.1f}  {false[name]:>10}")
    print()


# ---------------------------------------------------------------- Lennard-Jones
FMAX = 1e-3


def lj13():
    from ase.cluster import Icosahedron

    atoms = Icosahedron("Ar", noshells=2, latticeconstant=2 ** (1 / 6) * np.sqrt(2))
    atoms.center()
    atoms.positions += np.random.default_rng(0).normal(0, 0.1, (13, 3))
    return atoms


def sphere_cluster(n):
    from ase import Atoms

    radius = (3 * n / (4 * np.pi)) ** (1 / 3)
    rng = np.random.default_rng(0)
    points = []
    while len(points) < n:
        p = rng.uniform(-radius, radius, 3)
        if np.linalg.norm(p) > radius or any(np.linalg.norm(p - q) < 0.8 for q in points):
            continue
        points.append(p)
    return Atoms(f"Ar{n}", positions=np.array(points))


def lj_calculator():
    from ase.calculators.lj import LennardJones

    return LennardJones(epsilon=1.0, sigma=1.0, rc=10.0)


def fmax(g):
    return float(np.max(np.linalg.norm(np.reshape(g, (-1, 3)), axis=1)))


class Converged(Exception):
    pass


class Energy:
    """Energy and gradient of a cluster from one calculator call, counted; optionally raises
    `Converged` when the forces just returned meet the fmax test (for solvers without that test)."""

    def __init__(self, atoms, stop=False):
        self.atoms = atoms.copy()
        self.atoms.calc = lj_calculator()
        self.calls = 0
        self.stop = stop
        self.last = None

    def __call__(self, x):
        self.calls += 1
        self.atoms.positions = np.reshape(x, (-1, 3))
        e = float(self.atoms.get_potential_energy())
        g = -self.atoms.get_forces().ravel()
        if self.stop and fmax(g) < FMAX:
            if self.last is None:  # the first call that met the test
                self.last = (np.array(x, copy=True), e, self.calls)
            raise Converged
        return e, g


def lj_lbfgsb(atoms):
    energy = Energy(atoms, stop=True)
    try:
        res = scipy.optimize.minimize(energy, atoms.positions.ravel(), jac=True, method="L-BFGS-B",
                                      options={"gtol": 0.0, "ftol": 0.0, "maxiter": 5000, "maxfun": 5000})
        return energy.calls, res.fun, False, ""
    except Converged:
        return energy.calls, energy.last[1], True, ""


def lj_trust_ncg(atoms):
    energy = Energy(atoms, stop=True)
    # curvopt turns an exception of the user's function into a failed trial point: the run goes on
    # for a few rejected trials after `Converged`; the count is that of the first converged call
    res = curvopt.minimize(energy, atoms.positions.ravel(), jac=True, method="trust-ncg",
                           options={"gtol": 0.0, "maxiter": 5000, "verify": False, "max_grad_calls": 5000})
    if energy.last is not None:
        return energy.last[2], energy.last[1], True, ""
    return energy.calls, res.fun, False, ""


# the options curvopt.chem.TrustNewton gives trust-lbfgs on clusters (ASE LBFGS's memory, a 0.7 first step)
TRUST_NEWTON = {"memory": 100, "initial_trust_radius": 0.7}


def lj_trust_lbfgs(atoms, options=None):
    options = TRUST_LBFGS if options is None else options
    energy = Energy(atoms)
    res = curvopt.minimize(energy, atoms.positions.ravel(), jac=True, method="trust-lbfgs",
                           options={"gtol": FMAX, "measure": fmax, "verify": False, **options})
    calls = energy.calls
    # the curvature check at the end, counted apart: verify=True at the converged point
    # with the rigid-body translations and rotations (exact zero modes) left out of the check
    check = curvopt.minimize(energy, res.x, jac=True, method="trust-lbfgs",
                             options={"gtol": FMAX, "measure": fmax, "verify": True,
                                      "deflate": lambda x: rigid_body_basis(x.reshape(-1, 3))[0], **options})
    note = f"+{energy.calls - calls - 1} check: min curvature {check.get('min_curvature', np.nan):.1e}, " \
           f"local min {check.get('is_local_minimum')}"
    return calls, res.fun, bool(res.success and fmax(res.jac) < FMAX), note


def lj_ase(atoms, optimizer):
    from ase import optimize

    a = atoms.copy()
    a.calc = lj_calculator()
    counter = {"calls": 0}
    original = a.calc.calculate

    def counted(*args, **kwargs):
        counter["calls"] += 1
        return original(*args, **kwargs)

    a.calc.calculate = counted
    opt = getattr(optimize, optimizer)(a, logfile=None)
    converged = opt.run(fmax=FMAX, steps=5000)
    return counter["calls"], a.get_potential_energy(), bool(converged), ""


def lj_table(args):
    clusters = {"LJ13": lj13(), "LJ38": sphere_cluster(38), "LJ75": sphere_cluster(75)}
    solvers = {
        "scipy L-BFGS-B": lj_lbfgsb,
        "ASE BFGS": lambda a: lj_ase(a, "BFGS"),
        "ASE LBFGS": lambda a: lj_ase(a, "LBFGS"),
        "curvopt trust-ncg (FD)": lj_trust_ncg,
        "curvopt trust-lbfgs": lj_trust_lbfgs,
        "trust-lbfgs (TrustNewton)": lambda a: lj_trust_lbfgs(a, TRUST_NEWTON),
    }
    print(f"Lennard-Jones clusters: force calls to fmax < {FMAX:g} (final energy); trust-lbfgs: + its curvature check")
    for cluster, atoms in clusters.items():
        for name, solver in solvers.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                calls, energy, ok, note = solver(atoms)
            print(f"{cluster:<5} {name:<24} {calls:>6d} {'ok' if ok else 'FAILED':>6} E = {energy:.4f}  {note}",
                  flush=True)
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=1000)
    parser.add_argument("--memory", type=int, default=TRUST_LBFGS["memory"])
    parser.add_argument("--skip-rosenbrock", action="store_true")
    parser.add_argument("--quick", action="store_true", help="leave out trust-ncg on the Rosenbrock")
    parser.add_argument("--only", choices=("rosenbrock", "collection", "lj"))
    args = parser.parse_args()
    TRUST_LBFGS["memory"] = args.memory
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, trust-lbfgs options {TRUST_LBFGS}\n")
    if args.only in (None, "rosenbrock") and not args.skip_rosenbrock:
        rosenbrock_table(args)
    if args.only in (None, "collection"):
        collection_table(args)
    if args.only in (None, "lj"):
        lj_table(args)


if __name__ == "__main__":
    main()
