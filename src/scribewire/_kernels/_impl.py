"""Chooses between the native kernels and their pure-Python twins.

The native twin is used unless ``SCRIBEWIRE_NO_EXTENSIONS`` is set to a non-empty value
or the interpreter is not CPython. ``load(name)`` returns the module
``scribewire._kernels._<name>_c`` or, failing that, ``scribewire._kernels._<name>_py``;
``load(name, package)`` looks in another package (the pacer lives in ``transport``).
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


def load(name: str, package: str = "scribewire._kernels") -> ModuleType:
    """The native module ``_<name>_c`` when allowed and importable, else ``_<name>_py``."""
    if not NO_EXTENSIONS:
        try:
            return importlib.import_module(f"{package}._{name}_c")
        except ImportError:
            pass
    return importlib.import_module(f"{package}._{name}_py")
