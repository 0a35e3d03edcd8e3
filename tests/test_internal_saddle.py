"""Saddle points in internal coordinates: curvopt.chem.internal.InternalSaddleOptimizer and TransitionState.

References are independent of the engine: an analytic triatomic whose saddle point is known exactly
(and whose Hessian is checked by numpy on a central-difference matrix of autograd forces), the
Cartesian search (`curvopt.find_saddle`, a different code path) on the same GFN2-xTB surface,
imaginary frequencies by `curvopt.chem.vibrations`, and the symmetry of the NH3 inversion TS (planar).
"""

import numpy as np
import pytest

pytest.importorskip("ase")

from ase import Atoms  # noqa: E402
from ase.build import molecule  # noqa: E402
from ase.calculators.calculator import Calculator, all_changes  # noqa: E402
from ase.calculators.lj import LennardJones  # noqa: E402
from ase.constraints import FixAtoms  # noqa: E402

from curvopt.chem import TransitionState, vibrations  # noqa: E402
from curvopt.chem.internal import InternalSaddleOptimizer  # noqa: E402
from test_chem_optimizers import count_calls  # noqa: E402  (the same calculator counter as the optimizer tests)

FMAX = 1e-3


# --------------------------------------------------------------------------- an analytic triatomic
R0, K_BOND, A_BEND, C_BEND = 1.0, 20.0, 4.0, 0.5


def _triatomic_energy(x):
    """Springs on the two O-H bonds and a double well in cos(H-O-H): minima at cos = +-0.5, saddle at 90°."""
    import autograd.numpy as anp

    p = anp.reshape(x, (3, 3))
    u, v = p[1] - p[0], p[2] - p[0]
    ru, rv = anp.sqrt(anp.sum(u * u)), anp.sqrt(anp.sum(v * v))
    c = anp.sum(u * v) / (ru * rv)
    return K_BOND * ((ru - R0) ** 2 + (rv - R0) ** 2) + A_BEND * (c**2 - C_BEND**2) ** 2


class Triatomic(Calculator):
    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        import autograd

        super().calculate(atoms, properties, system_changes)
        x = self.atoms.positions.reshape(-1).astype(float)
        self.results = {"energy": float(_triatomic_energy(x)),
                        "forces": -autograd.grad(_triatomic_energy)(x).reshape(-1, 3)}


def _triatomic(angle_deg, r=(1.05, 0.97)):
    t = np.radians(angle_deg)
    return Atoms("OH2", positions=[[0, 0, 0], [r[0], 0, 0], [r[1] * np.cos(t), r[1] * np.sin(t), 0.0]])


def test_engine_finds_the_analytic_saddle():
    pytest.importorskip("autograd")
    atoms = _triatomic(78.0)
    atoms.calc = Triatomic()
    engine = InternalSaddleOptimizer(atoms, order=1, fmax=FMAX)
    positions = atoms.positions.copy()
    for _ in range(100):
        atoms.positions = positions
        positions = engine.step(atoms.positions, atoms.get_potential_energy(), atoms.get_forces())
        if engine.converged:
            break
    assert engine.converged and engine.order_found == 1
    assert engine.n_force_calls == len(engine.energy_history) < 30
    atoms.positions = engine.positions
    assert np.max(np.linalg.norm(atoms.get_forces(), axis=1)) < FMAX
    # the exact saddle: bonds at R0, the angle at 90 degrees, energy A c^4
    assert atoms.get_distance(0, 1) == pytest.approx(R0, abs=1e-4)
    assert atoms.get_distance(0, 2) == pytest.approx(R0, abs=1e-4)
    assert atoms.get_angle(1, 0, 2) == pytest.approx(90.0, abs=0.05)
    assert atoms.get_potential_energy() == pytest.approx(A_BEND * C_BEND**4, abs=1e-6)
    # exactly one negative eigenvalue of the central-difference Hessian (six rigid-body zeros aside)
    x = atoms.positions.reshape(-1)
    h = 1e-4
    import autograd

    grad = autograd.grad(_triatomic_energy)
    H = np.column_stack([(grad(x + h * e) - grad(x - h * e)) / (2 * h) for e in np.eye(9)])
    eig = np.linalg.eigvalsh(0.5 * (H + H.T))
    assert np.count_nonzero(eig < -1e-3) == 1 and np.count_nonzero(np.abs(eig) < 1e-3) == 6
    # the mode the engine reports is the bend: its Cartesian vector matches the Hessian's negative mode
    w, V = np.linalg.eigh(0.5 * (H + H.T))
    mode = engine.cartesian_modes()[:, 0]
    assert abs(mode @ V[:, 0]) > 0.95


