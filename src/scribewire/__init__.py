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
    "TranscribeClient",
    "TranscribeStream",
    "__version__",
    "crc32",
    "errors",
]


def __getattr__(name: str) -> object:
    # The client pulls in websockets, numpy and soxr: imported on first use only.
    if name in ("TranscribeClient", "TranscribeStream"):
        from . import clients as client

        return getattr(client, name)
    raise AttributeError(f"module 'scribewire' has no attribute {name!r}")
