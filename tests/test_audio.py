"""PCM kernels, both twins: bit-exact with audioop, edges, buffers, ``out=``, typed errors."""

from __future__ import annotations

import array
import threading
import warnings
from types import ModuleType

import numpy as np
import pytest
from conftest import twin_params

from scribewire import audio
from scribewire.errors import AudioFormatError, AudioTypeError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # stdlib until 3.12, audioop-lts from 3.13

ALL_INT16 = np.arange(-32768, 32768, dtype="<i2").tobytes()
ALL_CODES = bytes(range(256))

pytestmark = pytest.mark.parametrize("k", twin_params("audio"))


# --------------------------------------------------------------------------- sum of squares


def test_sum_squares_matches_audioop_and_is_exact(k: ModuleType) -> None:
    assert k.sum_squares(ALL_INT16) == sum(x * x for x in range(-32768, 32768))
    loud = np.full(1600, -32768, "<i2").tobytes()
    assert k.sum_squares(loud) == 1600 * 2**30  # exact at full scale (no float rounding)
    rng = np.random.default_rng(7)
    for n in (0, 1, 7, 1600, 4097):
        pcm = rng.integers(-32768, 32768, n, dtype=np.int16).astype("<i2").tobytes()
        rms = audioop.rms(pcm, 2) if n else 0
        assert abs((k.sum_squares(pcm) / max(1, n)) ** 0.5 - rms) <= 1  # audioop truncates
    assert k.sum_squares(memoryview(bytearray(loud))[2:]) == 1599 * 2**30  # any buffer
    assert k.sum_squares(array.array("h", [3, -4])) == 25
    with pytest.raises(AudioFormatError, match="even byte count"):
        k.sum_squares(b"\0\0\0")
    with pytest.raises(AudioTypeError):
        k.sum_squares("not a buffer")


# --------------------------------------------------------------------------- G.711 vs audioop


def test_ulaw_encode_all_int16_matches_audioop(k: ModuleType) -> None:
    assert k.ulaw_encode(ALL_INT16) == audioop.lin2ulaw(ALL_INT16, 2)


def test_alaw_encode_all_int16_matches_audioop(k: ModuleType) -> None:
    assert k.alaw_encode(ALL_INT16) == audioop.lin2alaw(ALL_INT16, 2)


def test_ulaw_decode_all_codes_matches_audioop(k: ModuleType) -> None:
    assert k.ulaw_decode(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)


def test_alaw_decode_all_codes_matches_audioop(k: ModuleType) -> None:
    assert k.alaw_decode(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_g711_code_roundtrip_is_identity_except_negative_zero(k: ModuleType, law: str) -> None:
    enc, dec = getattr(k, f"{law}_encode"), getattr(k, f"{law}_decode")
    back = enc(dec(ALL_CODES))
    # μ-law has two zeros (0x7F = -0, 0xFF = +0); both decode to 0, which encodes to +0.
    diff = [c for c in range(256) if back[c] != c]
    assert diff == ([0x7F] if law == "ulaw" else [])


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_g711_pcm_roundtrip_error_is_bounded(k: ModuleType, law: str) -> None:
    enc, dec = getattr(k, f"{law}_encode"), getattr(k, f"{law}_decode")
    x = np.frombuffer(ALL_INT16, "<i2").astype(np.int32)
    y = np.frombuffer(dec(enc(ALL_INT16)), "<i2").astype(np.int32)
    # quantisation step is at most 1024 in the top segment (error <= half of it, plus clipping)
    assert np.abs(x - y)[np.abs(x) < 32000].max() <= 1024
    assert np.abs(x - y)[np.abs(x) < 256].max() <= 16


def test_ulaw_encode_unaligned_and_multichannel_buffers(k: ModuleType) -> None:
    raw = bytearray(b"\x00" + ALL_INT16[:2000])  # odd offset: unaligned int16 samples
    view = memoryview(raw)[1:]
    assert k.ulaw_encode(view) == audioop.lin2ulaw(bytes(view), 2)
    stereo = np.frombuffer(ALL_INT16[:4000], "<i2").reshape(-1, 2)
    assert k.ulaw_encode(stereo) == audioop.lin2ulaw(stereo.tobytes(), 2)


# --------------------------------------------------------------------------- int16 <-> float32


def test_int16_to_float32_exact_scale(k: ModuleType) -> None:
    f = np.frombuffer(k.int16_to_float32(ALL_INT16), np.float32)
    assert np.array_equal(f, np.arange(-32768, 32768, dtype=np.float64) / 32768)
    assert f[0] == -1.0 and f[-1] == np.float32(32767 / 32768)


def test_int16_float32_roundtrip_is_identity(k: ModuleType) -> None:
    assert k.float32_to_int16(k.int16_to_float32(ALL_INT16)) == ALL_INT16


def test_float32_to_int16_edges(k: ModuleType) -> None:
    lsb = 1 / 32768
    cases = [
        (1.0, 32767),  # +full scale clips to 32767
        (-1.0, -32768),
        (32767 * lsb, 32767),
        (-32768 * lsb, -32768),
        (2.0, 32767),
        (-2.0, -32768),
        (float("inf"), 32767),
        (float("-inf"), -32768),
        (float("nan"), 0),  # NaN -> 0
        (-float("nan"), 0),
        (0.5 * lsb, 0),  # ties to even
        (1.5 * lsb, 2),
        (2.5 * lsb, 2),
        (-0.5 * lsb, 0),
        (-1.5 * lsb, -2),
        (0.49 * lsb, 0),
        (0.51 * lsb, 1),
        (-0.0, 0),
        (np.finfo(np.float32).max, 32767),
        (np.finfo(np.float32).tiny, 0),
    ]
    x = np.array([c[0] for c in cases], dtype=np.float32)
    got = np.frombuffer(k.float32_to_int16(x), "<i2").tolist()
    assert got == [c[1] for c in cases]


def test_float32_to_int16_random_matches_numpy_reference(k: ModuleType) -> None:
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(50_000) * 0.7).astype(np.float32)
    ref = np.rint(np.clip(x * np.float32(32768), -32768, 32767)).astype("<i2")
    assert k.float32_to_int16(x) == ref.tobytes()


