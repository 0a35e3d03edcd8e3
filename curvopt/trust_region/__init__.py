"""Trust-region Newton methods: one outer loop, one subproblem solver per file."""

from . import steihaug
from ._loop import TRUST_REGION_COLUMNS, forcing_tolerance, trust_region_body

__all__ = ["steihaug", "trust_region_body", "forcing_tolerance", "TRUST_REGION_COLUMNS"]
