"""CRC-32 (protocol.md §1.2): bit-identical to ``zlib.crc32`` on every code path.

Every path this CPU can run (``_crc32_c.PATHS``: the table fallback, PCLMULQDQ,
VPCLMULQDQ, ...) is checked through ``_crc32_c._crc32_with``, and the dispatched
``crc32`` of each twin through ``scribewire.crc``.
"""

from __future__ import annotations

import array
import os
import re
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import ROOT, twin_params

import scribewire
from scribewire import crc

TWINS = twin_params("crc32")

try:
    from scribewire._kernels import _crc32_c
except ImportError:  # pure install: the native-only tests skip
    _crc32_c = None  # type: ignore[assignment]

native = pytest.mark.skipif(_crc32_c is None, reason="native _crc32_c not built")
PATHS = list(_crc32_c.PATHS) if _crc32_c is not None else []


def _path_fn(path: str) -> Callable[..., int]:
    def fn(data: object, value: int = 0) -> int:
        return _crc32_c._crc32_with(path, data, value)  # type: ignore[union-attr]

    return fn


def _aligned(nbytes: int, seed: int) -> np.ndarray:
    """Random bytes whose element 0 sits on a 64-byte boundary."""
    raw = np.random.default_rng(seed).integers(0, 256, nbytes + 64, dtype=np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start : start + nbytes]


def test_check_value() -> None:
    # CRC-32/ISO-HDLC check value (protocol.md §1.2)
    assert scribewire.crc32(b"123456789") == 0xCBF43926
    assert crc.crc32(b"") == 0
    assert crc.IMPLEMENTATION in ("zlib", "table", "pclmulqdq", "vpclmulqdq", "armv8-crc")


@pytest.mark.parametrize("mod", TWINS)
def test_buffer_types_and_seeds(mod: ModuleType) -> None:
    data = bytes(range(256)) * 40
    want = zlib.crc32(data)
    arr = np.frombuffer(data, dtype=np.int16)
    for obj in (data, bytearray(data), memoryview(data), arr, arr.reshape(80, 64),
                array.array("h", arr.tolist()), memoryview(arr).cast("B")):
        assert mod.crc32(obj) == want
    # running value, incl. values zlib masks to 32 bits
    assert mod.crc32(data[1000:], mod.crc32(data[:1000])) == want
    for seed in (1, 0xFFFFFFFF, -1, 2**40 + 5):
        assert mod.crc32(data, seed) == zlib.crc32(data, seed)
    assert mod.crc32(b"", 0x12345678) == 0x12345678


@pytest.mark.parametrize("mod", TWINS)
def test_bad_inputs_raise_like_zlib(mod: ModuleType) -> None:
    with pytest.raises(TypeError):
        mod.crc32("text")
    with pytest.raises(TypeError):
        mod.crc32(None)
    with pytest.raises(BufferError):
        mod.crc32(memoryview(bytes(64))[::2])
    with pytest.raises(ValueError):
        mod.crc32(np.zeros(64, dtype=np.uint8)[::2])


@native
@pytest.mark.parametrize("path", PATHS)
def test_every_length_and_alignment(path: str) -> None:
    """Lengths 0..8192 at alignments 0..63, random seeds, against zlib."""
    fn = _path_fn(path)
    buf = _aligned(8192 + 64, seed=1)
    view = memoryview(buf)
    seeds = np.random.default_rng(2).integers(0, 2**32, 8193, dtype=np.uint64).tolist()
    for align in range(64):
        window = view[align:]
        got = [fn(window[:n], seeds[n]) for n in range(8193)]
        want = [zlib.crc32(window[:n], seeds[n]) for n in range(8193)]
        if got != want:
            bad = next(n for n in range(8193) if got[n] != want[n])
            pytest.fail(f"{path}: mismatch at length {bad}, alignment {align}")


@native
@pytest.mark.parametrize("path", PATHS)
def test_large_buffer(path: str) -> None:
    data = _aligned(64 << 20, seed=3)
    assert _path_fn(path)(data) == zlib.crc32(data)
    assert _path_fn(path)(data[5:], 77) == zlib.crc32(data[5:], 77)


@native
def test_paths_cover_this_cpu() -> None:
    assert _crc32_c is not None
    assert "table" in PATHS
    assert _crc32_c.IMPLEMENTATION in PATHS
    with pytest.raises(ValueError):
        _crc32_c._crc32_with("no-such-path", b"")
    with open("/proc/cpuinfo") if Path("/proc/cpuinfo").exists() else open(__file__) as f:
        flags = f.read()
    if re.search(r"\bpclmulqdq\b", flags):
        assert "pclmulqdq" in PATHS
    if all(re.search(rf"\b{f}\b", flags) for f in ("vpclmulqdq", "avx512f", "avx512vl")):
        assert "vpclmulqdq" in PATHS
        # the dispatcher picks the widest path unless SCRIBEWIRE_CRC32_PATH forces one
        forced = os.environ.get("SCRIBEWIRE_CRC32_PATH", "").strip().lower()
        assert _crc32_c.IMPLEMENTATION == (forced if forced not in ("", "auto") else "vpclmulqdq")


@native
def test_gil_released_threads_agree() -> None:
    assert _crc32_c is not None
    data = _aligned(_crc32_c.GIL_RELEASE_NBYTES * 16, seed=4)
    want = zlib.crc32(data)
    results: list[int] = []

    def work() -> None:
        for _ in range(5):
            results.append(_crc32_c.crc32(data))  # type: ignore[union-attr]

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [want] * 20


def _reflected_fold_constant(exponent: int) -> int:
    """reflect32(x^exponent mod P) << 1, P = 0x104C11DB7 (the CRC-32 polynomial)."""
    r = 1
    for _ in range(exponent):
        r <<= 1
        if r >> 32:
            r ^= 0x104C11DB7
    return int(f"{r:032b}"[::-1], 2) << 1


def test_fold_constants_derived_from_polynomial() -> None:
    """The folding constants in csrc/crc32.c equal x^(D±32) mod P, recomputed here."""
    source = ROOT / "csrc" / "crc32.c"
    if not source.exists():
        pytest.skip("csrc/crc32.c not present (installed wheel)")
    consts = dict(re.findall(r"#define K_D(\d+_(?:LO|HI)) (0x[0-9a-f]+)ULL", source.read_text()))
    assert len(consts) == 10
    for key, value in consts.items():
        distance, half = key.split("_")
        exponent = int(distance) + (32 if half == "LO" else -32)
        assert int(value, 16) == _reflected_fold_constant(exponent), key


@native
def test_path_forced_by_environment() -> None:
    import os
    import subprocess
    import sys

    code = "from scribewire import crc, eventstream; print(crc.IMPLEMENTATION)"
    env = {k: v for k, v in os.environ.items() if k != "SCRIBEWIRE_NO_EXTENSIONS"}
    run = subprocess.run(
        [sys.executable, "-c", code], env={**env, "SCRIBEWIRE_CRC32_PATH": "table"},
        capture_output=True, text=True, check=True,
    )
    assert run.stdout.strip() == "table"
    bad = subprocess.run(
        [sys.executable, "-c", code], env={**env, "SCRIBEWIRE_CRC32_PATH": "bogus"},
        capture_output=True, text=True,
    )
    assert bad.returncode != 0 and "SCRIBEWIRE_CRC32_PATH='bogus'" in bad.stderr
