"""Internal-coordinate geometry optimization (curvopt.chem.internal) against independent references.

References: central finite differences of the coordinate values (B-matrix),
exact reachable targets (back-transformation), numpy eigenvalues (model
Hessian), ASE's BFGS run in the same test on the same tblite GFN2-xTB surface
(energies and force-call counts), and curvopt.chem.vibrations / a
finite-difference Hessian for the minimum check.
"""

import numpy as np
import pytest

pytest.importorskip("ase")
from ase import Atoms  # noqa: E402
from ase.build import bulk, molecule  # noqa: E402
from ase.data import covalent_radii  # noqa: E402
from ase.optimize import BFGS  # noqa: E402

from curvopt.chem.internal import (  # noqa: E402
    InternalCoordinateOptimizer,
    InternalCoordinates,
    choose_coordinates,
    model_hessian,
    optimize_internal,
    rfo_step,
    trust_region_step,
)


def _tblite():
    tb = pytest.importorskip("tblite.ase")
    return tb.TBLite(method="GFN2-xTB", verbosity=0)


def _perturbed(atoms, seed=1, scale=0.05):
    a = atoms.copy()
    a.positions = a.positions + np.random.default_rng(seed).normal(0, scale, a.positions.shape)
    return a


def _water_dimer(separation=2.9):
    w1, w2 = molecule("H2O"), molecule("H2O")
    w2.rotate(90, "z")
    w2.translate([separation, 0.2, 0.3])
    return w1 + w2


def _ase_bfgs(atoms, fmax=1e-3):
    a = atoms.copy()
    a.calc = _tblite()
    opt = BFGS(a, logfile=None)
    opt.run(fmax=fmax, steps=5000)
    calls = opt.nsteps + 1  # ASE's BFGS: one force call per step plus the first
    return a.get_potential_energy(), calls


def _fd_bmatrix(ic, x, h=1e-6):
    x = x.ravel()
    B = np.empty((ic.n_primitives, x.size))
    for c in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp[c] += h
        xm[c] -= h
        B[:, c] = ic.difference(ic.values(xp), ic.values(xm)) / (2 * h)
    return B


GEOMETRIES = {
    "ethanol": lambda: _perturbed(molecule("CH3CH2OH")),
    "benzene": lambda: _perturbed(molecule("C6H6")),
    "CO2": lambda: _perturbed(molecule("CO2")),
    "acetylene": lambda: _perturbed(molecule("C2H2")),
    "water dimer": lambda: _perturbed(_water_dimer()),
    "formaldehyde": lambda: _perturbed(molecule("H2CO")),
}


# ---------------------------------------------------------------- coordinates
@pytest.mark.parametrize("name", list(GEOMETRIES))
def test_bmatrix_matches_finite_differences(name):
    a = GEOMETRIES[name]()
    ic = InternalCoordinates(a.numbers, a.positions)
    B = ic.bmatrix(a.positions)
    assert B.shape == (ic.n_primitives, 3 * len(a))
    np.testing.assert_allclose(B, _fd_bmatrix(ic, a.positions), atol=2e-8, rtol=0)


@pytest.mark.parametrize("name", list(GEOMETRIES))
def test_coordinate_set_is_complete(name):
    a = GEOMETRIES[name]()
    ic = InternalCoordinates(a.numbers, a.positions)
    # every internal motion reachable; rigid motions invisible unless fragments carry TRIC coordinates
    assert ic.rank(a.positions) == 3 * len(a) - ic.n_rigid
    assert ic.cartesian_atoms.size == 0


def test_primitive_kinds():
    ic = InternalCoordinates(molecule("CO2").numbers, molecule("CO2").positions)
    assert sorted(ic.kinds) == ["bond", "bond", "linear", "linear"] and ic.linear and ic.n_rigid == 5
    d = _water_dimer()
    ic = InternalCoordinates(d.numbers, d.positions)
    assert ic.n_fragments == 2 and ic.n_rigid == 0
    assert list(ic.kinds).count("translation") == 6 and list(ic.kinds).count("rotation") == 6
    h2co = molecule("H2CO")
    # planar centre with three neighbours: an improper torsion carries the out-of-plane motion
    assert "improper" in InternalCoordinates(h2co.numbers, h2co.positions).kinds