def test_engine_leaves_a_minimum_uphill():
    """Started at a minimum of the bend (forces zero), the engine must not stop: the order is wrong."""
    pytest.importorskip("autograd")
    atoms = _triatomic(120.0, r=(R0, R0))
    atoms.calc = Triatomic()
    assert np.max(np.linalg.norm(atoms.get_forces(), axis=1)) < FMAX
    engine = InternalSaddleOptimizer(atoms, fmax=FMAX)
    positions = atoms.positions.copy()
    for _ in range(100):
        atoms.positions = positions
        positions = engine.step(atoms.positions, atoms.get_potential_energy(), atoms.get_forces())
        if engine.converged or engine.stalled:
            break
    assert engine.converged and engine.order_found == 1
    atoms.positions = engine.positions
    assert atoms.get_angle(1, 0, 2) == pytest.approx(90.0, abs=0.05)


def _chain_energy(x):
    """H-C-C-H with springs on the bonds, the double well of `_triatomic_energy` on both bends and a
    torsion spring with its minimum at cis: a saddle point of order 2 at both bends 90°, cis."""
    import autograd.numpy as anp

    p = anp.reshape(x, (4, 3))
    b1, b2, b3 = p[0] - p[1], p[2] - p[1], p[3] - p[2]

    def norm(v):
        return anp.sqrt(anp.sum(v * v))

    def bend_cos(u, v):
        return anp.sum(u * v) / (norm(u) * norm(v))

    c1, c2 = bend_cos(b1, b2), bend_cos(-b2, b3)
    n1, n2 = anp.cross(b1, b2), anp.cross(b2, b3)
    cos_torsion = -anp.sum(n1 * n2) / (norm(n1) * norm(n2))  # +1 at cis
    springs = K_BOND * ((norm(b1) - 1.1) ** 2 + (norm(b2) - 1.5) ** 2 + (norm(b3) - 1.1) ** 2)
    wells = A_BEND * ((c1**2 - C_BEND**2) ** 2 + (c2**2 - C_BEND**2) ** 2)
    return springs + wells + 2.0 * (1.0 - cos_torsion)


class Chain(Calculator):
    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        import autograd

        super().calculate(atoms, properties, system_changes)
        x = self.atoms.positions.reshape(-1).astype(float)
        self.results = {"energy": float(_chain_energy(x)),
                        "forces": -autograd.grad(_chain_energy)(x).reshape(-1, 3)}


def test_order_two_saddle_through_transition_state():
    pytest.importorskip("autograd")
    t1, t2, phi = np.radians(80.0), np.radians(97.0), np.radians(15.0)
    positions = [[1.12 * np.cos(t1), 1.12 * np.sin(t1), 0.0], [0, 0, 0], [1.48, 0, 0],
                 [1.48 - 1.08 * np.cos(t2), 1.08 * np.sin(t2) * np.cos(phi), 1.08 * np.sin(t2) * np.sin(phi)]]
    atoms = Atoms("HCCH", positions=positions)
    atoms.calc = Chain()
    opt = TransitionState(atoms, order=2, logfile=None)
    assert opt.coordinates_used == "internal"
    assert opt.run(fmax=FMAX, steps=100)
    assert opt.result.order_found == 2
    assert atoms.get_angle(0, 1, 2) == pytest.approx(90.0, abs=0.05)
    assert atoms.get_angle(1, 2, 3) == pytest.approx(90.0, abs=0.05)
    assert abs(atoms.get_dihedral(0, 1, 2, 3)) < 0.1 or abs(atoms.get_dihedral(0, 1, 2, 3) - 360) < 0.1
    assert atoms.get_potential_energy() == pytest.approx(2 * A_BEND * C_BEND**4, abs=1e-6)


# --------------------------------------------------------------------------- real molecules (GFN2-xTB)
def _xtb():
    tb = pytest.importorskip("tblite.ase")
    return tb.TBLite(method="GFN2-xTB", verbosity=0)


def _hcn():
    return Atoms("CNH", positions=[[0.0, 0.0, 0.0], [1.18, 0.0, 0.0], [0.55, 1.05, 0.0]])


