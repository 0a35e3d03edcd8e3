"""curvopt.chem.vibrations: frequencies from force products against exact and ASE references."""

import os
import subprocess
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # tblite's OpenMP threads contend badly on shared machines

import numpy as np
import pytest

pytest.importorskip("ase")

import scipy.linalg  # noqa: E402
from ase import Atoms  # noqa: E402
from ase.build import bulk, molecule  # noqa: E402
from ase.calculators.calculator import Calculator, all_changes  # noqa: E402
from ase.calculators.emt import EMT  # noqa: E402
from ase.calculators.lj import LennardJones  # noqa: E402
from ase.constraints import FixAtoms, FixBondLength  # noqa: E402
from ase.io import read  # noqa: E402

from curvopt.chem import rigid_body_modes, vibrations  # noqa: E402
from curvopt.chem.systems import lj_cluster, relax  # noqa: E402
from curvopt.testing.potentials import lennard_jones_hessian  # noqa: E402


# ---------------------------------------------------------------- references
def projected_eigenvalues(H, atoms):
    """Eigenvalues of the mass-weighted Hessian in the complement of the rigid-body modes."""
    m = atoms.get_masses()
    sm = np.repeat(np.sqrt(m), 3)
    W = H / sm[:, None] / sm[None, :]
    R, _ = rigid_body_modes(atoms.positions, m)
    Q = scipy.linalg.null_space(R.T)
    return np.linalg.eigvalsh(Q.T @ W @ Q)


@pytest.fixture(scope="module")
def lj13():
    atoms, res = lj_cluster(13)
    assert np.max(np.abs(res.jac)) < 1e-7
    return atoms, projected_eigenvalues(lennard_jones_hessian(atoms.positions, rc=10.0), atoms)


# ---------------------------------------------------------------- Lennard-Jones
@pytest.mark.parametrize(
    "kw, calls, rtol",
    [
        (dict(hvp="2-point", delta=1e-5), 3 * 13 - 6 + 1, 1e-4),  # dense, forward differences
        (dict(hvp="3-point", delta=1e-4), 2 * (3 * 13 - 6), 1e-6),  # dense, central differences
        (dict(method="full", delta=1e-4), 6 * 13, 1e-6),
    ],
)
def test_lj13_all_modes_match_analytic_hessian(lj13, kw, calls, rtol):
    atoms, exact = lj13
    res = vibrations(atoms, **kw)
    assert res.n_force_calls == calls
    assert res.eigenvalues.shape == (33,) and res.all_modes and res.n_rigid == 6
    np.testing.assert_allclose(res.eigenvalues, exact, rtol=rtol)
    assert res.is_minimum


def test_lj13_lowest_modes_by_lanczos(lj13):
    atoms, exact = lj13
    res = vibrations(atoms, k=4, delta=1e-4)
    assert res.method == "lanczos" and res.converged
    np.testing.assert_allclose(res.eigenvalues, exact[:4], rtol=1e-5)
    # eigenvectors are orthogonal to the rigid-body modes
    R, _ = rigid_body_modes(atoms.positions, atoms.get_masses())
    assert np.max(np.abs(res.mass_weighted_modes @ R)) < 1e-8
    high = vibrations(atoms, k=3, which="highest", delta=1e-4)
    np.testing.assert_allclose(high.eigenvalues, exact[-3:], rtol=1e-5)
    assert high.is_minimum is None


@pytest.mark.slow
def test_lj38_all_modes_target():
    atoms, res = lj_cluster(38)
    exact = projected_eigenvalues(lennard_jones_hessian(atoms.positions, rc=10.0), atoms)
    out = vibrations(atoms, hvp="2-point", delta=1e-5)
    assert out.n_force_calls <= 115
    assert np.max(np.abs(out.eigenvalues - exact) / np.abs(exact)) <= 5e-4


def test_linear_molecule_projects_five_rigid_modes():
    r0 = 2 ** (1 / 6)
    atoms = Atoms("Ar3", positions=[[0, 0, 0], [r0, 0, 0], [2 * r0, 0, 0]])
    atoms.calc = LennardJones(epsilon=1.0, sigma=1.0, rc=10.0)
    relax(atoms, fmax=1e-8)
    res = vibrations(atoms, delta=1e-4)
    assert res.linear and res.n_rigid == 5 and res.eigenvalues.size == 4
    exact = np.linalg.eigvalsh(
        _project(lennard_jones_hessian(atoms.positions, rc=10.0) / np.repeat(atoms.get_masses(), 3) ** 0.5 / np.repeat(atoms.get_masses(), 3)[:, None] ** 0.5, atoms)
    )
    # the linear trimer is a saddle: its two bends are imaginary
    np.testing.assert_allclose(res.eigenvalues, exact, rtol=0, atol=1e-6 * np.max(np.abs(exact)))
    assert not res.is_minimum and "i" in res.tabulate()


