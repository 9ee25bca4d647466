"""Native PCM kernels: the AVX-512 and the portable (compiler-vectorised) paths, both checked.

The native twin picks its vector kernels at import by the CPU (``_audio_c._simd()``); these
tests switch between them so that each path is proved bit-exact against audioop and the
pure twin on this machine, including every loop-tail length and unaligned buffers.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator
from types import ModuleType

import numpy as np
import pytest

from scribewire._kernels import _audio_py, _impl

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ALL_INT16 = np.arange(-32768, 32768, dtype="<i2").tobytes()
ALL_CODES = bytes(range(256))


def _native() -> ModuleType:
    if _impl.NO_EXTENSIONS:
        pytest.skip("SCRIBEWIRE_NO_EXTENSIONS is set: pure twin only")
    try:
        return importlib.import_module("scribewire._kernels._audio_c")
    except ImportError:
        pytest.skip("native twin not built")


@pytest.fixture(params=["avx512", "auto"])
def c(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    mod = _native()
    default = mod._simd()
    if mod._simd(request.param == "avx512") != request.param:
        pytest.skip("this CPU has no AVX-512 (F, BW, VL)")
    try:
        yield mod
    finally:
        mod._simd(default == "avx512")


def test_switch_reports_the_path_in_use() -> None:
    mod = _native()
    default = mod._simd()
    try:
        assert mod._simd(False) == "auto"
        assert mod._simd() == "auto"
        assert mod._simd(True) in ("avx512", "auto")
    finally:
        mod._simd(default == "avx512")
    assert mod._simd() == default


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_g711_all_inputs_match_audioop(c: ModuleType, law: str) -> None:
    assert getattr(c, f"{law}_encode")(ALL_INT16) == getattr(audioop, f"lin2{law}")(ALL_INT16, 2)
    assert getattr(c, f"{law}_decode")(ALL_CODES) == getattr(audioop, f"{law}2lin")(ALL_CODES, 2)


def test_every_tail_length_and_offset(c: ModuleType) -> None:
    """Lengths 0..130 (all remainders of 16- and 32-lane loops) at byte offsets 0..3."""
    rng = np.random.default_rng(11)
    pcm = rng.integers(-32768, 32768, 140, dtype=np.int16).astype("<i2").tobytes()
    codes = rng.integers(0, 256, 140, dtype=np.uint8).tobytes()
    f32 = (rng.standard_normal(140) * 0.8).astype(np.float32)
    f32[::7] = [np.nan, np.inf, -np.inf, 2.0, -2.0, 0.5 / 32768, 1.5 / 32768, -0.5 / 32768,
                32767.5 / 32768, -32768.5 / 32768, 1.0, -1.0, 0.0, -0.0, 3e38, -3e38, 1e-30,
                -1e-30, 0.25, -0.75][: len(f32[::7])]
    f32b = f32.tobytes()
    for n in range(131):
        for off in range(4):
            x = memoryview(bytearray(b"\0" * off + pcm[: 2 * n]))[off:]
            q = memoryview(bytearray(b"\0" * off + codes[:n]))[off:]
            q2 = memoryview(bytearray(b"\0" * off + codes[5 : 5 + n]))[off:]
            f = memoryview(bytearray(b"\0" * off + f32b[: 4 * n]))[off:]
            ctx = f"n={n} offset={off}"
            assert c.ulaw_encode(x) == audioop.lin2ulaw(bytes(x), 2), ctx
            assert c.alaw_encode(x) == audioop.lin2alaw(bytes(x), 2), ctx
            assert c.ulaw_decode(q) == audioop.ulaw2lin(bytes(q), 2), ctx
            assert c.alaw_decode(q) == audioop.alaw2lin(bytes(q), 2), ctx
            assert c.int16_to_float32(x) == _audio_py.int16_to_float32(bytes(x)), ctx
            assert c.float32_to_int16(f) == _audio_py.float32_to_int16(bytes(f)), ctx
            for enc in ("mulaw", "alaw"):
                got = c.telephony_to_pcm([q, q2], enc)
                assert got == _audio_py.telephony_to_pcm([bytes(q), bytes(q2)], enc), ctx


def test_outputs_stop_at_their_end(c: ModuleType) -> None:
    """Masked tail stores write no byte past the output (``out=`` with a guard region)."""
    for n in (1, 15, 17, 31, 33, 63, 65):
        pcm = bytes(range(2 * n))
        codes = bytes(range(n))
        for fn, arg, nbytes in [
            (c.ulaw_encode, pcm, n),
            (c.alaw_encode, pcm, n),
            (c.ulaw_decode, codes, 2 * n),
            (c.int16_to_float32, pcm, 4 * n),
            (c.float32_to_int16, bytes(4 * n), 2 * n),
        ]:
            out = bytearray(b"\xa5" * (nbytes + 64))
            fn(arg, out=out)
            assert out[nbytes:] == b"\xa5" * 64, (fn.__name__, n)
        out = bytearray(b"\xa5" * (4 * n + 64))
        c.telephony_to_pcm([codes, codes], out=out)
        assert out[4 * n :] == b"\xa5" * 64, n


def test_float32_to_int16_all_int16_values_and_halves(c: ModuleType) -> None:
    k = np.arange(-32769, 32769, dtype=np.float64)
    x = np.concatenate([k, k + 0.5, k - 0.25]).astype(np.float32) / np.float32(32768)
    ref = np.rint(np.clip(x * np.float32(32768), -32768, 32767)).astype("<i2")
    assert c.float32_to_int16(x) == ref.tobytes()