@pytest.mark.parametrize("name", ["ethanol", "benzene", "water dimer", "acetylene"])
def test_back_transformation_reproduces_reachable_step(name):
    a = GEOMETRIES[name]()
    ic = InternalCoordinates(a.numbers, a.positions)
    x0 = a.positions
    target = x0 + np.random.default_rng(3).normal(0, 0.03, x0.shape)
    dq = ic.difference(ic.values(target), ic.values(x0))
    x, achieved, residual = ic.back_transform(x0, dq)
    assert residual < 1e-9
    np.testing.assert_allclose(achieved, dq, atol=1e-8)
    # same internal geometry as the target (equal up to a rigid motion): all interatomic distances agree
    d = lambda y: np.linalg.norm(y[:, None] - y[None], axis=-1)  # noqa: E731
    if ic.n_fragments == 1 and ic.linear_idx.shape[0] == 0:  # linear bends see rotations, so not for them
        np.testing.assert_allclose(d(x), d(target), atol=1e-7)


def test_internal_gradient_reproduces_cartesian_gradient():
    a = GEOMETRIES["ethanol"]()
    a.calc = _tblite()
    g = -a.get_forces().ravel()
    ic = InternalCoordinates(a.numbers, a.positions)
    B = ic.bmatrix(a.positions)
    gq = ic.gradient(B, g)
    # the energy is rotation/translation invariant, so g lies in range(B'): B' g_q = g_x
    np.testing.assert_allclose(B.T @ gq, g, atol=1e-6 * np.linalg.norm(g) + 1e-7)


@pytest.mark.parametrize(
    "name, n_zero",
    [("ethanol", 6), ("benzene", 6), ("formaldehyde", 6), ("CO2", 5), ("acetylene", 5), ("HCN", 5)],
)
@pytest.mark.parametrize("model", ["lindh", "simple"])
def test_model_hessian_positive_definite_and_cartesian_image_has_rigid_null_space(name, n_zero, model):
    a = molecule("HCN") if name == "HCN" else (
        GEOMETRIES[name]() if name not in ("CO2", "acetylene") else molecule({"CO2": "CO2", "acetylene": "C2H2"}[name])
    )
    ic = InternalCoordinates(a.numbers, a.positions)
    H = model_hessian(ic, a.positions, model)
    assert np.linalg.eigvalsh(H).min() > 0
    B = ic.bmatrix(a.positions)
    w = np.linalg.eigvalsh(B.T @ H @ B)
    small = np.abs(w) < 1e-6 * w.max()
    assert small.sum() == n_zero
    assert w[~small].min() > 1e-3  # every internal motion has stiffness


# ---------------------------------------------------------------- trust-region subproblem
def test_trust_region_step_kkt():
    rng = np.random.default_rng(0)
    for shift in (2.0, -1.0):
        M = rng.normal(size=(8, 8))
        H = M @ M.T / 8 + shift * np.eye(8)
        g = rng.normal(size=8)
        for radius in (0.05, 0.5, 50.0):
            p, boundary = trust_region_step(g, H, radius)
            lam_min = np.linalg.eigvalsh(H).min()
            if not boundary:
                assert lam_min > 0 and np.linalg.norm(p) <= radius
                np.testing.assert_allclose(p, np.linalg.solve(H, -g), atol=1e-10)
            else:
                # Moré-Sorensen conditions: (H + s I) p = -g, s >= 0, H + s I PSD, ||p|| = radius
                assert np.linalg.norm(p) == pytest.approx(radius, rel=1e-8)
                s = -((H @ p + g) @ p) / (p @ p)
                np.testing.assert_allclose(H @ p + s * p, -g, atol=1e-7)
                assert s >= -1e-10 and s + lam_min >= -1e-8


def test_rfo_step_is_descent_inside_radius():
    rng = np.random.default_rng(1)
    M = rng.normal(size=(6, 6))
    H = M @ M.T + np.eye(6)
    g = rng.normal(size=6)
    p, _ = rfo_step(g, H, 0.1)
    assert np.linalg.norm(p) <= 0.1 + 1e-12 and g @ p < 0