def _search(atoms, coordinates, **kwargs):
    atoms.calc = _xtb()
    calls = count_calls(atoms)
    opt = TransitionState(atoms, logfile=None, coordinates=coordinates, **kwargs)
    converged = opt.run(fmax=FMAX, steps=200)
    assert opt.n_force_calls == calls[0]
    return opt, converged


def test_hcn_isomerization_internal_matches_cartesian():
    internal = _hcn()
    opt, converged = _search(internal, "auto")
    assert opt.coordinates_used == "internal"
    assert converged and opt.result.success and opt.result.order_found == 1
    assert np.max(np.linalg.norm(internal.get_forces(), axis=1)) < FMAX
    freqs = vibrations(internal).frequencies
    assert np.count_nonzero(freqs < 0) == 1 and freqs[0] < -500.0  # one imaginary mode (cm^-1 negative)
    cartesian = _hcn()
    ref, ref_converged = _search(cartesian, "cartesian")
    assert ref_converged and ref.coordinates_used == "cartesian"
    assert internal.get_potential_energy() == pytest.approx(cartesian.get_potential_energy(), abs=1e-4)
    np.testing.assert_allclose(internal.get_all_distances(), cartesian.get_all_distances(), atol=5e-3)
    # H bridges C and N at the saddle
    d = internal.get_all_distances()
    assert d[2, 0] < 1.5 and d[2, 1] < 1.5


def test_nh3_inversion_converges_to_the_planar_ts():
    atoms = molecule("NH3")
    p = atoms.positions - atoms.positions[0]
    p[1:, 2] = -0.08  # slightly pyramidal (the minimum has the H plane 0.38 Å below N)
    atoms.positions = p
    opt, converged = _search(atoms, "internal")
    assert converged and opt.result.order_found == 1
    # planar: N lies in the plane of the three H atoms
    h = atoms.positions[1:]
    normal = np.cross(h[1] - h[0], h[2] - h[0])
    normal /= np.linalg.norm(normal)
    assert abs((atoms.positions[0] - h[0]) @ normal) < 5e-3
    freqs = vibrations(atoms).frequencies
    assert np.count_nonzero(freqs < 0) == 1


# --------------------------------------------------------------------------- choices and bad input
def test_auto_keeps_cartesian_for_clusters_and_constraints():
    cluster = Atoms("Ar3", positions=[[0, 0, 0], [1.1, 0, 0], [0.5, 0.9, 0]])
    cluster.calc = LennardJones(epsilon=1.0, sigma=1.0, rc=10.0)
    assert TransitionState(cluster, logfile=None).coordinates_used == "cartesian"
    water = molecule("H2O")
    water.calc = LennardJones()
    assert TransitionState(water, logfile=None).coordinates_used == "internal"
    water.set_constraint(FixAtoms(indices=[0]))
    assert TransitionState(water, logfile=None).coordinates_used == "cartesian"
    with pytest.raises(ValueError, match="coordinates='internal' does not take constraints"):
        TransitionState(water, coordinates="internal")


def test_bad_input_is_refused_clearly():
    water = molecule("H2O")
    water.calc = LennardJones()
    for order in (0, -1):
        with pytest.raises(ValueError, match="`order` must be >= 1"):
            TransitionState(water, order=order, coordinates="internal")
    with pytest.raises(ValueError, match="`order` must be an integer"):
        TransitionState(water, order=1.5, coordinates="internal")
    with pytest.raises(ValueError, match="`order` must be at most 3"):
        InternalSaddleOptimizer(water, order=4)
    with pytest.raises(ValueError, match="unknown option"):
        TransitionState(water, coordinates="internal", options={"trust_raduis": 0.1})
    with pytest.raises(ValueError, match="`hvp_step` must be a positive number"):
        InternalSaddleOptimizer(water, hvp_step=0.0)
    with pytest.raises(ValueError, match="`final_check` must be one of"):
        InternalSaddleOptimizer(water, final_check="lanczos")
    with pytest.raises(ValueError, match="`update` must be one of"):
        InternalSaddleOptimizer(water, update="bfgs")
    periodic = water.copy()
    periodic.pbc = True
    periodic.cell = [10, 10, 10]
    with pytest.raises(ValueError, match="periodic"):
        InternalSaddleOptimizer(periodic)
    engine = InternalSaddleOptimizer(water)
    with pytest.raises(ValueError, match=r"must have shape \(3, 3\)"):
        engine.step(np.zeros((2, 3)), 0.0, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        engine.step(water.positions, np.nan, np.zeros((3, 3)))
