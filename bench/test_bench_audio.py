"""PCM kernel and resampler benchmarks: 20 ms and 100 ms chunks at 8, 16 and 48 kHz.

Each group runs ours (native ``c`` with its AVX-512 kernels where the CPU has them,
``c-portable`` with the compiler-vectorised C, and the pure ``py`` twin) next to the peers
(audioop or audioop-lts, numpy, ``soxr.ResampleStream``) and a memcpy floor
(``bytearray(x)``: a copy of the same input bytes through one Python call). Run::

    python -m pytest bench/test_bench_audio.py --benchmark-only

Every benchmark first checks its result (bit-exact with audioop or the pure twin), then
times it. Resampling groups time a whole second of audio fed in 20 ms chunks
(``chunked``) against the same second in one call (``one-shot``); the per-chunk overhead
is ``(chunked - one-shot) / 50``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import soxr
from conftest import twin

from scribewire.audio import Resampler

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

CASES = [(r, ms) for r in (8000, 16000, 48000) for ms in (20, 100)]


def pcm(rate: int, ms: int, seed: int = 0) -> bytes:
    """int16 LE noise, fixed seed."""
    rng = np.random.default_rng(rate + ms + seed)
    n = rate * ms // 1000
    return (rng.standard_normal(n) * 4000).clip(-32768, 32767).astype("<i2").tobytes()


def f32(rate: int, ms: int) -> bytes:
    return (np.frombuffer(pcm(rate, ms), "<i2") / np.float32(32768)).astype(np.float32).tobytes()


def ulaw(rate: int, ms: int) -> bytes:
    return audioop.lin2ulaw(pcm(rate, ms), 2)


def stereo_ulaw(rate: int, ms: int) -> list[bytes]:
    """Agent and customer μ-law channels, one buffer each."""
    return [ulaw(rate, ms), audioop.lin2ulaw(pcm(rate, ms, seed=1), 2)]


# ---------------------------------------------------------------------------- peers


def np_ulaw(d: bytes) -> bytes:
    """The usual numpy formulation of μ-law (log companding; not bit-exact)."""
    x = np.frombuffer(d, "<i2").astype(np.float32) / 32768
    y = np.sign(x) * np.log1p(255 * np.abs(x)) / np.log1p(255)
    return (((y + 1) / 2 * 255 + 0.5).astype(np.uint8) ^ 0xFF).tobytes()


def np_i2f(d: bytes) -> bytes:
    return (np.frombuffer(d, "<i2") * np.float32(1 / 32768)).tobytes()


def np_f2i(d: bytes) -> bytes:
    v = np.frombuffer(d, np.float32) * np.float32(32768)
    return np.rint(np.clip(v, -32768, 32767)).astype("<i2").tobytes()


def audioop_stereo(pair: list[bytes]) -> bytes:
    left = audioop.tostereo(audioop.ulaw2lin(pair[0], 2), 2, 1, 0)
    right = audioop.tostereo(audioop.ulaw2lin(pair[1], 2), 2, 0, 1)
    return audioop.add(left, right, 2)


# kernel -> (input maker, peers, exact reference or None to use the pure twin)
Peer = Callable[[Any], bytes]
KERNELS: dict[str, tuple[Callable[[int, int], Any], dict[str, Peer], Peer | None]] = {
    "ulaw_encode": (
        pcm,
        {"audioop": lambda d: audioop.lin2ulaw(d, 2), "numpy": np_ulaw},
        lambda d: audioop.lin2ulaw(d, 2),
    ),
    "alaw_encode": (pcm, {"audioop": lambda d: audioop.lin2alaw(d, 2)}, None),
    "ulaw_decode": (ulaw, {"audioop": lambda d: audioop.ulaw2lin(d, 2)}, None),
    "alaw_decode": (ulaw, {"audioop": lambda d: audioop.alaw2lin(d, 2)}, None),
    "int16_to_float32": (pcm, {"numpy": np_i2f}, np_i2f),
    "float32_to_int16": (f32, {"numpy": np_f2i}, np_f2i),
    "telephony_to_pcm": (stereo_ulaw, {"audioop": audioop_stereo}, audioop_stereo),
}
OURS = ["c", "c-portable", "py"]
PARAMS = [
    pytest.param(k, i, r, ms, id=f"{k}-{i}-{r // 1000}k-{ms}ms")
    for k, (_, peers, _) in KERNELS.items()
    for r, ms in (CASES if k != "telephony_to_pcm" else [(8000, 20), (8000, 100)])
    for i in ["memcpy", *OURS, *peers]
]


@pytest.fixture
def native_path(request: pytest.FixtureRequest) -> Iterator[None]:
    """Pins the native kernels to the portable path for ``c-portable`` rows."""
    impl = request.node.callspec.params.get("impl")
    if impl != "c-portable":
        yield
        return
    c = twin("audio", "c")
    default = c._simd()
    c._simd(False)
    try:
        yield
    finally:
        c._simd(default == "avx512")


@pytest.mark.parametrize("kernel,impl,rate,ms", PARAMS)
def test_kernel(
    benchmark: Any, native_path: None, kernel: str, impl: str, rate: int, ms: int
) -> None:
    make, peers, exact = KERNELS[kernel]
    arg = make(rate, ms)
    flat = b"".join(arg) if isinstance(arg, list) else arg
    benchmark.group = f"{kernel} {rate // 1000}k {ms}ms"
    benchmark.extra_info["input_bytes"] = len(flat)
    if impl == "memcpy":
        fn: Callable[[Any], object] = bytearray
        arg = flat
    elif impl in peers:
        fn = peers[impl]
    else:
        fn = getattr(twin("audio", "py" if impl == "py" else "c"), kernel)
        ref = exact(arg) if exact is not None else getattr(twin("audio", "py"), kernel)(arg)
        assert fn(arg) == ref
    benchmark(fn, arg)


# ---------------------------------------------------------------------------- resampling


RS_CASES = [(48000, 16000), (8000, 16000), (16000, 8000), (44100, 16000)]
RS_IMPLS = [f"{who}-{how}" for who in ("c", "py", "soxr") for how in ("chunked", "one-shot")]


@pytest.mark.parametrize("in_rate,out_rate", RS_CASES, ids=[f"{a}-{b}" for a, b in RS_CASES])
@pytest.mark.parametrize("impl", [*RS_IMPLS, "memcpy-chunked"])
def test_resample_20ms_chunks(benchmark: Any, in_rate: int, out_rate: int, impl: str) -> None:
    """One second of int16 mono: 50 chunks of 20 ms, or one call; then the flush.

    ``c`` is ``Resampler`` on the native twin (libsoxr called directly), ``py`` the pure
    twin's engine (python-soxr ``ResampleStream`` in float32 plus numpy conversions),
    ``soxr`` python-soxr's own int16 ``ResampleStream``.
    """
    benchmark.group = f"resample 1 s in 20 ms chunks {in_rate}->{out_rate}"
    whole = pcm(in_rate, 1000)
    step = 2 * in_rate // 50
    chunks = [whole[i : i + step] for i in range(0, len(whole), step)]
    benchmark.extra_info["chunks"] = len(chunks)
    who, how = impl.split("-", 1)
    if who == "memcpy":
        benchmark(lambda cs: [bytearray(c) for c in cs], chunks)
        return
    if who == "soxr":
        s = soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16")
        arrays = [np.frombuffer(c, "<i2") for c in chunks]

        def run_soxr(parts: list[np.ndarray]) -> int:
            n = sum(len(s.resample_chunk(p)) for p in parts)
            n += len(s.resample_chunk(parts[0][:0], last=True))
            s.clear()
            return n

        parts = arrays if how == "chunked" else [np.frombuffer(whole, "<i2")]
        benchmark(run_soxr, parts)
        return
    if who == "c":
        twin("audio", "c")
        r: Any = Resampler(in_rate, out_rate)
        assert "direct" in r.engine or "python-soxr" in r.engine
    else:
        r = twin("audio", "py").soxr_stream(in_rate, out_rate, 1, "HQ", "int16")
    want = b"".join(r.process(c) for c in chunks) + r.flush()
    assert r.process(whole) + r.flush() == want  # chunked == one-shot

    def run(parts: list[bytes]) -> int:
        return sum(len(r.process(p)) for p in parts) + len(r.flush())

    benchmark(run, chunks if how == "chunked" else [whole])
