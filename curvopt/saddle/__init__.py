"""Saddle points of a given order from gradients alone: `find_saddle`."""

from ._find import DEFAULT_OPTIONS, find_saddle, rigid_body_modes

__all__ = ["find_saddle", "rigid_body_modes", "DEFAULT_OPTIONS"]
