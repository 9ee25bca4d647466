"""What the local service needs beyond the core install, said in one line.

The ``pocketsphinx`` recognizer (the default of ``scribewire serve`` and of the
in-process service ``scribewire transcribe`` starts without AWS credentials) comes with
the ``local`` extra; ``replay`` and ``null`` need nothing more. :func:`require_recognizer`
raises :class:`LocalServiceUnavailable` before anything starts when the one asked for is
missing.
"""

from __future__ import annotations

import argparse
import importlib.util

from ..errors import ScribewireError

__all__ = ["INSTALL_HINT", "LocalServiceUnavailable", "add_processes_flag", "require_recognizer"]

#: How to get the local service's real recognizer.
INSTALL_HINT = "pip install 'scribewire[local]'"

#: recognizer name -> the module it imports.
_NEEDS = {"pocketsphinx": "pocketsphinx"}


class LocalServiceUnavailable(ScribewireError):
    """The local service's recognizer is not installed (its extra is missing)."""


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def require_recognizer(name: str) -> None:
    """Raise :class:`LocalServiceUnavailable` when recognizer ``name`` cannot be loaded.

    Raises:
        LocalServiceUnavailable: its one-line message says how to install it.
    """
    module = _NEEDS.get(name)
    if module is not None and not _installed(module):
        raise LocalServiceUnavailable(
            f"the local service's {name} recognizer is not installed: {INSTALL_HINT} "
            "(or --recognizer null for placeholder words)"
        )


def add_processes_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--recognizer-processes N``: how many worker processes run the local service's
    CPU-heavy recognizer (pocketsphinx); default the cores, 0 = in this process."""
    parser.add_argument(
        "--recognizer-processes",
        type=int,
        metavar="N",
        default=None,
        help="worker processes for the pocketsphinx recognizer (default: one per core; "
        "0 = in-process threads, one core in all)",
    )
