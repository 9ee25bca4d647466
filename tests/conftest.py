"""Shared fixtures.

- ``shared_dir``: the project's shared data (``$SCRIBEWIRE_SHARED`` or ``../shared`` beside
  the checkout); tests that need it skip with a clear reason when it is absent.
- ``impl``: parametrises a test over the kernel twins that are available ("py" always,
  "c" when the native module loads and ``SCRIBEWIRE_NO_EXTENSIONS`` is unset).
- the ``timing`` marker goes on every test of the modules in ``TIMING_MODULES``: they
  assert wall-clock spacing or deadlines of the pacer, which a loaded or emulated runner
  may miss. The wheel test command of cibuildwheel leaves them out (``-m 'not timing'``).
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from types import ModuleType

import pytest

from scribewire._kernels import _impl

ROOT = Path(__file__).resolve().parent.parent


#: Modules whose tests assert wall-clock deadlines or spacing (see the docstring).
TIMING_MODULES = frozenset({"test_client_pacing.py", "test_pacing_writer.py"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in TIMING_MODULES:
            item.add_marker(pytest.mark.timing)


def shared_path() -> Path | None:
    env = os.environ.get("SCRIBEWIRE_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared")
    for c in candidates:
        if (c / "vectors").is_dir() or (c / "audio").is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    p = shared_path()
    if p is None:
        pytest.skip("shared data not found: set SCRIBEWIRE_SHARED or place ../shared beside the checkout")
    return p


def twin_module(name: str, which: str) -> str:
    """The dotted name of kernel ``name``'s twin ``which`` (``"c"`` or ``"py"``)."""
    package = "scribewire.transport" if name == "pacing" else "scribewire._kernels"
    return f"{package}._{name}_{which}"


def twins(name: str) -> list[ModuleType]:
    """The importable twins of kernel ``name``: the pure one, plus the native one if allowed."""
    mods = [importlib.import_module(twin_module(name, "py"))]
    if not _impl.NO_EXTENSIONS:
        try:
            mods.append(importlib.import_module(twin_module(name, "c")))
        except ImportError:
            if os.environ.get("SCRIBEWIRE_REQUIRE_EXTENSIONS"):
                raise
    return mods


def twin_params(name: str) -> list[object]:
    return [pytest.param(m, id=m.__name__.rsplit("_", 1)[-1]) for m in twins(name)]


def words_of(text: str) -> list[str]:
    """The corpus' WER normalisation (MANIFEST.json ``wer_normalisation``)."""
    digits = "zero one two three four five six seven eight nine".split()
    text = re.sub(r"[^a-z0-9 ]", " ", text.lower().replace("'", ""))
    return [digits[int(w)] if w.isdigit() and len(w) == 1 else w for w in text.split()]