def _project(W, atoms):
    R, _ = rigid_body_modes(atoms.positions, atoms.get_masses())
    Q = scipy.linalg.null_space(R.T)
    return Q.T @ W @ Q


def test_periodic_cell_projects_translations_only():
    atoms = bulk("Cu", cubic=True)
    atoms.calc = EMT()
    res = vibrations(atoms)
    assert res.n_rigid == 3 and res.eigenvalues.size == 3 * 4 - 3


def test_workers_give_the_same_modes(lj13):
    atoms, _ = lj13
    a = vibrations(atoms, hvp="2-point", delta=1e-5)
    b = vibrations(atoms, hvp="2-point", delta=1e-5, workers=2)
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=1e-12)
    assert a.n_force_calls == b.n_force_calls


# ---------------------------------------------------------------- ASE interoperability
def test_units_and_vibrationsdata_round_trip(lj13):
    atoms, _ = lj13
    res = vibrations(atoms, delta=1e-4)
    vd = res.to_vibrations_data()
    f = vd.get_frequencies()
    assert f.shape == (3 * 13,)
    # ASE adds six (numerically) zero rigid-body modes; the rest are ours
    order = np.argsort(np.abs(f))
    ours = np.sort(f[order[6:]].real)
    np.testing.assert_allclose(ours, res.frequencies, rtol=1e-9)
    assert np.max(np.abs(f[order[:6]])) < 1e-3
    # ASE's ZPE also sums its six rigid-body frequencies (|f| < 1e-3 cm^-1 each, so < 4e-7 eV in all)
    np.testing.assert_allclose(vd.get_zero_point_energy(), res.zero_point_energy, rtol=0, atol=4e-7)
    # modes as ASE converts them (up to sign)
    e, modes = vd.get_energies_and_modes(all_atoms=True)
    j = int(np.argmin(np.abs(e - res.get_energies()[0])))
    assert abs(abs(np.vdot(modes[j].ravel(), res.modes[0].ravel())) - np.vdot(modes[j], modes[j]).real) < 1e-8
    assert "Zero-point energy" in res.tabulate()


def test_summary_format_matches_ase(lj13, capsys):
    atoms, _ = lj13
    res = vibrations(atoms, delta=1e-4)
    res.summary()
    text = capsys.readouterr().out
    ase_lines = res.to_vibrations_data().tabulate().splitlines()
    assert text.splitlines()[:3] == ase_lines[:3]
    assert ase_lines[-1].split(":")[0] in text
    assert text.splitlines()[3].split()[0] == "0"


def test_write_mode_writes_a_readable_trajectory(lj13, tmp_path):
    atoms, _ = lj13
    res = vibrations(atoms, k=2, delta=1e-4)
    name = res.write_mode(1, filename=tmp_path / "m.traj", nimages=12)
    images = read(name, index=":")
    assert len(images) == 12
    np.testing.assert_allclose(images[0].positions, atoms.positions, atol=1e-12)
    disp = images[3].positions - atoms.positions  # sin(pi/2) = 1: the full amplitude
    cos = abs(np.vdot(disp, res.modes[1])) / np.linalg.norm(disp) / np.linalg.norm(res.modes[1])
    assert cos > 1 - 1e-10
    with pytest.raises(IndexError):
        res.write_mode(5)


# ---------------------------------------------------------------- frozen atoms
def test_indices_and_fixatoms_match_ase_vibrations(lj13, tmp_path, monkeypatch):
    from ase.vibrations import Vibrations

    atoms, _ = lj13
    atoms = atoms.copy()
    atoms.calc = LennardJones(epsilon=1.0, sigma=1.0, rc=10.0)
    idx = [0, 3, 5, 7]
    monkeypatch.chdir(tmp_path)
    vib = Vibrations(atoms, indices=idx, delta=1e-3, name="vib")
    vib.run()
    ase_f = np.sort(vib.get_frequencies().real)
    res = vibrations(atoms, indices=idx, delta=1e-4)
    assert res.n_rigid == 0 and res.eigenvalues.size == 12
    np.testing.assert_allclose(res.frequencies, ase_f, rtol=1e-4)
    assert np.all(res.modes[:, [i for i in range(13) if i not in idx]] == 0)
    fixed = atoms.copy()
    fixed.calc = atoms.calc
    fixed.set_constraint(FixAtoms(indices=[i for i in range(13) if i not in idx]))
    res2 = vibrations(fixed, delta=1e-4)
    np.testing.assert_allclose(res2.frequencies, res.frequencies, rtol=1e-10)
    assert len(fixed.constraints) == 1  # the input is not modified


