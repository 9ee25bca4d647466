"""scribewire: stream live audio to real-time speech-to-text services at wire speed.

Layers (imports only go downward): apps (``cli``, ``server``) > client (asyncio +
websockets) > sans-I/O protocol sessions (``transcribe``) > codecs (``eventstream``,
``audio``, ``crc``) > native kernels and their pure-Python twins.
"""

from __future__ import annotations

from . import errors
from .crc import crc32
from .errors import (
    ProtocolError,
    ScribewireError,
    ServiceError,
)

__version__ = "0.1.0"

__all__ = [
    "ProtocolError",
    "ScribewireError",
    "ServiceError",
    "__version__",
    "crc32",
    "errors",
]
