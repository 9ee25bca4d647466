"""One pacing scheduler per event loop, and the paced writer it drives.

Real-time streaming means each stream sends one AudioEvent every ``chunk_duration``
seconds (protocol.md §5: "pace as close to real time as possible"). A timer or a
task per stream costs ~9 µs of CPU per message in asyncio (DESIGN.md, "Performance
goals"); here one ``loop.call_at`` handle serves every stream that is due at a tick,
and the per-message work (pop a ready frame, write it, compute the next deadline)
runs in the native twin without entering the interpreter.

Internal API; the implementation is the native twin (``_pacing_c``) unless
``SCRIBEWIRE_NO_EXTENSIONS`` is set or it is unavailable, then the pure twin
(``_pacing_py``). ``IMPLEMENTATION`` says which (``"c"`` or ``"py"``). Both come from one
source, ``_pacing_py.py`` (Cython pure-Python mode, C types in ``_pacing_py.pxd``;
setup.py compiles it as ``_pacing_c``), so they cannot drift.

- :class:`PacingWheel`: a timing wheel on one loop, one timer for all pacers.
- :class:`Pacer`: what the wheel serves (subclass it and define ``pace(now)``).
- :class:`PacedWriter`: a :class:`Pacer` that writes queued frames to a transport one
  per ``step`` seconds; the streaming client's streams are PacedWriters.
- :class:`MessageCounter`: a shared count of frames written.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING

from .._kernels import _impl

if TYPE_CHECKING:
    from ._pacing_py import (
        DEFAULT_RESOLUTION,
        MessageCounter,
        PacedWriter,
        Pacer,
        PacingWheel,
    )

    IMPLEMENTATION: str
else:
    _mod = _impl.load("pacing", "scribewire.transport")
    DEFAULT_RESOLUTION = _mod.DEFAULT_RESOLUTION
    MessageCounter = _mod.MessageCounter
    PacedWriter = _mod.PacedWriter
    Pacer = _mod.Pacer
    PacingWheel = _mod.PacingWheel
    IMPLEMENTATION = "c" if _mod.__name__.endswith("_c") else "py"

__all__ = [
    "DEFAULT_RESOLUTION",
    "IMPLEMENTATION",
    "MessageCounter",
    "PacedWriter",
    "Pacer",
    "PacingWheel",
    "wheel_for_loop",
]

_WHEELS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PacingWheel] = (
    weakref.WeakKeyDictionary()
)


def wheel_for_loop(loop: asyncio.AbstractEventLoop | None = None) -> PacingWheel:
    """The shared wheel of ``loop`` (default: the running loop), created on first use."""
    if loop is None:
        loop = asyncio.get_running_loop()
    wheel = _WHEELS.get(loop)
    if wheel is None:
        wheel = _WHEELS[loop] = PacingWheel(loop)
    return wheel