# --------------------------------------------------------------------------- channels


def test_interleave_deinterleave_roundtrip(k: ModuleType) -> None:
    rng = np.random.default_rng(1)
    for ch in (1, 2, 3, 6, 20):
        frames = rng.integers(-32768, 32768, (101, ch), dtype=np.int16)
        chans = k.deinterleave(frames.tobytes(), ch)
        assert len(chans) == ch
        for i in range(ch):
            assert chans[i] == frames[:, i].tobytes()
        assert k.interleave(chans) == frames.tobytes()


@pytest.mark.parametrize("width", [1, 2, 4])
def test_interleave_widths(k: ModuleType, width: int) -> None:
    dt = {1: np.uint8, 2: np.int16, 4: np.float32}[width]
    a = np.arange(30).astype(dt)
    b = (np.arange(30) + 100).astype(dt)
    c = (np.arange(30) + 50).astype(dt)
    out = k.interleave([a, b, c], sample_width=width)
    assert out == np.stack([a, b, c], axis=1).tobytes()
    assert k.deinterleave(out, 3, sample_width=width) == [a.tobytes(), b.tobytes(), c.tobytes()]


def test_downmix_stereo_matches_audioop_tomono(k: ModuleType) -> None:
    rng = np.random.default_rng(2)
    st = rng.integers(-32768, 32768, 20_000, dtype=np.int16).tobytes()
    extremes = np.array([32767, 32767, -32768, -32768, -1, 0, -1, -2], "<i2").tobytes()
    for data in (st, extremes):
        assert k.downmix(data, 2) == audioop.tomono(data, 2, 0.5, 0.5)


def test_downmix_n_channels_is_floor_mean(k: ModuleType) -> None:
    rng = np.random.default_rng(3)
    for ch in (1, 3, 5, 8):
        frames = rng.integers(-32768, 32768, (333, ch), dtype=np.int16)
        ref = np.floor_divide(frames.sum(axis=1, dtype=np.int64), ch).astype("<i2")
        assert k.downmix(frames, ch) == ref.tobytes()


# --------------------------------------------------------------------------- telephony


@pytest.mark.parametrize("enc,law", [("mulaw", "ulaw"), ("pcm_mulaw", "ulaw"), ("alaw", "alaw")])
def test_telephony_to_pcm(k: ModuleType, enc: str, law: str) -> None:
    rng = np.random.default_rng(4)
    agent = rng.integers(0, 256, 800, dtype=np.uint8).tobytes()
    customer = rng.integers(0, 256, 800, dtype=np.uint8).tobytes()
    dec = getattr(audioop, f"{law}2lin")
    ref = audioop.tostereo(dec(agent, 2), 2, 1, 0)
    ref = audioop.add(ref, audioop.tostereo(dec(customer, 2), 2, 0, 1), 2)
    assert k.telephony_to_pcm([agent, customer], enc) == ref
    assert k.telephony_to_pcm((agent, customer), enc, channels=2) == ref
    interleaved = k.interleave([agent, customer], sample_width=1)
    assert k.telephony_to_pcm(interleaved, enc, channels=2) == ref
    assert k.telephony_to_pcm(agent, enc) == dec(agent, 2)
    assert k.telephony_to_pcm([agent], enc) == dec(agent, 2)


