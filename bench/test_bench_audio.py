"""PCM kernel and resampler benchmarks: 20 ms and 100 ms chunks at 8, 16 and 48 kHz.

Each group runs ours (native ``c`` and pure ``py``) next to the peers (audioop or
audioop-lts, numpy, ``soxr.ResampleStream``) and a memcpy floor (``bytearray(x)``: a copy
of the same input bytes through one Python call). Run::

    python -m pytest bench/test_bench_audio.py --benchmark-only

Resampling groups time a whole second of audio fed in chunks (``chunked``) against the
same second in one call (``one-shot``); the per-chunk overhead is
``(chunked - one-shot) / chunks`` and is reported in ``extra_info``.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import soxr

from scribewire import _audio_py
from scribewire.audio import Resampler

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

try:
    _audio_c: Any = importlib.import_module("scribewire._audio_c")
except ImportError:  # pure install
    _audio_c = None

RATES = [8000, 16000, 48000]
CHUNK_MS = [20, 100]
KERNELS = [("c", _audio_c), ("py", _audio_py)] if _audio_c is not None else [("py", _audio_py)]


def pcm_chunk(rate: int, ms: int) -> bytes:
    rng = np.random.default_rng(rate + ms)  # fixed seed
    n = rate * ms // 1000
    return (rng.standard_normal(n) * 4000).clip(-32768, 32767).astype("<i2").tobytes()


CASES = [(r, ms) for r in RATES for ms in CHUNK_MS]
IDS = [f"{r // 1000}k-{ms}ms" for r, ms in CASES]


def _run(benchmark: Any, fn: Callable[[Any], object], arg: Any, nbytes: int) -> None:
    benchmark.extra_info["input_bytes"] = nbytes
    benchmark(fn, arg)


# --------------------------------------------------------------------------- G.711 encode


@pytest.mark.parametrize("rate,ms", CASES, ids=IDS)
@pytest.mark.parametrize(
    "impl", ["memcpy", "c", "py", "audioop", "numpy"]
)
def test_ulaw_encode(benchmark: Any, rate: int, ms: int, impl: str) -> None:
    benchmark.group = f"ulaw_encode {rate // 1000}k {ms}ms"
    data = pcm_chunk(rate, ms)
    if impl == "memcpy":
        _run(benchmark, bytearray, data, len(data))
    elif impl == "audioop":
        _run(benchmark, lambda d: audioop.lin2ulaw(d, 2), data, len(data))
    elif impl == "numpy":
        # the usual numpy formulation of G.711 μ-law (log companding, not bit-exact)
        def np_ulaw(d: bytes) -> bytes:
            x = np.frombuffer(d, "<i2").astype(np.float32) / 32768
            y = np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255)
            return (((y + 1) / 2 * 255 + 0.5).astype(np.uint8) ^ 0xFF).tobytes()

        _run(benchmark, np_ulaw, data, len(data))
    else:
        mod = dict(KERNELS).get(impl)
        if mod is None:
            pytest.skip("native twin not built")
        _run(benchmark, mod.ulaw_encode, data, len(data))


@pytest.mark.parametrize("rate,ms", CASES, ids=IDS)
@pytest.mark.parametrize("impl", ["memcpy", "c", "py", "audioop"])
def test_ulaw_decode(benchmark: Any, rate: int, ms: int, impl: str) -> None:
    benchmark.group = f"ulaw_decode {rate // 1000}k {ms}ms"
    codes = audioop.lin2ulaw(pcm_chunk(rate, ms), 2)
    if impl == "memcpy":
        _run(benchmark, bytearray, codes, len(codes))
    elif impl == "audioop":
        _run(benchmark, lambda d: audioop.ulaw2lin(d, 2), codes, len(codes))
    else:
        mod = dict(KERNELS).get(impl)
        if mod is None:
            pytest.skip("native twin not built")
        _run(benchmark, mod.ulaw_decode, codes, len(codes))


@pytest.mark.parametrize("rate,ms", CASES, ids=IDS)
@pytest.mark.parametrize("impl", ["memcpy", "c", "py", "audioop"])
def test_alaw_encode(benchmark: Any, rate: int, ms: int, impl: str) -> None:
    benchmark.group = f"alaw_encode {rate // 1000}k {ms}ms"
    data = pcm_chunk(rate, ms)
    if impl == "memcpy":
        _run(benchmark, bytearray, data, len(data))
    elif impl == "audioop":
        _run(benchmark, lambda d: audioop.lin2alaw(d, 2), data, len(data))
    else:
        mod = dict(KERNELS).get(impl)
        if mod is None:
            pytest.skip("native twin not built")
        _run(benchmark, mod.alaw_encode, data, len(data))


# --------------------------------------------------------------------------- int16 <-> float32


@pytest.mark.parametrize("rate,ms", CASES, ids=IDS)
@pytest.mark.parametrize("impl", ["memcpy", "c", "py", "numpy"])
def test_int16_to_float32(benchmark: Any, rate: int, ms: int, impl: str) -> None:
    benchmark.group = f"int16_to_float32 {rate // 1000}k {ms}ms"
    data = pcm_chunk(rate, ms)
    if impl == "memcpy":
        _run(benchmark, bytearray, data, len(data))
    elif impl == "numpy":
        scale = np.float32(1 / 32768)
        _run(benchmark, lambda d: (np.frombuffer(d, "<i2") * scale).tobytes(), data, len(data))
    else:
        mod = dict(KERNELS).get(impl)
        if mod is None:
            pytest.skip("native twin not built")
        _run(benchmark, mod.int16_to_float32, data, len(data))


@pytest.mark.parametrize("rate,ms", CASES, ids=IDS)
@pytest.mark.parametrize("impl", ["memcpy", "c", "py", "numpy"])
def test_float32_to_int16(benchmark: Any, rate: int, ms: int, impl: str) -> None:
    benchmark.group = f"float32_to_int16 {rate // 1000}k {ms}ms"
    data = (np.frombuffer(pcm_chunk(rate, ms), "<i2") / np.float32(32768)).astype(np.float32)
    blob = data.tobytes()
    if impl == "memcpy":
        _run(benchmark, bytearray, blob, len(blob))
    elif impl == "numpy":

        def np_f2i(d: bytes) -> bytes:
            v = np.frombuffer(d, np.float32) * np.float32(32768)
            return np.rint(np.clip(v, -32768, 32767)).astype("<i2").tobytes()

        _run(benchmark, np_f2i, blob, len(blob))
    else:
        mod = dict(KERNELS).get(impl)
        if mod is None:
            pytest.skip("native twin not built")
        _run(benchmark, mod.float32_to_int16, blob, len(blob))


@pytest.mark.parametrize("impl", ["memcpy", "c", "py", "audioop"])
def test_telephony_stereo_8k_20ms(benchmark: Any, impl: str) -> None:
    """Agent + customer μ-law channels (160 codes each) to interleaved int16."""
    benchmark.group = "telephony_to_pcm stereo 8k 20ms"
    a = audioop.lin2ulaw(pcm_chunk(8000, 20), 2)
    b = audioop.lin2ulaw(pcm_chunk(8001, 20), 2)
    if impl == "memcpy":
        _run(benchmark, bytearray, a + b, 320)
    elif impl == "audioop":

        def ref(pair: tuple[bytes, bytes]) -> bytes:
            left = audioop.tostereo(audioop.ulaw2lin(pair[0], 2), 2, 1, 0)
            right = audioop.tostereo(audioop.ulaw2lin(pair[1], 2), 2, 0, 1)
            return audioop.add(left, right, 2)

        _run(benchmark, ref, (a, b), 320)
    else:
        mod = dict(KERNELS).get(impl)
        if mod is None:
            pytest.skip("native twin not built")
        _run(benchmark, mod.telephony_to_pcm, [a, b], 320)


# --------------------------------------------------------------------------- resampling


RS_CASES = [(48000, 16000), (8000, 16000), (16000, 8000), (44100, 16000)]


@pytest.mark.parametrize("in_rate,out_rate", RS_CASES, ids=[f"{a}-{b}" for a, b in RS_CASES])
@pytest.mark.parametrize("impl", ["ours-chunked", "ours-one-shot", "soxr-chunked", "soxr-one-shot"])
def test_resample_20ms_chunks(benchmark: Any, in_rate: int, out_rate: int, impl: str) -> None:
    """One second of int16 mono: 50 chunks of 20 ms, or one call."""
    benchmark.group = f"resample 1 s in 20 ms chunks {in_rate}->{out_rate}"
    pcm = np.frombuffer(pcm_chunk(in_rate, 1000), "<i2")
    step = in_rate // 50
    chunks = [pcm[i : i + step].tobytes() for i in range(0, len(pcm), step)]
    chunks_np = [pcm[i : i + step] for i in range(0, len(pcm), step)]
    benchmark.extra_info["chunks"] = len(chunks)
    if impl.startswith("ours"):
        r = Resampler(in_rate, out_rate)
        if impl == "ours-chunked":

            def run(cs: list[bytes]) -> int:
                n = 0
                for c in cs:
                    n += len(r.process(c))
                return n + len(r.flush())

            benchmark(run, chunks)
        else:
            whole = pcm.tobytes()
            benchmark(lambda w: len(r.process(w)) + len(r.flush()), whole)
    else:
        s = soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16")
        if impl == "soxr-chunked":

            def run_s(cs: list[np.ndarray]) -> int:
                n = 0
                for c in cs:
                    n += len(s.resample_chunk(c))
                n += len(s.resample_chunk(cs[0][:0], last=True))
                s.clear()
                return n

            benchmark(run_s, chunks_np)
        else:

            def one(w: np.ndarray) -> int:
                n = len(s.resample_chunk(w, last=True))
                s.clear()
                return n

            benchmark(one, pcm)
