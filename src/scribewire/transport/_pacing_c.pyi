"""Type stub for the native pacing kernel: ``_pacing_py.py`` compiled (see setup.py)."""

from scribewire.transport._pacing_py import DEFAULT_RESOLUTION as DEFAULT_RESOLUTION
from scribewire.transport._pacing_py import MessageCounter as MessageCounter
from scribewire.transport._pacing_py import PacedWriter as PacedWriter
from scribewire.transport._pacing_py import Pacer as Pacer
from scribewire.transport._pacing_py import PacingWheel as PacingWheel

__all__ = ["DEFAULT_RESOLUTION", "MessageCounter", "PacedWriter", "Pacer", "PacingWheel"]