# ---------------------------------------------------------------- optimization with tblite
@pytest.mark.parametrize("name, ase_name", [("ethanol", "CH3CH2OH"), ("benzene", "C6H6")])
def test_converges_to_ase_bfgs_minimum_in_fewer_calls(name, ase_name):
    a = _perturbed(molecule(ase_name))
    e_bfgs, calls_bfgs = _ase_bfgs(a)
    b = a.copy()
    b.calc = _tblite()
    res = optimize_internal(b, fmax=1e-3)
    assert res.success
    forces = b.get_forces()
    assert np.sqrt((forces**2).sum(axis=1)).max() < 1e-3  # ASE's own criterion on the returned atoms
    assert abs(res.energy - e_bfgs) < 1e-5
    assert abs(b.get_potential_energy() - res.energy) < 1e-10
    assert res.n_force_calls < calls_bfgs


def test_verified_minimum_by_vibrations():
    a = _perturbed(molecule("CH3CH2OH"))
    a.calc = _tblite()
    res = optimize_internal(a, fmax=1e-3, verify=True)
    assert res.success and res.is_minimum
    assert res.lowest_frequency > 0
    assert res.n_verify_force_calls > 0


def test_verified_minimum_by_finite_difference_hessian():
    from curvopt.chem import rigid_body_modes

    a = _perturbed(molecule("H2CO"))
    a.calc = _tblite()
    res = optimize_internal(a, fmax=1e-4)
    assert res.success
    x0 = a.positions.copy()
    n3, h = x0.size, 1e-3
    H = np.empty((n3, n3))
    for c in range(n3):
        e = h * np.eye(n3)[c].reshape(-1, 3)
        a.positions = x0 + e
        fp = a.get_forces().ravel()
        a.positions = x0 - e
        fm = a.get_forces().ravel()
        H[:, c] = -(fp - fm) / (2 * h)
    a.positions = x0
    H = 0.5 * (H + H.T)
    R, _ = rigid_body_modes(x0)
    P = np.eye(n3) - R @ R.T
    w = np.linalg.eigvalsh(P @ H @ P)
    assert np.sum(np.abs(w) < 1e-2) == 6  # the projected rigid modes
    assert w.min() > -1e-2 and np.sort(w)[6] > 0.05  # no negative curvature left


@pytest.mark.parametrize("name", ["CO2", "HCN", "C2H2"])
def test_linear_molecules(name):
    a = _perturbed(molecule(name))
    e_bfgs, _ = _ase_bfgs(a)
    b = a.copy()
    b.calc = _tblite()
    res = optimize_internal(b, fmax=1e-3)
    assert res.success and abs(res.energy - e_bfgs) < 1e-5
    # straight: the positions have one principal extent only
    sv = np.linalg.svd(b.positions - b.positions.mean(axis=0), compute_uv=False)
    assert sv[1] < 1e-2 * sv[0]


@pytest.mark.parametrize("angle", [140.0, 150.0, 160.0])
def test_bend_straightening_to_linear(angle):
    # a bent HCN relaxes to the linear minimum: the bend passes 180 degrees' cusp, the set switches to linear bends
    t = np.radians(180 - angle)
    a = Atoms("HCN", positions=[[-1.07 * np.cos(t), 1.07 * np.sin(t), 0], [0, 0, 0], [1.16, 0, 0]])
    e_bfgs, calls_bfgs = _ase_bfgs(a)
    a.calc = _tblite()
    res = optimize_internal(a, fmax=1e-3)
    assert res.success and abs(res.energy - e_bfgs) < 1e-5
    assert res.n_force_calls <= calls_bfgs + 2
    # beyond about 154 degrees the bend starts as a linear pair; below, the set is rebuilt on the way
    assert res.n_rebuilds == (0 if angle > 154 else 1)


def test_water_dimer_fragments():
    a = _perturbed(_water_dimer())
    e_bfgs, calls_bfgs = _ase_bfgs(a)
    b = a.copy()
    b.calc = _tblite()
    res = optimize_internal(b, fmax=1e-3)
    # the intermolecular modes are soft: at fmax 1e-3 the energy is known to ~1e-5 eV
    assert res.success and abs(res.energy - e_bfgs) < 2e-5
    assert res.n_force_calls < calls_bfgs


