"""Chemistry on top of curvopt: molecular vibrations from forces alone.

Needs the Atomic Simulation Environment (ASE); install the extra with
``pip install "curvopt[chem]"`` (ASE and tblite).

``curvopt.chem.vibrations`` computes harmonic frequencies and normal modes of
an ``ase.Atoms`` from the forces of its calculator, through Hessian-vector
products of the mass-weighted Hessian instead of the ``6N`` displaced force
calls of a full finite-difference Hessian.
"""

try:
    import ase  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised by a test with ase hidden
    raise ImportError(
        "curvopt.chem needs the Atomic Simulation Environment (ase); "
        'install it with: pip install "curvopt[chem]"'
    ) from err

from .optimize import TransitionState, TrustNewton
from .vibrations import VibrationsResult, rigid_body_modes, vibrations

__all__ = ["vibrations", "VibrationsResult", "rigid_body_modes", "TrustNewton", "TransitionState"]
