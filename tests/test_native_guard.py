"""Fails when a native module should have loaded and did not.

"Should" means: ``SCRIBEWIRE_REQUIRE_EXTENSIONS=1`` (set by CI after a forced native
build) and ``SCRIBEWIRE_NO_EXTENSIONS`` unset.
"""

from __future__ import annotations

import importlib
import os

import pytest

NATIVE = ["crc32", "eventstream", "audio", "wsframe", "wsserver", "pacing"]

required = os.environ.get("SCRIBEWIRE_REQUIRE_EXTENSIONS") == "1" and not os.environ.get(
    "SCRIBEWIRE_NO_EXTENSIONS"
)


@pytest.mark.parametrize("name", NATIVE)
def test_native_module_loaded(name: str) -> None:
    if not required:
        pytest.skip("native modules not required (SCRIBEWIRE_REQUIRE_EXTENSIONS!=1 or NO_EXTENSIONS set)")
    importlib.import_module("scribewire.transport._pacing_c" if name == "pacing" else f"scribewire._kernels._{name}_c")  # raises ImportError with the reason


def test_selector_honours_no_extensions() -> None:
    from scribewire import crc, eventstream
    from scribewire._kernels import _impl

    if os.environ.get("SCRIBEWIRE_NO_EXTENSIONS"):
        assert _impl.NO_EXTENSIONS
        assert eventstream.IMPLEMENTATION == "py"
        assert crc.IMPLEMENTATION == "zlib"
    elif required:
        assert eventstream.IMPLEMENTATION == "c"
        assert crc.IMPLEMENTATION != "zlib"