def test_telephony_to_pcm_errors(k: ModuleType) -> None:
    with pytest.raises(AudioFormatError):
        k.telephony_to_pcm(b"\x00" * 3, "mulaw", channels=2)
    with pytest.raises(AudioFormatError):
        k.telephony_to_pcm([b"\x00" * 3, b"\x00" * 4], "mulaw")
    with pytest.raises(AudioFormatError):
        k.telephony_to_pcm([b"\x00", b"\x00"], "mulaw", channels=3)
    with pytest.raises(AudioFormatError):
        k.telephony_to_pcm([], "mulaw")
    with pytest.raises(AudioFormatError):
        k.telephony_to_pcm(b"\x00", "g722")
    with pytest.raises(AudioTypeError):
        k.telephony_to_pcm(np.zeros(4, np.int16), "mulaw")
    with pytest.raises(AudioTypeError):
        k.telephony_to_pcm("abc", "mulaw")


# --------------------------------------------------------------------------- buffers and out=


@pytest.mark.parametrize(
    "make",
    [
        bytes,
        bytearray,
        memoryview,
        lambda b: np.frombuffer(b, "<i2").copy(),
        lambda b: array.array("h", b),
        lambda b: memoryview(b).cast("h"),
    ],
    ids=["bytes", "bytearray", "memoryview", "numpy-int16", "array-h", "memoryview-h"],
)
def test_any_int16_buffer_type(k: ModuleType, make: object) -> None:
    src = ALL_INT16[:3200]
    data = make(src)  # type: ignore[operator]
    assert k.ulaw_encode(data) == audioop.lin2ulaw(src, 2)
    assert k.alaw_encode(data) == audioop.lin2alaw(src, 2)
    assert k.float32_to_int16(k.int16_to_float32(data)) == src
    assert k.downmix(data, 2) == audioop.tomono(src, 2, 0.5, 0.5)


def test_empty_inputs(k: ModuleType) -> None:
    for f in ("ulaw_encode", "alaw_encode", "ulaw_decode", "alaw_decode"):
        assert getattr(k, f)(b"") == b""
    assert k.int16_to_float32(b"") == b""
    assert k.float32_to_int16(np.zeros((0, 2), np.float32)) == b""
    assert k.deinterleave(b"", 2) == [b"", b""]
    assert k.interleave([b"", b""]) == b""
    assert k.downmix(b"", 2) == b""
    assert k.telephony_to_pcm([b"", b""]) == b""


def test_out_parameter(k: ModuleType) -> None:
    src = ALL_INT16[:640]
    out = bytearray(320)
    assert k.ulaw_encode(src, out) is out
    assert bytes(out) == audioop.lin2ulaw(src, 2)
    big = np.zeros(1000, np.uint8)
    assert k.alaw_encode(src, big) is big
    assert big[:320].tobytes() == audioop.lin2alaw(src, 2) and not big[320:].any()
    f = np.empty(320, np.float32)
    k.int16_to_float32(src, f)
    assert np.array_equal(f, np.frombuffer(src, "<i2") / 32768)
    pcm = bytearray(640)
    k.float32_to_int16(f, pcm)
    assert bytes(pcm) == src
    dec = bytearray(640)
    k.ulaw_decode(audioop.lin2ulaw(src, 2), dec)
    assert bytes(dec) == audioop.ulaw2lin(audioop.lin2ulaw(src, 2), 2)
    mono = bytearray(320)
    k.downmix(src, 2, out=mono)
    assert bytes(mono) == audioop.tomono(src, 2, 0.5, 0.5)
    il = bytearray(1280)
    k.interleave([src, src], out=il)
    assert bytes(il) == k.interleave([src, src])
    tp = bytearray(640)
    k.telephony_to_pcm([ALL_CODES[:160], ALL_CODES[96:]], out=tp)
    assert bytes(tp) == k.telephony_to_pcm([ALL_CODES[:160], ALL_CODES[96:]])


def test_out_errors(k: ModuleType) -> None:
    src = ALL_INT16[:640]
    with pytest.raises(AudioFormatError):
        k.ulaw_encode(src, bytearray(319))
    with pytest.raises(AudioTypeError):
        k.ulaw_encode(src, bytes(320))  # read-only
    with pytest.raises(AudioTypeError):
        k.ulaw_encode(src, 5)
    with pytest.raises(AudioFormatError):
        k.ulaw_decode(b"\x00" * 10, np.zeros(40, np.uint8)[::2])  # not contiguous


# --------------------------------------------------------------------------- input errors


