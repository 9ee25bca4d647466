"""Shared helpers for the benchmarks (pytest-benchmark; run ``pytest bench --benchmark-only``).

- ``peer(module, attr)``: import a peer implementation or skip the benchmark with the
  reason (peers are optional: pipecat must be installed with ``--no-deps``, see pyproject).
- ``twin(kernel, which)``: the ``"c"`` or ``"py"`` twin of a kernel, skipping when the
  native one is not built.
- ``rng``: a seeded ``random.Random`` (benchmarks use fixed inputs).
- ``shared_dir``: the shared data folder, as in ``tests/conftest.py``.

Benchmarks never assert timings; they assert the result is right, then time it.
"""

from __future__ import annotations

import importlib
import os
import random
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def peer(module: str, attr: str | None = None) -> Any:
    """``module`` (or ``module.attr``), or skip: "peer X unavailable: <error>"."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod = importlib.import_module(module)
        return getattr(mod, attr) if attr else mod
    except Exception as exc:  # noqa: BLE001 - any import failure means "skip this peer"
        pytest.skip(f"peer {module}{'.' + attr if attr else ''} unavailable: {exc!r}")


def twin(kernel: str, which: str) -> ModuleType:
    """The native (``"c"``) or pure (``"py"``) twin of ``kernel``, or skip."""
    if which == "c" and os.environ.get("SCRIBEWIRE_NO_EXTENSIONS"):
        pytest.skip("SCRIBEWIRE_NO_EXTENSIONS is set")
    try:
        return importlib.import_module(("scribewire.transport" if kernel == "pacing" else "scribewire._kernels") + f"._{kernel}_{which}")
    except ImportError as exc:
        pytest.skip(f"scribewire._{kernel}_{which} not available: {exc}")


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20240601)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    env = os.environ.get("SCRIBEWIRE_SHARED")
    for candidate in ([Path(env)] if env else []) + [ROOT.parent / "shared"]:
        if candidate.is_dir():
            return candidate
    pytest.skip("shared data not found: set SCRIBEWIRE_SHARED")
