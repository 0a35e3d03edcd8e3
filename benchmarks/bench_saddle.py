"""Gradient calls to a saddle point: curvopt.saddle.find_saddle side by side with Sella.

Problems (those of Sella's papers and README):

* Müller-Brown, from (-0.70, 0.60) and from (0.15, 0.35) (order-1 saddles
  (-0.82200, 0.62431) and (0.21249, 0.29299));
* Lennard-Jones LJ7 (epsilon = sigma = 1): the relaxed pentagonal bipyramid
  plus ``numpy.random.default_rng(0).normal(0, 0.1, 21)`` (the reference
  start), and, with ``--seeds N``, N more starts of the same kind;
* with ASE installed, Sella's README example: a Cu adatom at the bridge site
  of Cu(111) (fcc111 5x5x6, bottom three layers fixed: 228 free coordinates),
  with ASE's EMT.

Counts are gradient calls (energy and forces come together, ``jac=True``; for
curvopt every call inside a finite-difference Hessian-vector product is
counted, and so is the final order check).  Convergence: Sella stops when
every free atom's force norm is below ``fmax``; curvopt is given the same
test through its ``measure`` option (the largest per-atom norm of the
gradient; the Euclidean norm for the 2-D Müller-Brown, Sella's one atom
moving in a plane) with ``gtol = fmax``.

Sella is run only when ``import sella`` works (``pip install sella``; it is
not a dependency of curvopt); its published counts are quoted alongside
(Müller-Brown 10 and 9, LJ7 48, Cu adatom 26; the ASE dimer method needs
about 640 on LJ7).

Usage::

    python benchmarks/bench_saddle.py [--fmax 1e-3] [--seeds 20] [--no-sella] [--no-cu]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curvopt.saddle import find_saddle, rigid_body_modes  # noqa: E402
from curvopt.testing.potentials import lennard_jones, lj7_minimum, muller_brown  # noqa: E402

PUBLISHED = {"Müller-Brown (-0.70, 0.60)": 10, "Müller-Brown (0.15, 0.35)": 9, "LJ7 reference start": 48,
             "Cu adatom, Cu(111) bridge (EMT)": 26}

# ---------------------------------------------------------------- problems
def atom_fmax(g):
    """ASE's convergence measure: the largest per-atom norm of the gradient."""
    return float(np.max(np.linalg.norm(g.reshape(-1, 3), axis=1)))


def order_check_lj(x):
    """Negative eigenvalues of the central-difference Hessian after projecting the rigid modes."""
    n = x.size
    H = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = 1e-5
        H[:, i] = (lennard_jones(x + e)[1] - lennard_jones(x - e)[1]) / 2e-5
    D = rigid_body_modes(x)
    Q = np.linalg.qr(np.hstack([D, np.eye(n)]))[0][:, D.shape[1]:]
    return int(np.count_nonzero(np.linalg.eigvalsh(Q.T @ (0.5 * (H + H.T)) @ Q) < 0))


# ---------------------------------------------------------------- Sella through ASE
def sella_available():
    try:
        import sella  # noqa: F401
    except Exception:
        return False
    return True


def _counting_calculator(energy_and_gradient):
    from ase.calculators.calculator import Calculator, all_changes

    class Counting(Calculator):
        implemented_properties = ["energy", "forces"]

        def __init__(self):
            super().__init__()
            self.calls = 0

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            self.calls += 1
            e, g = energy_and_gradient(atoms.positions.reshape(-1))
            self.results = dict(energy=e, forces=-g.reshape(-1, 3))

    return Counting()


def sella_muller_brown(start, fmax):
    from ase import Atoms
    from sella import Constraints, Sella

    def mb3(x):
        e, g = muller_brown(x[:2])
        return e, np.array([g[0], g[1], 0.0])

    atoms = Atoms("H", positions=[[start[0], start[1], 0.0]])
    atoms.calc = calc = _counting_calculator(mb3)
    cons = Constraints(atoms)
    cons.fix_translation(0, dim=2)  # one atom moving in x, y
    dyn = Sella(atoms, order=1, internal=False, logfile=None, constraints=cons, proj_trans=False, proj_rot=False)
    ok = dyn.run(fmax=fmax, steps=500)
    return calc.calls, bool(ok)


def sella_lj(x0, fmax):
    from ase import Atoms
    from sella import Sella

    atoms = Atoms(f"Ar{x0.size // 3}", positions=x0.reshape(-1, 3))
    atoms.calc = calc = _counting_calculator(lennard_jones)
    dyn = Sella(atoms, order=1, internal=False, logfile=None)
    ok = dyn.run(fmax=fmax, steps=1000)
    return calc.calls, bool(ok), atoms.positions.reshape(-1).copy()


