"""Line-search Newton methods."""

from .newton_cg import newton_cg_body

__all__ = ["newton_cg_body"]