# ---------------------------------------------------------------- bad input
class _EnergyOnly(Calculator):
    implemented_properties = ["energy"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results["energy"] = 0.0


def test_bad_input_raises_clear_errors(lj13):
    atoms, _ = lj13
    bare = atoms.copy()
    with pytest.raises(ValueError, match="no calculator"):
        vibrations(bare)
    nof = atoms.copy()
    nof.calc = _EnergyOnly()
    with pytest.raises(ValueError, match="forces"):
        vibrations(nof)
    for bad in (0.0, np.nan, -1.0):
        a = atoms.copy()
        a.calc = atoms.calc
        m = np.ones(13)
        m[4] = bad
        a.set_masses(m)
        with pytest.raises(ValueError, match="masses"):
            vibrations(a)
    with pytest.raises(ValueError, match="33 vibrational modes"):
        vibrations(atoms, k=34)
    with pytest.raises(ValueError, match="out of range"):
        vibrations(atoms, k=0)
    with pytest.raises(ValueError, match="hvp"):
        vibrations(atoms, hvp="5-point")
    with pytest.raises(ValueError, match="delta"):
        vibrations(atoms, delta=-1.0)
    c = atoms.copy()
    c.calc = atoms.calc
    c.set_constraint(FixBondLength(0, 1))
    with pytest.raises(ValueError, match="FixBondLength"):
        vibrations(c)


def test_import_without_ase_gives_install_hint():
    code = (
        "import sys; sys.modules['ase'] = None\n"
        "try:\n    import curvopt.chem\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "curvopt[chem]"' in out.stdout


# ---------------------------------------------------------------- GFN2-xTB molecules
@pytest.fixture(scope="module")
def xtb():
    tblite = pytest.importorskip("tblite.ase")
    return lambda: tblite.TBLite(method="GFN2-xTB", verbosity=0, accuracy=1e-3)


@pytest.mark.parametrize("name", ["H2O", "CH3CH2OH", "C6H6"])
def test_gfn2_frequencies_match_full_hessian(xtb, name):
    atoms = molecule(name)
    atoms.calc = xtb()
    relax(atoms, fmax=1e-5)
    full = vibrations(atoms, method="full")
    assert full.n_force_calls == 6 * len(atoms)
    res = vibrations(atoms)  # all modes: 2 (3N - 6) calls
    assert res.n_force_calls == 2 * (3 * len(atoms) - 6) < 6 * len(atoms) + 1
    assert np.max(np.abs(res.frequencies - full.frequencies)) < 1.0
    low = vibrations(atoms, k=2)  # a few lowest modes of a molecule: Davidson with the Lindh model
    assert low.method == ("davidson" if 2 * 2 < 3 * len(atoms) - 6 else "dense")  # water has 3 modes: dense
    assert np.max(np.abs(low.frequencies - full.frequencies[:2])) < 1.0
    assert res.is_minimum and full.is_minimum


def test_davidson_needs_fewer_force_calls_than_lanczos(xtb):
    atoms = molecule("CH3CH2OH")
    atoms.calc = xtb()
    relax(atoms, fmax=1e-5)
    full = vibrations(atoms, method="full")
    davidson = vibrations(atoms, k=3, method="davidson")
    lanczos = vibrations(atoms, k=3, method="lanczos")
    for res in (davidson, lanczos):
        assert res.converged and np.max(np.abs(res.frequencies - full.frequencies[:3])) < 1.0
    assert davidson.n_force_calls < lanczos.n_force_calls


def test_davidson_is_for_molecules():
    atoms, _ = lj_cluster(13)
    with pytest.raises(ValueError, match="method='davidson' needs the lowest modes"):
        vibrations(atoms, k=3, method="davidson")
    assert vibrations(atoms, k=3, delta=1e-4).method == "lanczos"  # 'auto' on a cluster without bonds
