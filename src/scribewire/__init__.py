"""scribewire: stream live audio to real-time speech-to-text services at wire speed.

Layers (imports only go downward, DESIGN.md): apps (``cli``, ``server``) > I/O
(``transport``, ``clients``) > sans-I/O (``streaming``, ``transcribe``) > kernels
(``eventstream``, ``audio``, ``crc``, ``wsframe`` over ``_kernels``).

The clients are imported on first use (they pull in websockets, numpy and soxr); type
checkers see the real classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import errors
from .crc import crc32
from .errors import (
    ProtocolError,
    ScribewireError,
    ServiceError,
)

if TYPE_CHECKING:
    from .clients import AssemblyAIClient, AssemblyAIStream, TranscribeClient, TranscribeStream

__version__ = "0.1.0"

_LAZY = {
    "AssemblyAIClient": "clients",
    "AssemblyAIStream": "clients",
    "TranscribeClient": "clients",
    "TranscribeStream": "clients",
}

__all__ = [
    "ProtocolError",
    "ScribewireError",
    "ServiceError",
    "AssemblyAIClient",
    "AssemblyAIStream",
    "TranscribeClient",
    "TranscribeStream",
    "__version__",
    "crc32",
    "errors",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is not None:
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value  # once
        return value
    raise AttributeError(f"module 'scribewire' has no attribute {name!r}")
