"""Audio files: every shared clip opens and converts; bad files give AudioFileError."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from scribewire.audio import AudioSource, RawFormat, Resampler, open_audio, ulaw_decode
from scribewire.errors import AudioFileError, AudioFormatError, AudioTypeError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


def manifest_files(shared_dir: Path) -> list[str]:
    m = json.loads((shared_dir / "audio" / "MANIFEST.json").read_text())
    files = [c["file"] for c in m["clips"]]
    files += [f["file"] for call in m.get("synthetic_calls", []) for f in call["files"]]
    return files


def out_frames(frames: int, in_rate: int, out_rate: int) -> int:
    """soxr's output length: the exact ratio rounded to nearest, halves up."""
    return (2 * frames * out_rate + in_rate) // (2 * in_rate)


def open_clip(shared_dir: Path, name: str) -> AudioSource:
    raw = RawFormat(sample_rate=16000) if name.endswith(".raw") else None
    return open_audio(shared_dir / "audio" / name, raw_format=raw)


def test_every_manifest_clip_opens_and_converts(shared_dir: Path) -> None:
    files = manifest_files(shared_dir)
    assert len(files) >= 27
    for name in files:
        with open_clip(shared_dir, name) as src:
            assert src.frames > 0 and src.channels >= 1 and src.sample_rate >= 8000
            assert src.duration == pytest.approx(src.frames / src.sample_rate)
            mono16 = src.read(sample_rate=16000, channels=1)
            assert len(mono16) == 2 * out_frames(src.frames, src.sample_rate, 16000), name
            st8 = src.read(sample_rate=8000, channels=2)
            assert len(st8) == 4 * out_frames(src.frames, src.sample_rate, 8000), name
            mu = src.read(sample_rate=8000, channels=1, encoding="pcm_mulaw")
            assert len(mu) == len(st8) // 4, name
            assert np.abs(np.frombuffer(mono16, "<i2")).max() > 100, name  # not silence


def test_chunks_concatenate_to_read(shared_dir: Path) -> None:
    with open_clip(shared_dir, "jfk_inaugural_1961.flac") as src:
        whole = src.read(sample_rate=16000, channels=1)
        chunks = list(src.chunks(1600, sample_rate=16000, channels=1))
        assert b"".join(chunks) == whole
        assert all(len(c) == 3200 for c in chunks[:-1]) and 0 < len(chunks[-1]) <= 3200
        odd = list(src.chunks(333, sample_rate=8000, channels=2, encoding="pcm_mulaw"))
        assert b"".join(odd) == src.read(sample_rate=8000, channels=2, encoding="pcm_mulaw")
        assert all(len(c) == 666 for c in odd[:-1])


def test_native_rate_pcm_wav_is_bit_exact(shared_dir: Path) -> None:
    path = shared_dir / "audio" / "arctic_aew_a0001.wav"
    data, _ = sf.read(path, dtype="int16")
    with open_audio(path) as src:
        assert src.subtype == "PCM_16" and src.format == "WAV"
        assert src.read() == data.tobytes()


def test_mulaw_call_decodes_like_audioop(shared_dir: Path) -> None:
    path = shared_dir / "audio" / "call_synth_billing.8k.ulaw.wav"
    blob = path.read_bytes()
    at = blob.index(b"data")
    size = int.from_bytes(blob[at + 4 : at + 8], "little")
    codes = blob[at + 8 : at + 8 + size]
    with open_audio(path) as src:
        assert (src.subtype, src.channels, src.sample_rate) == ("ULAW", 2, 8000)
        pcm = src.read()
        assert pcm == audioop.ulaw2lin(codes, 2) == ulaw_decode(codes)
        # channel= picks one party; channels=1 downmixes them
        agent = src.read(channel=0)
        assert agent == np.frombuffer(pcm, "<i2")[0::2].tobytes()
        assert src.read(channels=1) == audioop.tomono(pcm, 2, 0.5, 0.5)
        # back to μ-law at the native rate: the codes round-trip except μ-law's -0 (0x7F)
        again = np.frombuffer(src.read(encoding="pcm_mulaw"), np.uint8)
        orig = np.frombuffer(codes, np.uint8)
        assert np.array_equal(again, np.where(orig == 0x7F, 0xFF, orig))


def test_resampled_file_matches_streaming_resampler(shared_dir: Path) -> None:
    path = shared_dir / "audio" / "ljspeech_LJ050-0131.wav"
    data, sr = sf.read(path, dtype="int16")
    r = Resampler(sr, 16000)
    with open_audio(path) as src:
        assert src.read(sample_rate=16000) == r.process(data) + r.flush()


def test_wav_subtypes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4000, 2)) * 0.2).clip(-0.99, 0.99)
    for subtype in ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "ULAW", "ALAW"):
        p = tmp_path / f"{subtype}.wav"
        sf.write(p, x, 8000, subtype=subtype)
        with open_audio(p) as src:
            assert src.subtype == subtype
            got = np.frombuffer(src.read(), "<i2").reshape(-1, 2) / 32768
            tol = {"PCM_U8": 1 / 64, "ULAW": 1 / 32, "ALAW": 1 / 32}.get(subtype, 2 / 32768)
            assert np.abs(got - x).max() <= tol, subtype
            assert len(src.read(sample_rate=16000, channels=1)) == 2 * 8000


