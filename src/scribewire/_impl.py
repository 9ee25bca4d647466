"""Chooses between the native kernels and their pure-Python twins.

The native twin is used unless ``SCRIBEWIRE_NO_EXTENSIONS`` is set to a non-empty value
or the interpreter is not CPython. ``load(name)`` returns the module
``scribewire._<name>_c`` or, failing that, ``scribewire._<name>_py``.
"""

from __future__ import annotations

import importlib
import os
import platform
from types import ModuleType

__all__ = ["NO_EXTENSIONS", "load"]

NO_EXTENSIONS: bool = bool(os.environ.get("SCRIBEWIRE_NO_EXTENSIONS")) or (
    platform.python_implementation() != "CPython"
)


def load(name: str) -> ModuleType:
    """The native module ``_<name>_c`` when allowed and importable, else ``_<name>_py``."""
    if not NO_EXTENSIONS:
        try:
            return importlib.import_module(f"scribewire._{name}_c")
        except ImportError:
            pass
    return importlib.import_module(f"scribewire._{name}_py")
