"""curvopt.chem.TrustNewton and TransitionState: ASE optimizers on curvopt's solvers.

References are independent of curvopt: ASE's own BFGS on the same start (force calls counted by
wrapping the calculator), known minima, ASE's log format and trajectory reader, explicit
central-difference Hessians diagonalized by numpy, and ASE's BFGS relaxations from either side of a
transition state.
"""

import io
import re
import threading

import numpy as np
import pytest

pytest.importorskip("ase")

from ase import Atoms  # noqa: E402
from ase.calculators.calculator import Calculator, all_changes  # noqa: E402
from ase.calculators.emt import EMT  # noqa: E402
from ase.calculators.lj import LennardJones  # noqa: E402
from ase.constraints import FixAtoms, FixBondLength  # noqa: E402
from ase.optimize import BFGS  # noqa: E402

from curvopt.chem import TransitionState, TrustNewton  # noqa: E402
from curvopt.chem.systems import cu_adatom_slab, lj13_start  # noqa: E402
from curvopt.testing.potentials import lj7_minimum  # noqa: E402

FMAX = 1e-3
LJ13_MINIMUM = -44.326801  # the Mackay icosahedron, untruncated Lennard-Jones (Wales & Doye 1997)


def lj():
    return LennardJones(epsilon=1.0, sigma=1.0, rc=10.0)