def test_raw_formats(tmp_path: Path) -> None:
    pcm = (np.sin(np.arange(8000) * 0.05) * 9000).astype("<i2").tobytes()
    p = tmp_path / "a.raw"
    p.write_bytes(pcm)
    with open_audio(p, raw_format=RawFormat(8000)) as src:
        assert (src.sample_rate, src.channels, src.frames) == (8000, 1, 8000)
        assert src.read() == pcm
    mu = tmp_path / "a.ulaw"
    mu.write_bytes(audioop.lin2ulaw(pcm, 2))
    with open_audio(mu, raw_format=RawFormat(8000, 2, "mulaw")) as src:
        assert src.channels == 2 and src.read() == audioop.ulaw2lin(audioop.lin2ulaw(pcm, 2), 2)
    al = tmp_path / "b.raw"
    al.write_bytes(audioop.lin2alaw(pcm, 2))
    with open_audio(al, raw_format=RawFormat(8000, 1, "alaw")) as src:
        assert src.read() == audioop.alaw2lin(audioop.lin2alaw(pcm, 2), 2)


def test_raw_without_format_is_a_clear_error(shared_dir: Path) -> None:
    with pytest.raises(AudioFileError, match="raw_format"):
        open_audio(shared_dir / "audio" / "ps_goforward.raw")


@pytest.mark.parametrize(
    "name", ["arctic_aew_a0001.wav", "jfk_inaugural_1961.flac", "fleurs_en_002.ogg"]
)
def test_truncated_files(shared_dir: Path, tmp_path: Path, name: str) -> None:
    blob = (shared_dir / "audio" / name).read_bytes()
    for cut in (len(blob) // 2, 40):
        p = tmp_path / f"cut{cut}_{name}"
        p.write_bytes(blob[:cut])
        with pytest.raises(AudioFileError, match=p.name):
            with open_audio(p) as src:
                src.read(sample_rate=16000, channels=1)


def test_truncated_raw(tmp_path: Path) -> None:
    p = tmp_path / "odd.raw"
    p.write_bytes(b"\x00" * 101)
    with pytest.raises(AudioFileError, match="odd.raw"):
        open_audio(p, raw_format=RawFormat(16000))


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp4", ""])
def test_garbage_and_missing_files(tmp_path: Path, suffix: str) -> None:
    p = tmp_path / f"garbage{suffix}"
    p.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioFileError, match="garbage"):
        open_audio(p)
    with pytest.raises(AudioFileError, match="missing"):
        open_audio(tmp_path / f"missing{suffix}")
    e = tmp_path / f"empty{suffix}"
    e.write_bytes(b"")
    with pytest.raises(AudioFileError, match="empty"):
        open_audio(e)


def test_argument_errors(shared_dir: Path) -> None:
    with open_clip(shared_dir, "call_synth_billing.16k.wav") as src:
        with pytest.raises(AudioFormatError):
            src.read(channels=3)  # 2 -> 3 is not a downmix, a pick or a duplicate
        with pytest.raises(AudioFormatError):
            src.read(channel=2)
        with pytest.raises(AudioFormatError):
            src.read(encoding="mp3")
        with pytest.raises(AudioFormatError):
            next(src.chunks(0))
        with pytest.raises(AudioTypeError):
            src.read(sample_rate=16000.0)  # type: ignore[arg-type]
        with pytest.raises(AudioFormatError):
            src.read(sample_rate=-1)
    with pytest.raises(AudioFormatError):
        RawFormat(16000, 1, "flac")
    with pytest.raises(AudioFormatError):
        RawFormat(0)


def _wav(path: Path, rate: int, frames: int) -> None:
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.full(frames, 1000, dtype="<i2").tobytes())


@pytest.mark.parametrize("rate", [1, 3_999, 384_001, 4_000_000])
def test_rates_outside_file_rates_are_refused(tmp_path: Path, rate: int) -> None:
    path = tmp_path / "x.wav"
    _wav(path, rate, 1000)
    with pytest.raises(AudioFileError, match=f"sample rate {rate} Hz is outside") as info:
        open_audio(path)
    assert info.value.path == str(path) and str(info.value).startswith(f"{path}: ")
    with pytest.raises(AudioFormatError, match="outside"):
        RawFormat(sample_rate=rate)


def test_output_rate_outside_file_rates_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    _wav(path, 16000, 1600)
    with open_audio(path) as src, pytest.raises(AudioFormatError, match="output sample rate 1 Hz"):
        src.chunks(160, sample_rate=1)


def test_memory_is_bounded_whatever_the_ratio(tmp_path: Path) -> None:
    # 4 kHz -> 384 kHz (96x) is inside FILE_RATES. Before the fix each 8,192-frame read
    # became 786,432 output frames at once (3 MB of float32 and copies); reads are now
    # sized by their output.
    import tracemalloc

    path = tmp_path / "low.wav"
    _wav(path, 4000, 4000 * 10)
    with open_audio(path) as src:
        tracemalloc.start()
        try:
            total = sum(len(c) for c in src.chunks(3840, sample_rate=384_000))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert total == out_frames(40_000, 4000, 384_000) * 2
    assert peak < 1_500_000, peak
