"""CRC32 throughput: ours (dispatched, and each path this CPU runs) vs ``zlib.crc32``.

Goal (DESIGN.md): >= 5x zlib at 3.2 KB and 64 KB; the table fallback no slower than zlib.
256 B is the shortest input the VPCLMULQDQ path takes (shorter ones go to PCLMULQDQ), where
the fixed cost of a call (and of leaving AVX-512 state behind) weighs most.
"""

from __future__ import annotations

import zlib

import pytest
from conftest import twin

SIZES = [256, 3200, 65536]


def _data(size: int) -> bytes:
    return bytes((i * 131 + 7) & 0xFF for i in range(size))


IMPLS = ["zlib", "ours", "path:table", "path:pclmulqdq", "path:vpclmulqdq"]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("impl", IMPLS)
def test_crc32(benchmark, size: int, impl: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"crc32 {size} B"
    data = _data(size)
    want = zlib.crc32(data)
    if impl == "zlib":
        fn, args = zlib.crc32, (data,)
    else:
        mod = twin("crc32", "c")
        if impl == "ours":
            fn, args = mod.crc32, (data,)
        else:
            path = impl.split(":", 1)[1]
            if path not in mod.PATHS:
                pytest.skip(f"this CPU cannot run {path}")
            fn, args = mod._crc32_with, (path, data)
    assert fn(*args) == want
    benchmark.extra_info["bytes"] = size
    benchmark(fn, *args)