@pytest.mark.parametrize("f", ["ulaw_encode", "alaw_encode", "int16_to_float32"])
def test_int16_kernels_reject_bad_input(k: ModuleType, f: str) -> None:
    fn = getattr(k, f)
    with pytest.raises(AudioFormatError, match="even"):
        fn(b"\x00" * 3)
    with pytest.raises(AudioTypeError):
        fn(np.zeros(4, np.float32))  # wrong dtype
    with pytest.raises(AudioTypeError):
        fn(np.zeros(4, np.uint16))
    with pytest.raises(AudioTypeError):
        fn("text")
    with pytest.raises(AudioTypeError):
        fn(None)
    with pytest.raises(AudioFormatError):
        fn(np.zeros(8, np.int16)[::2])  # not contiguous
    # AudioTypeError is also a TypeError, AudioFormatError a ValueError
    with pytest.raises(TypeError):
        fn(1.5)
    with pytest.raises(ValueError):
        fn(b"\x01")


def test_float32_to_int16_rejects_bad_input(k: ModuleType) -> None:
    with pytest.raises(AudioFormatError):
        k.float32_to_int16(b"\x00" * 6)
    with pytest.raises(AudioTypeError):
        k.float32_to_int16(np.zeros(4, np.float64))
    with pytest.raises(AudioTypeError):
        k.float32_to_int16(np.zeros(4, np.int16))


def test_decoders_reject_wide_items(k: ModuleType) -> None:
    with pytest.raises(AudioTypeError):
        k.ulaw_decode(np.zeros(4, np.int16))
    with pytest.raises(AudioTypeError):
        k.alaw_decode([1, 2, 3])


def test_channel_kernels_reject_bad_input(k: ModuleType) -> None:
    with pytest.raises(AudioFormatError):
        k.deinterleave(b"\x00" * 6, 2)  # 1.5 frames
    with pytest.raises(AudioFormatError):
        k.deinterleave(b"\x00" * 4, 0)
    with pytest.raises(AudioTypeError):
        k.deinterleave(b"\x00" * 4, 2.0)
    with pytest.raises(AudioFormatError):
        k.deinterleave(b"\x00" * 4, 2, sample_width=3)
    with pytest.raises(AudioFormatError):
        k.interleave([b"\x00" * 4, b"\x00" * 6])
    with pytest.raises(AudioFormatError):
        k.interleave([b"\x00" * 3, b"\x00" * 3])  # odd int16 length
    with pytest.raises(AudioFormatError):
        k.interleave([])
    with pytest.raises(AudioTypeError):
        k.interleave(b"\x00\x00")
    with pytest.raises(AudioTypeError):
        k.interleave([b"\x00\x00", "ab"])
    with pytest.raises(AudioTypeError):
        k.interleave([np.zeros(2, np.float64)])
    with pytest.raises(AudioFormatError):
        k.downmix(b"\x00" * 6, 2)
    with pytest.raises(AudioFormatError):
        k.downmix(b"\x00" * 6, -1)
    with pytest.raises(AudioTypeError):
        k.downmix(np.zeros(4, np.float32), 2)


# --------------------------------------------------------------------------- parity, threads


def test_twins_agree_on_random_data(k: ModuleType) -> None:
    from scribewire._kernels import _audio_py as ref

    rng = np.random.default_rng(5)
    pcm = rng.integers(-32768, 32768, 6 * 999, dtype=np.int16).tobytes()
    codes = rng.integers(0, 256, 6 * 999, dtype=np.uint8).tobytes()
    f32 = (rng.standard_normal(999) * 2).astype(np.float32)
    for name in ("ulaw_encode", "alaw_encode", "int16_to_float32"):
        assert getattr(k, name)(pcm) == getattr(ref, name)(pcm)
    for name in ("ulaw_decode", "alaw_decode"):
        assert getattr(k, name)(codes) == getattr(ref, name)(codes)
    assert k.float32_to_int16(f32) == ref.float32_to_int16(f32)
    for ch in (2, 3, 6):
        assert k.downmix(pcm, ch) == ref.downmix(pcm, ch)
        assert k.deinterleave(pcm, ch) == ref.deinterleave(pcm, ch)
        assert k.telephony_to_pcm(codes, "alaw", channels=ch) == ref.telephony_to_pcm(
            codes, "alaw", channels=ch
        )


def test_large_buffers_from_threads(k: ModuleType) -> None:
    """Inputs over the GIL-release threshold, run from several threads at once."""
    big = np.tile(np.frombuffer(ALL_INT16, "<i2"), 4).tobytes()  # 512 KiB
    want = audioop.lin2ulaw(big, 2)
    want_f = np.frombuffer(big, "<i2").astype(np.float32) / 32768
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                assert k.ulaw_encode(big) == want
                assert np.array_equal(np.frombuffer(k.int16_to_float32(big), np.float32), want_f)
                assert k.interleave(k.deinterleave(big, 2)) == big
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_public_module_selects_a_twin(k: ModuleType) -> None:
    assert audio.IMPLEMENTATION in ("c", "py")
    assert audio.ulaw_encode(ALL_INT16) == k.ulaw_encode(ALL_INT16)