def count_calls(atoms):
    """Count the calculator's real computations by wrapping its `calculate` (a list, [calls])."""
    calls = [0]
    original = atoms.calc.calculate

    def counted(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    atoms.calc.calculate = counted
    return calls


def fmax_of(atoms):
    return float(np.max(np.linalg.norm(atoms.get_forces(), axis=1)))


def untruncated_lj_energy(atoms):
    a = atoms.copy()
    a.calc = LennardJones(epsilon=1.0, sigma=1.0, rc=1e4)  # the cut-off shift is ~1e-48 there
    return a.get_potential_energy()


def solver_threads():
    return [t for t in threading.enumerate() if t.name == "curvopt-solver" and t.is_alive()]


def central_hessian(atoms, free=None, h=1e-4):
    """The Hessian of the free coordinates by central differences of the calculator's forces."""
    a = atoms.copy()
    a.calc = atoms.calc
    x0 = a.positions.reshape(-1).copy()
    free = np.arange(x0.size) if free is None else free
    H = np.empty((free.size, free.size))
    for j, i in enumerate(free):
        cols = []
        for sign in (1, -1):
            x = x0.copy()
            x[i] += sign * h
            a.positions = x.reshape(-1, 3)
            cols.append(-a.get_forces().reshape(-1)[free])
        H[:, j] = (cols[0] - cols[1]) / (2 * h)
    return 0.5 * (H + H.T)


# --------------------------------------------------------------------------- TrustNewton
@pytest.fixture(scope="module")
def lj13_bfgs():
    atoms = lj13_start()
    atoms.calc = lj()
    calls = count_calls(atoms)
    assert BFGS(atoms, logfile=None).run(fmax=FMAX, steps=1000)
    return calls[0], atoms


def test_trust_newton_lj13_beats_ase_bfgs(lj13_bfgs):
    bfgs_calls, bfgs_atoms = lj13_bfgs
    atoms = lj13_start()
    atoms.calc = lj()
    calls = count_calls(atoms)
    opt = TrustNewton(atoms, logfile=None)
    assert opt.run(fmax=FMAX) is True
    assert fmax_of(atoms) < FMAX
    assert opt.n_force_calls == calls[0]
    assert calls[0] <= bfgs_calls, (calls[0], bfgs_calls)
    atoms.get_forces()
    assert calls[0] == opt.n_force_calls  # the calculator was left at the final point
    assert untruncated_lj_energy(atoms) == pytest.approx(LJ13_MINIMUM, abs=1e-5)
    assert atoms.get_potential_energy() == pytest.approx(bfgs_atoms.get_potential_energy(), abs=1e-5)
    assert opt.result.success and opt.result.status == 0
    np.testing.assert_array_equal(opt.result.x, atoms.positions.reshape(-1))
    assert not solver_threads()


def test_log_trajectory_observers_like_ase(tmp_path):
    atoms = lj13_start()
    atoms.calc = lj()
    log = io.StringIO()
    traj = tmp_path / "opt.traj"
    opt = TrustNewton(atoms, logfile=log, trajectory=str(traj))
    seen = []
    opt.attach(lambda: seen.append((opt.nsteps, atoms.get_potential_energy())))
    yields = list(opt.irun(fmax=FMAX))
    assert yields[-1] is True and not any(yields[:-1])
    assert len(yields) == opt.nsteps + 1
    assert [s for s, _ in seen] == list(range(opt.nsteps + 1))  # step 0 too, as ASE's BFGS

    # the same log format as ASE's BFGS writes
    ref = io.StringIO()
    ref_atoms = lj13_start()
    ref_atoms.calc = lj()
    BFGS(ref_atoms, logfile=ref).run(fmax=FMAX, steps=2)
    assert log.getvalue().splitlines()[0] == ref.getvalue().splitlines()[0].replace(" " * 4, " " * 11, 1)
    line = r"^{}:\s+(\d+) \d\d:\d\d:\d\d\s+(-?\d+\.\d{{6}})\s+(\d+\.\d{{6}})$"
    assert all(re.match(line.format("BFGS"), row) for row in ref.getvalue().splitlines()[1:])  # the pattern is ASE's
    pattern = re.compile(line.format("TrustNewton"))
    rows = [pattern.match(row) for row in log.getvalue().splitlines()[1:]]
    assert all(rows), log.getvalue()
    steps = [int(m.group(1)) for m in rows]
    assert steps == list(range(opt.nsteps + 1))
    assert float(rows[-1].group(3)) < FMAX
    np.testing.assert_allclose([float(m.group(2)) for m in rows], [e for _, e in seen], atol=1e-6)

    from ase.io import read

    images = read(str(traj), ":")
    assert len(images) == opt.nsteps + 1
    np.testing.assert_allclose(images[-1].positions, atoms.positions)
    np.testing.assert_allclose([im.get_potential_energy() for im in images], [e for _, e in seen])
    assert opt.todict()["optimizer"] == "TrustNewton"


def test_steps_limit_then_continue():
    atoms = lj13_start()
    atoms.calc = lj()
    opt = TrustNewton(atoms, logfile=None)
    assert opt.run(fmax=FMAX, steps=3) is False
    assert opt.nsteps == 3
    assert not solver_threads()  # the solver was stopped, not left waiting
    assert opt.result is not None and not opt.result.success
    assert fmax_of(atoms) >= FMAX
    assert opt.run(fmax=FMAX) is True
    assert fmax_of(atoms) < FMAX
    calls, nsteps = opt.n_force_calls, opt.nsteps
    assert opt.run(fmax=FMAX) is True  # already converged: no step, no call
    assert (opt.n_force_calls, opt.nsteps) == (calls, nsteps)


def test_irun_closed_early_and_errors_stop_the_solver():
    atoms = lj13_start()
    atoms.calc = lj()
    opt = TrustNewton(atoms, logfile=None)
    gen = opt.irun(fmax=FMAX)
    next(gen), next(gen)
    assert len(solver_threads()) == 1
    gen.close()
    assert not solver_threads()

    opt2 = TrustNewton(atoms, logfile=None)

    def boom():
        if opt2.nsteps == 2:
            raise RuntimeError("observer failed")

    opt2.attach(boom)
    with pytest.raises(RuntimeError, match="observer failed"):
        opt2.run(fmax=FMAX)
    assert not solver_threads()


def test_garbage_collection_stops_the_solver():
    import gc

    atoms = lj13_start()
    atoms.calc = lj()
    opt = TrustNewton(atoms, logfile=None)
    with pytest.raises(RuntimeError, match="call run"):
        opt.step()  # no fmax yet
    opt.fmax = FMAX
    opt.step()
    assert len(solver_threads()) == 1
    del opt
    gc.collect()
    for _ in range(100):
        if not solver_threads():
            break
        threading.Event().wait(0.01)
    assert not solver_threads()


def test_fixed_atoms_do_not_move():
    atoms = lj13_start()
    fixed = [0, 3, 7]
    atoms.set_constraint(FixAtoms(indices=fixed))
    atoms.calc = lj()
    start = atoms.positions.copy()
    calls = count_calls(atoms)
    opt = TrustNewton(atoms, logfile=None)
    assert opt.run(fmax=FMAX)
    np.testing.assert_array_equal(atoms.positions[fixed], start[fixed])
    assert opt.n_force_calls == calls[0]
    free = np.setdiff1d(np.arange(13), fixed)
    raw = atoms.get_forces(apply_constraint=False)
    assert np.max(np.linalg.norm(raw[free], axis=1)) < FMAX
    assert opt.result.x.size == 3 * free.size
    # the same constrained problem relaxed by ASE's BFGS ends at the same energy
    ref = lj13_start()
    ref.set_constraint(FixAtoms(indices=fixed))
    ref.calc = lj()
    BFGS(ref, logfile=None).run(fmax=1e-5)
    assert atoms.get_potential_energy() == pytest.approx(ref.get_potential_energy(), abs=1e-5)


def test_fixed_cartesian_components_do_not_move():
    from ase.constraints import FixCartesian

    atoms = lj13_start()
    atoms.set_constraint(FixCartesian([0, 5], mask=(False, False, True)))  # z of atoms 0 and 5 fixed
    atoms.calc = lj()
    start = atoms.positions.copy()
    opt = TrustNewton(atoms, logfile=None)
    assert opt.run(fmax=FMAX)
    np.testing.assert_array_equal(atoms.positions[[0, 5], 2], start[[0, 5], 2])
    assert not np.allclose(atoms.positions[[0, 5], :2], start[[0, 5], :2])  # their x, y did move
    raw = atoms.get_forces(apply_constraint=False)
    raw[[0, 5], 2] = 0.0
    assert np.max(np.linalg.norm(raw, axis=1)) < FMAX
    assert opt.result.x.size == 39 - 2
    with pytest.raises(ValueError, match="FixAtoms constraints only"):
        TrustNewton(atoms, verify=True)


def test_verify_escapes_a_saddle():
    """A linear Lennard-Jones trimer: minimizers that keep the symmetry stop on the line (a saddle);
    with verify=True the curvature check sees the bending mode and the run ends at the triangle."""
    line = Atoms("Ar3", positions=[[0, 0, 0], [1.12, 0, 0], [2.24, 0, 0]])
    plain = line.copy()
    plain.calc = lj()
    assert TrustNewton(plain, logfile=None).run(fmax=1e-4)
    assert np.allclose(plain.positions[:, 1:], 0.0)  # still linear
    H = central_hessian(plain)
    assert np.linalg.eigvalsh(H)[0] < -1e-2  # the explicit Hessian: a saddle point

    atoms = line.copy()
    atoms.calc = lj()
    calls = count_calls(atoms)
    opt = TrustNewton(atoms, logfile=None, verify=True)
    assert opt.run(fmax=1e-4)
    assert opt.n_force_calls == calls[0]  # the check's force calls included
    assert untruncated_lj_energy(atoms) == pytest.approx(-3.0, abs=1e-6)  # the equilateral triangle
    assert opt.result.is_local_minimum is True
    eig = np.linalg.eigvalsh(central_hessian(atoms))
    assert eig[0] > -1e-3 and np.sum(np.abs(eig) < 1e-2) == 6  # rigid-body modes, then three positive ones
    # the check's lowest mode, mass-weighted (one element: the Hessian's eigenvalue over the mass)
    lowest = eig[np.abs(eig) >= 1e-2][0]
    assert opt.result.min_curvature == pytest.approx(lowest / atoms.get_masses()[0], rel=1e-2)
    assert opt.result.lowest_frequency > 0


def test_bad_input():
    atoms = lj13_start()
    with pytest.raises(ValueError, match="no calculator"):
        TrustNewton(atoms)

    class EnergyOnly(Calculator):
        implemented_properties = ["energy"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            self.results = {"energy": 0.0}

    atoms.calc = EnergyOnly()
    with pytest.raises(ValueError, match="does not give forces"):
        TrustNewton(atoms)
    atoms.calc = lj()
    fixed = atoms.copy()
    fixed.calc = lj()
    fixed.set_constraint(FixAtoms(indices=[0]))
    with pytest.raises(ValueError, match="coordinates='internal' does not take constraints"):
        TrustNewton(fixed, coordinates="internal")
    assert TrustNewton(fixed, logfile=None).coordinates_used == "cartesian"  # 'auto' with constraints
    with pytest.raises(ValueError, match="`order` must be >= 1"):
        TransitionState(atoms, order=0, coordinates="internal")
    with pytest.raises(ValueError, match="`coordinates` must be"):
        TrustNewton(atoms, coordinates="polar")
    with pytest.raises(ValueError, match="`maxstep`"):
        TrustNewton(atoms, maxstep=-1)
    with pytest.raises(ValueError, match="`fmax`"):
        TrustNewton(atoms, logfile=None).run(fmax=0)
    with pytest.raises(TypeError, match="ase.Atoms"):
        TrustNewton(atoms.positions)
    with pytest.raises(ValueError, match="set by TrustNewton"):
        TrustNewton(atoms, options={"gtol": 1e-3})
    bonded = atoms.copy()
    bonded.calc = lj()
    bonded.set_constraint(FixBondLength(0, 1))
    with pytest.raises(ValueError, match="FixBondLengths? is not supported"):
        TrustNewton(bonded)
    with pytest.raises(ValueError, match="`order`"):
        TransitionState(atoms, order=-1)


def test_internal_coordinates_for_a_molecule():
    """'auto' picks internal coordinates for a molecule: the same minimum as ASE's BFGS, far fewer calls,
    and the ASE machinery (log lines, trajectory, observers) as in Cartesian coordinates."""
    tblite_ase = pytest.importorskip("tblite.ase")
    from ase.build import molecule

    start = molecule("CH3CH2OH")
    start.positions += np.random.default_rng(1).normal(0, 0.05, start.positions.shape)
    runs = {}
    for name, make in [("bfgs", lambda a: BFGS(a, logfile=None)),
                       ("curvopt", lambda a: TrustNewton(a, logfile=log, trajectory=traj))]:
        atoms = start.copy()
        atoms.calc = tblite_ase.TBLite(method="GFN2-xTB", verbosity=0)
        calls = count_calls(atoms)
        log, traj = io.StringIO(), None
        opt = make(atoms)
        steps = []
        opt.attach(lambda: steps.append(1))
        assert opt.run(fmax=1e-3, steps=500)
        runs[name] = (atoms, calls[0], opt, len(steps))
    atoms, calls, opt, observed = runs["curvopt"]
    assert opt.coordinates_used == "internal" and opt.result.success
    assert fmax_of(atoms) < 1e-3
    assert atoms.get_potential_energy() == pytest.approx(runs["bfgs"][0].get_potential_energy(), abs=1e-5)
    assert calls == opt.n_force_calls < runs["bfgs"][1] / 2
    assert observed == opt.nsteps + 1  # step 0 and every step
    lines = log.getvalue().splitlines()
    assert len(lines) == opt.nsteps + 2 and lines[0].split()[:3] == ["Step", "Time", "Energy"]


def test_failing_calculator_raises():
    """A calculator that always fails past the start: its error reaches the user, as with ASE's BFGS."""

    class Failing(LennardJones):
        calls = 0

        def calculate(self, *args, **kwargs):
            Failing.calls += 1
            if Failing.calls > 1:
                raise RuntimeError("SCF did not converge")
            return super().calculate(*args, **kwargs)

    atoms = lj13_start()
    atoms.calc = Failing(epsilon=1.0, sigma=1.0, rc=10.0)
    with pytest.raises(RuntimeError, match="SCF did not converge"):
        TrustNewton(atoms, logfile=None).run(fmax=FMAX)
    assert not solver_threads()


# --------------------------------------------------------------------------- TransitionState
def test_transition_state_lj7_order_one():
    x0 = lj7_minimum() + np.random.default_rng(0).normal(0, 0.1, 21)
    atoms = Atoms("Ar7", positions=x0.reshape(-1, 3))
    atoms.calc = lj()
    calls = count_calls(atoms)
    opt = TransitionState(atoms, logfile=None)
    assert opt.run(fmax=FMAX, steps=500)
    assert fmax_of(atoms) < FMAX
    assert opt.n_force_calls == calls[0]
    atoms.get_forces()
    assert calls[0] == opt.n_force_calls  # the final order check's products did not leave the calculator behind
    assert opt.result.order_found == 1
    # the explicit Hessian: six near-zero rigid modes, exactly one clearly negative eigenvalue
    eig = np.linalg.eigvalsh(central_hessian(atoms))
    assert np.count_nonzero(eig < -1e-2) == 1
    assert np.sum(np.abs(eig) < 1e-2) == 6
    assert opt.result.eigenvalues[0] == pytest.approx(eig[0], rel=0.05)
    assert not solver_threads()


def test_transition_state_cu_adatom_connects_two_minima():
    """Sella's README example: the TS of the Cu adatom hop on Cu(111); ASE's LBFGS from either side of
    the negative mode must fall into two different hollow sites, lower in energy."""
    from ase.optimize import LBFGS

    slab, free = cu_adatom_slab()
    slab.set_constraint(FixAtoms(mask=~free))
    slab.calc = EMT()
    start = slab.positions.copy()
    opt = TransitionState(slab, logfile=None)
    assert opt.run(fmax=FMAX, steps=300)
    assert fmax_of(slab) < FMAX
    np.testing.assert_array_equal(slab.positions[~free], start[~free])
    assert opt.result.order_found == 1
    e_ts = slab.get_potential_energy()
    mode = np.zeros_like(start)
    mode[free] = opt.result.eigenvectors[:, 0].reshape(-1, 3)
    adatom = len(slab) - 1
    ends = []
    for sign in (1, -1):
        a = slab.copy()
        a.calc = EMT()
        a.positions += sign * 0.3 * mode / np.max(np.linalg.norm(mode, axis=1))
        LBFGS(a, logfile=None).run(fmax=0.01, steps=300)  # LBFGS: cheap steps on 540 coordinates
        assert a.get_potential_energy() < e_ts - 1e-3
        ends.append(a.positions[adatom, :2].copy())
    assert np.linalg.norm(ends[0] - ends[1]) > 1.0  # two different sites, ~1.5 Å apart


def test_transition_state_hcn_to_hnc_with_xtb():
    tblite_ase = pytest.importorskip("tblite.ase")
    from curvopt.chem import vibrations

    atoms = Atoms("CNH", positions=[[0.0, 0.0, 0.0], [1.18, 0.0, 0.0], [0.55, 1.05, 0.0]])
    atoms.calc = tblite_ase.TBLite(method="GFN2-xTB", verbosity=0)
    opt = TransitionState(atoms, logfile=None)
    assert opt.run(fmax=FMAX, steps=200)
    assert fmax_of(atoms) < FMAX
    freqs = vibrations(atoms).frequencies
    assert np.count_nonzero(freqs < -100.0) == 1  # one imaginary frequency (cm^-1, negative)
    assert np.count_nonzero(freqs > 100.0) == freqs.size - 1
    # H bridges C and N at the saddle
    d = atoms.get_all_distances()
    assert d[2, 0] < 1.5 and d[2, 1] < 1.5


# --------------------------------------------------------------------------- the examples
def load_example(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_geometry_optimization_example(capsys):
    xtb = importlib_available("tblite.ase")
    rows = load_example("geometry_optimization").main(xtb=xtb, logfile=None)
    out = capsys.readouterr().out
    for name, row in rows.items():
        assert name in out
        assert row["converged"] and row["ase_converged"]
        assert row["energy"] == pytest.approx(row["ase_energy"], abs=1e-4)  # ASE's BFGS finds the same minimum
        assert row["calls"] == row["opt"].n_force_calls
    assert rows["LJ13"]["calls"] < rows["LJ13"]["ase_calls"]
    if xtb:
        assert rows["ethanol (GFN2-xTB)"]["opt"].result.is_local_minimum is True


def test_transition_state_example(capsys):
    xtb = importlib_available("tblite.ase")
    out = load_example("transition_state").main(xtb=xtb, logfile=None)
    assert "Cu adatom: converged True" in capsys.readouterr().out
    slab, opt, converged = out["cu"]
    assert converged and fmax_of(slab) < FMAX and opt.result.order_found == 1
    if xtb:
        atoms, opt, converged, vib = out["hcn"]
        assert converged and np.count_nonzero(vib.frequencies < 0) == 1


def importlib_available(name):
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def test_internal_coordinates_reject_a_failed_point_and_go_on():
    """A calculator that fails at a trial point: a rejected step in internal coordinates, as in Cartesians."""
    from ase.build import molecule

    class Flaky(EMT):
        calls = 0

        def calculate(self, *args, **kwargs):
            Flaky.calls += 1
            if Flaky.calls == 3:
                raise RuntimeError("SCF did not converge")
            return super().calculate(*args, **kwargs)

    results = {}
    for coordinates in ("internal", "cartesian"):
        atoms = molecule("CH4")
        atoms.positions += np.random.default_rng(0).normal(0, 0.05, atoms.positions.shape)
        Flaky.calls = 0
        atoms.calc = Flaky()
        opt = TrustNewton(atoms, logfile=None, coordinates=coordinates)
        assert opt.run(fmax=1e-3, steps=200) and Flaky.calls > 3
        results[coordinates] = atoms.get_potential_energy()
    assert results["internal"] == pytest.approx(results["cartesian"], abs=1e-5)


def test_the_result_of_trust_newton_has_no_dangling_hess_inv():
    atoms = lj13_start()
    atoms.calc = lj()
    opt = TrustNewton(atoms, logfile=None)
    assert opt.run(fmax=FMAX)
    assert "hess_inv" not in opt.result  # its products would call the ended worker thread's oracle


def test_options_are_checked_against_the_engine_chosen():
    from ase.build import molecule

    atoms = molecule("CH4")
    atoms.calc = EMT()
    with pytest.raises(ValueError, match="not options of the internal-coordinate engine"):
        TrustNewton(atoms, options={"model": "sr1"})  # a trust-lbfgs option; 'auto' chose internals
    assert TrustNewton(atoms, coordinates="cartesian", options={"model": "sr1"}, logfile=None).run(fmax=1e-2)
    other = atoms.copy()
    other.calc = EMT()
    assert TrustNewton(other, options={"trust_radius": 0.2}, logfile=None).coordinates_used == "internal"