def test_atoms_too_close_step_is_shortened():
    # a far too soft explicit Hessian makes the Newton step pull the two waters into each other
    a = _water_dimer(3.5)
    e_bfgs, _ = _ase_bfgs(a)
    a.calc = _tblite()
    engine = InternalCoordinateOptimizer(a, fmax=1e-3, hessian=0.01 * np.eye(3 * len(a)), trust_radius=5.0,
                                         max_trust_radius=5.0, maxstep=5.0)
    rc = covalent_radii[a.numbers]
    closest = np.inf
    for _ in range(200):
        new = engine.step(a.positions, a.get_potential_energy(), a.get_forces())
        if engine.converged:
            break
        d = np.linalg.norm(new[:, None] - new[None], axis=-1) / (rc[:, None] + rc[None, :])
        np.fill_diagonal(d, np.inf)
        closest = min(closest, d.min())
        a.positions = new
    assert engine.n_collisions_avoided >= 1
    assert closest > 0.5
    assert engine.converged and abs(engine.energy - e_bfgs) < 2e-5


# ---------------------------------------------------------------- reverse communication and bad input
@pytest.mark.parametrize("options", [dict(update="bofill"), dict(step="rfo"), dict(probes=2), dict(hessian="simple")])
def test_engine_variants_reach_the_same_minimum(options):
    a = _perturbed(molecule("CH3CH2OH"))
    e_bfgs, _ = _ase_bfgs(a)
    a.calc = _tblite()
    res = optimize_internal(a, fmax=1e-3, **options)
    assert res.success and abs(res.energy - e_bfgs) < 1e-5


def test_engine_reverse_communication_counts_and_history():
    a = _perturbed(molecule("H2O"))
    a.calc = _tblite()
    engine = InternalCoordinateOptimizer(a, fmax=1e-3)
    n = 0
    while not engine.converged and n < 100:
        e, f = a.get_potential_energy(), a.get_forces()
        new = engine.step(a.positions, e, f)
        n += 1
        if not engine.converged:
            a.positions = new
    assert engine.converged and engine.n_force_calls == n == len(engine.fmax_history)
    assert engine.fmax_history[-1] < 1e-3 <= min(engine.fmax_history[:-1])


def test_choose_coordinates():
    from ase.cluster import Icosahedron

    assert choose_coordinates(molecule("CH3CH2OH")) == "internal"
    assert choose_coordinates(_water_dimer()) == "internal"
    assert choose_coordinates(bulk("Cu", cubic=True)) == "cartesian"
    assert choose_coordinates(Icosahedron("Ar", noshells=2, latticeconstant=2 ** (1 / 6) * np.sqrt(2))) == "cartesian"
    assert choose_coordinates(Icosahedron("Cu", noshells=2)) == "cartesian"
    periodic_water = molecule("H2O")
    periodic_water.cell, periodic_water.pbc = [10, 10, 10], True
    assert choose_coordinates(periodic_water) == "cartesian"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(trust_radius=-1.0), "trust_radius"),
        (dict(maxstep=0.0), "maxstep"),
        (dict(hessian="exact"), "hessian"),
        (dict(hessian=np.eye(4)), r"hessian.*shape"),
        (dict(update="sr2"), "update"),
        (dict(step="newton"), "step"),
        (dict(probes=-1), "probes"),
        (dict(probe_step=0.0), "probe_step"),
        (dict(fmax=-1.0), "fmax"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        InternalCoordinateOptimizer(molecule("H2O"), **kwargs)


def test_bad_input():
    with pytest.raises(ValueError, match="periodic"):
        InternalCoordinateOptimizer(bulk("Si"))
    with pytest.raises(ValueError, match="numbers"):
        InternalCoordinateOptimizer()
    engine = InternalCoordinateOptimizer(molecule("H2O"))
    with pytest.raises(ValueError, match="shape"):
        engine.step(np.zeros((2, 3)), 0.0, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        engine.step(molecule("H2O").positions, np.nan, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="apart"):
        InternalCoordinates([8, 1, 1], [[0, 0, 0], [0, 0, 0.01], [0, 1, 0]])
    with pytest.raises(ValueError, match="calculator"):
        optimize_internal(molecule("H2O"))
    with pytest.raises(ValueError, match="steps"):
        a = molecule("H2O")
        a.calc = _tblite()
        optimize_internal(a, steps=0)
