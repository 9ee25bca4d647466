"""Every public module's ``__all__`` names exist, and kernel twins export the same names."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from conftest import twins

import scribewire

PUBLIC = sorted(
    m.name
    for m in pkgutil.walk_packages(scribewire.__path__, "scribewire.")
    if not m.name.rsplit(".", 1)[-1].startswith("_")
)


def test_public_modules_found() -> None:
    assert {"scribewire.crc", "scribewire.errors", "scribewire.eventstream"} <= set(PUBLIC)


@pytest.mark.parametrize("name", ["scribewire", *PUBLIC])
def test_all_names_exist(name: str) -> None:
    try:
        mod = importlib.import_module(name)
    except ImportError as exc:
        # an optional dependency of an app module may be absent; a broken import of our
        # own (a moved module, a twin that fails to load) is a failure
        missing = getattr(exc, "name", None) or ""
        if missing == "scribewire" or missing.startswith("scribewire."):
            raise
        pytest.skip(f"{name} needs {missing or 'something'}, not installed: {exc}")
    names = getattr(mod, "__all__", None)
    assert names is not None, f"{name} has no __all__"
    assert len(names) == len(set(names)), f"{name}.__all__ has duplicates"
    missing = [n for n in names if not hasattr(mod, n)]
    assert not missing, f"{name}.__all__ names missing attributes: {missing}"


@pytest.mark.parametrize("kernel", ["audio", "crc32", "eventstream", "wsframe", "wsserver", "pacing"])
def test_twins_export_the_same_names(kernel: str) -> None:
    mods = twins(kernel)
    if len(mods) < 2:
        pytest.skip(f"native _{kernel}_c not available")
    py, c = mods
    assert sorted(py.__all__) == sorted(c.__all__)
    for name in py.__all__:
        assert hasattr(c, name), name

