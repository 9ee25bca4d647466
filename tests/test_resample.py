"""Streaming resampler: chunked == one-shot, soxr-HQ quality on real speech, stopband."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from scipy.signal import fftconvolve, firwin

from scribewire.audio import Resampler
from scribewire.errors import AudioFormatError, AudioTypeError

RATE_PAIRS = [(8000, 16000), (16000, 8000), (48000, 16000), (44100, 16000), (16000, 44100)]
CHUNKS = [1, 2, 3, 7, 17, 160, 509, 1600, 4800]


def speech(shared_dir: Path, rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    """Real speech at ``rate`` as float64 frames (frames, channels)."""
    path = shared_dir / "audio" / "jfk_inaugural_1961.flac"
    x, sr = sf.read(path, dtype="float64", always_2d=True)
    x = x[: int(sr * seconds) + 1, :channels]
    if sr != rate:
        x = soxr.resample(x, sr, rate, "VHQ")
    return np.asarray(x[: int(rate * seconds)])


def to_int16(x: np.ndarray) -> bytes:
    return np.rint(np.clip(x * 32768, -32768, 32767)).astype("<i2").tobytes()


def run_chunked(r: Resampler, data: bytes, frame_bytes: int, sizes: list[int]) -> bytes:
    out = []
    pos, i = 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)] * frame_bytes
        out.append(r.process(data[pos : pos + n]))
        pos += n
        i += 1
    out.append(r.flush())
    return b"".join(out)


@pytest.mark.parametrize("in_rate,out_rate", RATE_PAIRS)
@pytest.mark.parametrize("channels", [1, 2])
def test_chunked_equals_one_shot(
    shared_dir: Path, in_rate: int, out_rate: int, channels: int
) -> None:
    data = to_int16(speech(shared_dir, in_rate, 0.35, channels))
    fb = 2 * channels
    r = Resampler(in_rate, out_rate, channels)
    whole = r.process(data) + r.flush()
    frames_in = len(data) // fb
    assert len(whole) // fb == round(frames_in * out_rate / in_rate)
    rng = random.Random(in_rate * 7 + out_rate + channels)
    plans = [[c] for c in CHUNKS] + [[rng.randint(1, 4800) for _ in range(50)] for _ in range(3)]
    for sizes in plans:
        assert run_chunked(r, data, fb, sizes) == whole, sizes


def test_empty_chunks_and_reuse_after_flush(shared_dir: Path) -> None:
    data = to_int16(speech(shared_dir, 16000, 0.2))
    r = Resampler(16000, 8000)
    assert r.process(b"") == b""
    first = r.process(data) + r.process(b"") + r.flush()
    assert r.latency_frames == 0
    second = r.process(data) + r.flush()  # flush() starts a new stream
    assert first == second
    r.process(data[:1000])
    r.reset()
    assert r.process(data) + r.flush() == first


def test_latency_frames_is_the_held_back_output(shared_dir: Path) -> None:
    data = to_int16(speech(shared_dir, 48000, 0.2))
    r = Resampler(48000, 16000)
    assert r.latency_frames == 0
    got = len(r.process(data)) // 2
    held = r.latency_frames
    assert isinstance(held, int) and held > 0
    tail = len(r.flush()) // 2
    assert got + tail == 3200
    assert tail == held


def test_int16_path_is_the_float_path_rounded(shared_dir: Path) -> None:
    x = speech(shared_dir, 44100, 0.3) * 0.5
    pcm = to_int16(x)
    f = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
    rf = Resampler(44100, 16000, dtype="float32")
    yf = np.frombuffer(rf.process(f) + rf.flush(), np.float32)
    ri = Resampler(44100, 16000)
    yi = ri.process(pcm) + ri.flush()
    assert yi == to_int16(yf.astype(np.float64))


def _bandlimited(shared_dir: Path, a: int, b: int) -> np.ndarray:
    # Keep the speech inside both rates' passbands (0.8 x the lower Nyquist), where every
    # soxr recipe is flat: the comparison then measures the resampling error alone.
    x = speech(shared_dir, a, 3.0)[:, 0]
    h = firwin(2001, 0.8 * min(a, b) / 2, fs=a, window=("kaiser", 14.0))
    return np.asarray(fftconvolve(x, h, "same").astype(np.float32))


@pytest.mark.parametrize(
    "in_rate,out_rate", [(8000, 16000), (16000, 8000), (48000, 16000), (44100, 16000)]
)
def test_quality_vs_soxr_vhq_on_speech(shared_dir: Path, in_rate: int, out_rate: int) -> None:
    x = _bandlimited(shared_dir, in_rate, out_rate)
    ref = soxr.resample(x.astype(np.float64), in_rate, out_rate, "VHQ")
    r = Resampler(in_rate, out_rate, dtype="float32")
    y = np.frombuffer(r.process(x) + r.flush(), np.float32).astype(np.float64)
    assert len(y) == len(ref)
    snr_db = 10 * np.log10(np.sum(ref**2) / np.sum((ref - y) ** 2))
    assert snr_db >= 90.0, snr_db


@pytest.mark.parametrize(
    "in_rate,out_rate,tone_hz", [(16000, 8000, 5000), (48000, 16000, 12000), (44100, 16000, 10000)]
)
def test_out_of_band_tone_rejected(in_rate: int, out_rate: int, tone_hz: int) -> None:
    t = np.arange(in_rate) / in_rate
    x = (0.5 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
    r = Resampler(in_rate, out_rate, dtype="float32")
    y = np.frombuffer(r.process(x) + r.flush(), np.float32).astype(np.float64)
    y = y[out_rate // 10 : -out_rate // 10]  # away from the stream's start and end
    level_db = 20 * np.log10(np.sqrt(np.mean(y**2)) / (0.5 / np.sqrt(2)))
    assert level_db <= -100.0, level_db


def test_upsampling_images_rejected() -> None:
    """8 kHz -> 16 kHz: a 3 kHz tone must not leave an image at 5 kHz."""
    t = np.arange(8000 * 2) / 8000
    x = (0.5 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    r = Resampler(8000, 16000, dtype="float32")
    y = np.frombuffer(r.process(x) + r.flush(), np.float32).astype(np.float64)[4000:-4000]
    spec = np.abs(np.fft.rfft(y * np.blackman(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / 16000)
    image = spec[(freqs > 4100)].max()
    assert 20 * np.log10(image / spec.max()) <= -100.0


def test_passthrough_and_multichannel_layout() -> None:
    pcm = np.arange(-500, 500, dtype="<i2").tobytes()
    r = Resampler(16000, 16000, 2)
    assert r.process(pcm) == pcm and r.flush() == b"" and r.latency_frames == 0
    # each channel of a stereo stream is resampled independently
    left = np.sin(np.arange(4000) * 0.01) * 0.3
    right = np.sin(np.arange(4000) * 0.003) * 0.3
    st = np.stack([left, right], axis=1)
    rs = Resampler(16000, 8000, 2)
    y = np.frombuffer(rs.process(to_int16(st)) + rs.flush(), "<i2").reshape(-1, 2)
    for c, mono in enumerate((left, right)):
        rm = Resampler(16000, 8000, 1)
        assert y[:, c].tobytes() == rm.process(to_int16(mono)) + rm.flush()


def test_numpy_and_memoryview_input() -> None:
    a = (np.sin(np.arange(3200) * 0.02) * 8000).astype(np.int16)
    r = Resampler(16000, 8000)
    want = r.process(a.tobytes()) + r.flush()
    assert r.process(a) + r.flush() == want
    assert r.process(memoryview(a.tobytes())) + r.flush() == want


def test_errors() -> None:
    with pytest.raises(AudioFormatError):
        Resampler(0, 16000)
    with pytest.raises(AudioTypeError):
        Resampler(16000.0, 8000)  # type: ignore[arg-type]
    with pytest.raises(AudioFormatError):
        Resampler(16000, 8000, 0)
    with pytest.raises(AudioFormatError):
        Resampler(16000, 8000, quality="best")
    with pytest.raises(AudioFormatError):
        Resampler(16000, 8000, dtype="int32")
    r = Resampler(16000, 8000, 2)
    with pytest.raises(AudioFormatError):
        r.process(b"\x00" * 6)  # 1.5 stereo frames
    with pytest.raises(AudioTypeError):
        r.process("text")
    with pytest.raises(AudioTypeError):
        r.process(np.zeros(4, np.float32))
    with pytest.raises(AudioTypeError):
        Resampler(16000, 8000, dtype="float32").process(np.zeros(4, np.int16))
    assert "16000" in repr(r)


# --------------------------------------------------------------------------- engines


def _engines(in_rate: int, out_rate: int, channels: int, dtype: str) -> list[object]:
    """The direct libsoxr engine of the native twin and the python-soxr one, same kernels."""
    import importlib

    from scribewire._kernels import _audio_py, _impl

    if _impl.NO_EXTENSIONS:
        pytest.skip("SCRIBEWIRE_NO_EXTENSIONS is set: python-soxr engine only")
    try:
        c = importlib.import_module("scribewire._kernels._audio_c")
    except ImportError:
        pytest.skip("native twin not built")
    if c._bind_soxr() != "":
        pytest.skip(f"libsoxr not bound: {c._bind_soxr()}")
    direct = c.soxr_stream(in_rate, out_rate, channels, "HQ", dtype)
    fallback = _audio_py.SoxrStream(in_rate, out_rate, channels, "HQ", dtype, kernels=c)
    assert "direct" in direct.engine and "python-soxr" in fallback.engine
    return [direct, fallback]


# 16 kHz -> 44.1 kHz: the final 1.125 s chunk is longer than python-soxr's internal split
# (48000 * in / out frames), so the direct engine's split is exercised too.
@pytest.mark.parametrize(
    "in_rate,out_rate", [(8000, 16000), (48000, 16000), (44100, 16000), (16000, 44100)]
)
@pytest.mark.parametrize("channels,dtype", [(1, "int16"), (2, "int16"), (1, "float32")])
def test_direct_and_python_soxr_engines_agree(
    shared_dir: Path, in_rate: int, out_rate: int, channels: int, dtype: str
) -> None:
    x = speech(shared_dir, in_rate, 1.5, channels)
    data = to_int16(x) if dtype == "int16" else x.astype(np.float32).tobytes()
    frame = channels * (2 if dtype == "int16" else 4)
    outs = []
    for eng in _engines(in_rate, out_rate, channels, dtype):
        per_chunk = []
        step = in_rate // 50 * frame  # 20 ms chunks for 0.375 s, then one 1.125 s chunk
        half = len(data) // 4 // step * step
        for pos in range(0, half, step):
            per_chunk.append(eng.process(data[pos : pos + step]))  # type: ignore[attr-defined]
        per_chunk.append(eng.process(data[half:]))  # type: ignore[attr-defined]
        per_chunk.append(eng.flush())  # type: ignore[attr-defined]
        assert eng.delay() == 0  # type: ignore[attr-defined]
        eng.reset()  # type: ignore[attr-defined]
        outs.append(per_chunk)
    assert outs[0] == outs[1]  # chunk by chunk, not only in total
    assert sum(len(c) for c in outs[0]) == round(len(data) // frame * out_rate / in_rate) * frame


def test_direct_engine_input_checks_and_alignment() -> None:
    direct, _ = _engines(16000, 8000, 2, "float32")
    with pytest.raises(AudioFormatError):
        direct.process(b"\x00" * 12)  # type: ignore[attr-defined]
    with pytest.raises(AudioTypeError):
        direct.process(np.zeros(4, np.int16))  # type: ignore[attr-defined]
    with pytest.raises(AudioTypeError):
        direct.process(3.5)  # type: ignore[attr-defined]
    x = (np.sin(np.arange(2 * 3200) * 0.01) * 0.5).astype(np.float32).tobytes()
    odd = memoryview(bytearray(b"\0" + x))[1:]  # float32 samples at an odd address
    want = direct.process(x) + direct.flush()  # type: ignore[attr-defined]
    assert direct.process(odd) + direct.flush() == want  # type: ignore[attr-defined]


def test_resampler_reports_its_engine() -> None:
    assert Resampler(16000, 16000).engine == "passthrough"
    assert Resampler(16000, 8000).engine  # "libsoxr-x.y.z (direct ...)" or "python-soxr ..."