def sella_cu(fmax):
    from ase.calculators.emt import EMT
    from curvopt.chem.systems import cu_adatom_slab
    from sella import Constraints, Sella

    slab, free = cu_adatom_slab()
    cons = Constraints(slab)
    for i in np.flatnonzero(~free):
        cons.fix_translation(int(i))
    emt = EMT()
    calls = [0]
    original = emt.calculate

    def counted(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    emt.calculate = counted
    slab.calc = emt
    dyn = Sella(slab, constraints=cons, logfile=None)
    ok = dyn.run(fmax, 1000)
    return calls[0], bool(ok)


def curvopt_cu(fmax):
    from ase.calculators.emt import EMT
    from curvopt.chem.systems import cu_adatom_slab

    slab, free = cu_adatom_slab()
    slab.calc = EMT()
    positions = slab.positions.copy()

    def energy_and_gradient(x):
        p = positions.copy()
        p[free] = x.reshape(-1, 3)
        slab.positions = p
        return float(slab.get_potential_energy()), -slab.get_forces()[free].reshape(-1)

    x0 = positions[free].reshape(-1)
    return find_saddle(energy_and_gradient, x0, jac=True,
                       options=dict(gtol=fmax, measure=atom_fmax, trust_norm="atoms"))


# ---------------------------------------------------------------- the table
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fmax", type=float, default=1e-3, help="Sella's force threshold (default: its README's 1e-3)")
    parser.add_argument("--seeds", type=int, default=0, help="also run LJ7 from this many more noisy starts")
    parser.add_argument("--no-sella", action="store_true", help="do not run Sella even if installed")
    parser.add_argument("--no-cu", action="store_true", help="skip the Cu adatom (EMT) problem")
    args = parser.parse_args(argv)
    fmax = args.fmax
    run_sella = not args.no_sella and sella_available()
    if not run_sella:
        print("Sella not run (not installed, or --no-sella): its published counts are shown.\n")
    warnings.simplefilter("ignore")  # Sella's own LinAlgWarnings

    rows = []

    def row(name, res, ok_order, sella=None):
        rows.append((name, res.njev, res.nit, res.n_hvp, bool(res.success and ok_order), sella, PUBLISHED.get(name)))

    for start in ((-0.70, 0.60), (0.15, 0.35)):
        res = find_saddle(muller_brown, start, jac=True, options=dict(gtol=fmax, measure=np.linalg.norm))
        sella = sella_muller_brown(start, fmax) if run_sella else None
        row(f"Müller-Brown ({start[0]:.2f}, {start[1]:.2f})", res, res.order_found == 1, sella)

    xmin = lj7_minimum()
    lj_options = dict(gtol=fmax, measure=atom_fmax, deflate="rigid-body", trust_norm="atoms")
    x0 = xmin + np.random.default_rng(0).normal(0, 0.1, xmin.shape)
    res = find_saddle(lennard_jones, x0, jac=True, options=lj_options)
    sella = sella_lj(x0, fmax)[:2] if run_sella else None
    row("LJ7 reference start", res, order_check_lj(res.x) == 1, sella)

    if not args.no_cu:
        try:
            import ase  # noqa: F401
        except ImportError:
            print("ASE not installed: the Cu adatom problem is skipped.")
        else:
            t0 = time.perf_counter()
            res = curvopt_cu(fmax)
            t1 = time.perf_counter()
            sella = sella_cu(fmax) if run_sella else None
            t2 = time.perf_counter()
            row("Cu adatom, Cu(111) bridge (EMT)", res, res.order_found == 1, sella)
            print(f"(Cu adatom: curvopt {t1 - t0:.1f} s, Sella {t2 - t1:.1f} s of wall time, EMT included)\n")

    head = f"{'problem':34s} {'curvopt':>8s} {'steps':>6s} {'products':>9s} {'ok':>3s} {'Sella':>7s} {'ok':>3s} {'published':>10s}"
    print(f"Gradient calls to converge (fmax = {fmax:g}, the same test for both)\n")
    print(head)
    print("-" * len(head))
    for name, calls, nit, nhvp, ok, sella, published in rows:
        s_calls, s_ok = ("-", "") if sella is None else (str(sella[0]), "yes" if sella[1] else "NO")
        pub = "-" if published is None else str(published)
        print(f"{name:34s} {calls:8d} {nit:6d} {nhvp:9d} {'yes' if ok else 'NO':>3s} {s_calls:>7s} {s_ok:>3s} {pub:>10s}")

    if args.seeds:
        ours, theirs, our_fail, their_fail = [], [], 0, 0
        for seed in range(1, args.seeds + 1):
            x0 = xmin + np.random.default_rng(seed).normal(0, 0.1, xmin.shape)
            res = find_saddle(lennard_jones, x0, jac=True, options=dict(lj_options, max_grad_calls=1000))
            ours.append(res.njev)
            our_fail += not (res.success and order_check_lj(res.x) == 1)
            if run_sella:
                calls, ok, x = sella_lj(x0, fmax)
                theirs.append(calls)
                their_fail += not (ok and order_check_lj(x) == 1)
        print(f"\nLJ7 from {args.seeds} more starts (noise 0.1, seeds 1..{args.seeds}):")
        print(f"  curvopt: total {sum(ours)}, median {int(np.median(ours))}, failures {our_fail}")
        if run_sella:
            print(f"  Sella:   total {sum(theirs)}, median {int(np.median(theirs))}, failures {their_fail}")
    return rows


if __name__ == "__main__":
    main()
