"""Pure-Python (numpy) twin of the PCM kernels (``_audio_c``).

Same names and signatures as the native twin and tested by the same suite. Every kernel
is vectorised with numpy: no per-sample Python loops.

Conventions shared by both twins:

* PCM is signed 16-bit little-endian (``pcm_s16le``), the ``pcm`` media encoding of Amazon
  Transcribe (protocol.md §3.3); multi-channel audio is interleaved frame by frame.
* float32 is native-endian IEEE 754, full scale ±1.0.
* G.711 μ-law and A-law codes are one byte per sample (ITU-T G.711), bit-exact with the
  stdlib ``audioop`` (``audioop-lts`` on Python 3.13+).
* Inputs: any C-contiguous buffer (bytes, bytearray, memoryview, numpy array) whose items
  are bytes or the kernel's sample type. Sizes are checked once, at entry, before any work.
* ``out=``: a writable contiguous buffer of at least the output size; the kernel fills its
  first ``nbytes`` bytes and returns ``out`` itself. Without it a new ``bytes`` is returned.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TypeVar, overload

import numpy as np
import numpy.typing as npt

from ..errors import AudioFormatError, AudioTypeError
from ._buffers import FLOAT32_FORMATS, INT16_FORMATS, acquire, byte_view, flat_bytes

__all__ = [
    "SoxrStream",
    "alaw_decode",
    "alaw_encode",
    "deinterleave",
    "downmix",
    "float32_to_int16",
    "int16_to_float32",
    "interleave",
    "soxr_stream",
    "sum_squares",
    "telephony_to_pcm",
    "ulaw_decode",
    "ulaw_encode",
]

Buffer = Any  # collections.abc.Buffer from Python 3.12; anything exporting the buffer protocol
W = TypeVar("W")


_I16 = np.dtype("<i2")
_F32 = np.dtype("<f4")

MULAW_ENCODINGS = frozenset({"mulaw", "ulaw", "pcm_mulaw"})
ALAW_ENCODINGS = frozenset({"alaw", "pcm_alaw"})


# --------------------------------------------------------------------------- buffers


def _view(data: Buffer, formats: frozenset[str], what: str, name: str = "data") -> memoryview:
    """A flat byte view of ``data``; AudioTypeError / AudioFormatError for the wrong kind."""
    return byte_view(data, name, what, formats=formats)


def _width_view(data: Buffer, sample_width: int, name: str) -> memoryview:
    """A flat byte view of ``data`` whose items are bytes or ``sample_width`` wide."""
    m = acquire(data, name, f"{sample_width}-byte samples")
    if m.itemsize not in (1, sample_width):
        raise AudioTypeError(
            f"{name} has {m.itemsize}-byte items ({m.format!r}); expected bytes or "
            f"{sample_width}-byte samples"
        )
    if not m.c_contiguous:
        raise AudioFormatError(f"{name} must be C-contiguous")
    return flat_bytes(m)


def _out_view(out: Buffer, nbytes: int) -> memoryview:
    try:
        m = memoryview(out)
    except TypeError:
        raise AudioTypeError(f"out must be a writable buffer, not {type(out).__name__}") from None
    if m.readonly:
        raise AudioTypeError("out must be writable")
    if not m.c_contiguous:
        raise AudioFormatError("out must be C-contiguous")
    if m.nbytes < nbytes:
        raise AudioFormatError(f"out holds {m.nbytes} bytes; {nbytes} bytes are needed")
    return flat_bytes(m)[:nbytes]


def _check_even(nbytes: int, name: str = "data") -> None:
    if nbytes & 1:
        raise AudioFormatError(f"{name} holds {nbytes} bytes: int16 PCM needs an even byte count")


def _check_channels(channels: object) -> int:
    if not isinstance(channels, int) or isinstance(channels, bool):
        raise AudioTypeError(f"channels must be an int, not {type(channels).__name__}")
    if channels < 1:
        raise AudioFormatError(f"channels must be >= 1, not {channels}")
    return channels


def _check_width(sample_width: object) -> int:
    if sample_width not in (1, 2, 4) or isinstance(sample_width, bool):
        raise AudioFormatError(f"sample_width must be 1, 2 or 4 bytes, not {sample_width!r}")
    assert isinstance(sample_width, int)
    return sample_width


def _common_nbytes(views: Sequence[memoryview], name: str, unit: str) -> int:
    """The byte length shared by the per-channel ``views`` (``name[i]`` in messages, which
    count ``unit``: one per byte); AudioFormatError when they differ."""
    n = views[0].nbytes
    for i, v in enumerate(views):
        if v.nbytes != n:
            raise AudioFormatError(
                f"{name}[{i}] holds {v.nbytes} {unit}; {name}[0] holds {n}: lengths must match"
            )
    return n


def _emit(arr: npt.NDArray[Any], out: Any) -> Any:
    if out is None:
        return arr.tobytes()
    om = _out_view(out, arr.nbytes)
    np.frombuffer(om, dtype=np.uint8)[:] = arr.view(np.uint8).reshape(-1)
    return out


# --------------------------------------------------------------------------- G.711 tables
# Derived here from the G.711 algorithm (segment search + 4-bit mantissa), vectorised.


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    """μ-law code of every int16, indexed by the sample's uint16 bit pattern."""
    s = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)
    v = s >> 2  # 14-bit linear
    neg = v < 0
    mag = np.minimum(np.where(neg, -v, v), 8159) + 33  # clip, then add the bias (0x84 >> 2)
    seg = np.searchsorted(np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]), mag)
    code = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | ((mag >> (seg + 1)) & 0xF))
    return (code ^ np.where(neg, 0x7F, 0xFF)).astype(np.uint8)


def _ulaw_decode_table() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0xF) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(_I16)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    """A-law code of every int16, indexed by the sample's uint16 bit pattern."""
    s = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)
    v = s >> 3  # 13-bit linear
    neg = v < 0
    mag = np.where(neg, -v - 1, v)
    seg = np.searchsorted(np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]), mag)
    mant = np.where(seg < 2, mag >> 1, mag >> np.maximum(seg, 1)) & 0xF
    code = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | mant)
    return (code ^ np.where(neg, 0x55, 0xD5)).astype(np.uint8)


def _alaw_decode_table() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0xF) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(_I16)


_ULAW_ENC = _ulaw_encode_table()
_ULAW_DEC = _ulaw_decode_table()
_ALAW_ENC = _alaw_encode_table()
_ALAW_DEC = _alaw_decode_table()


def _g711_encode(table: npt.NDArray[np.uint8], data: Buffer, out: Any) -> Any:
    m = _view(data, INT16_FORMATS, "int16 PCM")
    _check_even(m.nbytes)
    if out is not None:
        _out_view(out, m.nbytes >> 1)
    return _emit(table[np.frombuffer(m, dtype="<u2")], out)


def _g711_decode(table: npt.NDArray[np.int16], data: Buffer, out: Any) -> Any:
    m = _view(data, frozenset(), "8-bit G.711 codes")
    if out is not None:
        _out_view(out, 2 * m.nbytes)
    return _emit(table[np.frombuffer(m, dtype=np.uint8)], out)


@overload
def ulaw_encode(data: Buffer, out: None = None) -> bytes: ...
@overload
def ulaw_encode(data: Buffer, out: W) -> W: ...
def ulaw_encode(data: Buffer, out: Any = None) -> Any:
    """Encode int16 PCM to G.711 μ-law, one code byte per sample (ITU-T G.711).

    Bit-exact with ``audioop.lin2ulaw(data, 2)``: the sample is reduced to 14 bits
    (arithmetic shift right by 2), its magnitude clipped to 8159 and biased by 33, and
    coded as sign, 3-bit segment and 4-bit mantissa, all bits inverted.

    Args:
        data: int16 LE samples (any channel layout; channels stay interleaved), even nbytes.
        out: optional writable buffer of at least ``len(data) // 2`` bytes.

    Returns:
        ``len(data) // 2`` bytes of μ-law codes (or ``out``).

    Raises:
        AudioFormatError: odd byte count, non-contiguous buffer, ``out`` too small.
        AudioTypeError: not a buffer, or items that are neither bytes nor int16.
    """
    return _g711_encode(_ULAW_ENC, data, out)


@overload
def ulaw_decode(data: Buffer, out: None = None) -> bytes: ...
@overload
def ulaw_decode(data: Buffer, out: W) -> W: ...
def ulaw_decode(data: Buffer, out: Any = None) -> Any:
    """Decode G.711 μ-law codes to int16 LE PCM (bit-exact with ``audioop.ulaw2lin``).

    Args:
        data: μ-law code bytes, one per sample (channels stay interleaved); any length.
        out: optional writable buffer of at least ``2 * len(data)`` bytes.

    Returns:
        ``2 * len(data)`` bytes of int16 LE samples in -32124..32124 (or ``out``).

    Raises:
        AudioFormatError: non-contiguous buffer, ``out`` too small.
        AudioTypeError: not a buffer, or items wider than one byte.
    """
    return _g711_decode(_ULAW_DEC, data, out)


@overload
def alaw_encode(data: Buffer, out: None = None) -> bytes: ...
@overload
def alaw_encode(data: Buffer, out: W) -> W: ...
def alaw_encode(data: Buffer, out: Any = None) -> Any:
    """Encode int16 PCM to G.711 A-law, one code byte per sample (ITU-T G.711).

    Bit-exact with ``audioop.lin2alaw(data, 2)``: the sample is reduced to 13 bits
    (arithmetic shift right by 3) and coded as sign, 3-bit segment and 4-bit mantissa,
    with the even bits inverted (XOR 0x55).

    Args:
        data: int16 LE samples (channels stay interleaved), even nbytes.
        out: optional writable buffer of at least ``len(data) // 2`` bytes.

    Returns:
        ``len(data) // 2`` bytes of A-law codes (or ``out``).

    Raises:
        AudioFormatError: odd byte count, non-contiguous buffer, ``out`` too small.
        AudioTypeError: not a buffer, or items that are neither bytes nor int16.
    """
    return _g711_encode(_ALAW_ENC, data, out)


@overload
def alaw_decode(data: Buffer, out: None = None) -> bytes: ...
@overload
def alaw_decode(data: Buffer, out: W) -> W: ...
def alaw_decode(data: Buffer, out: Any = None) -> Any:
    """Decode G.711 A-law codes to int16 LE PCM (bit-exact with ``audioop.alaw2lin``).

    Args:
        data: A-law code bytes, one per sample (channels stay interleaved); any length.
        out: optional writable buffer of at least ``2 * len(data)`` bytes.

    Returns:
        ``2 * len(data)`` bytes of int16 LE samples in -32256..32256 (or ``out``).

    Raises:
        AudioFormatError: non-contiguous buffer, ``out`` too small.
        AudioTypeError: not a buffer, or items wider than one byte.
    """
    return _g711_decode(_ALAW_DEC, data, out)


# --------------------------------------------------------------------------- int16 <-> float32


@overload
def int16_to_float32(data: Buffer, out: None = None) -> bytes: ...
@overload
def int16_to_float32(data: Buffer, out: W) -> W: ...
def int16_to_float32(data: Buffer, out: Any = None) -> Any:
    """Convert int16 LE PCM to float32: ``x / 32768`` (exact; -32768 -> -1.0).

    Args:
        data: int16 samples (channels stay interleaved), even nbytes.
        out: optional writable buffer of at least ``2 * len(data)`` bytes.

    Returns:
        ``2 * len(data)`` bytes of native float32 in [-1.0, 32767/32768] (or ``out``).

    Raises:
        AudioFormatError: odd byte count, non-contiguous buffer, ``out`` too small.
        AudioTypeError: not a buffer, or items that are neither bytes nor int16.
    """
    m = _view(data, INT16_FORMATS, "int16 PCM")
    _check_even(m.nbytes)
    if out is not None:
        _out_view(out, 2 * m.nbytes)
    res = np.frombuffer(m, dtype=_I16).astype(np.float32)
    res *= np.float32(1.0 / 32768.0)
    return _emit(res, out)


@overload
def float32_to_int16(data: Buffer, out: None = None) -> bytes: ...
@overload
def float32_to_int16(data: Buffer, out: W) -> W: ...
def float32_to_int16(data: Buffer, out: Any = None) -> Any:
    """Convert float32 to int16 LE PCM: ``x * 32768``, clipped, rounded half to even.

    The product is computed in float32 (exact: a power-of-two scale), clipped to
    [-32768, 32767] (so +1.0 -> 32767, -1.0 -> -32768, ±inf clip), rounded to the nearest
    integer with ties to even (0.5/32768 -> 0, 1.5/32768 -> 2). NaN -> 0.

    Args:
        data: native float32 samples (channels stay interleaved), nbytes a multiple of 4.
        out: optional writable buffer of at least ``len(data) // 2`` bytes.

    Returns:
        ``len(data) // 2`` bytes of int16 LE samples (or ``out``).

    Raises:
        AudioFormatError: nbytes not a multiple of 4, non-contiguous buffer, ``out`` too small.
        AudioTypeError: not a buffer, or items that are neither bytes nor float32.
    """
    m = _view(data, FLOAT32_FORMATS, "float32 samples")
    if m.nbytes & 3:
        raise AudioFormatError(f"data holds {m.nbytes} bytes: float32 needs a multiple of 4")
    if out is not None:
        _out_view(out, m.nbytes >> 1)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow to ±inf clips below
        v = np.frombuffer(m, dtype=_F32) * np.float32(32768.0)
        np.clip(v, -32768.0, 32767.0, out=v)
        v[np.isnan(v)] = 0.0
        np.rint(v, out=v)
    return _emit(v.astype(_I16), out)


# --------------------------------------------------------------------------- channels

_WIDTH_DTYPE: dict[int, np.dtype[Any]] = {
    1: np.dtype(np.uint8),
    2: np.dtype("<u2"),
    4: np.dtype("<u4"),
}


@overload
def interleave(channels: Sequence[Buffer], *, sample_width: int = 2, out: None = None) -> bytes: ...
@overload
def interleave(channels: Sequence[Buffer], *, sample_width: int = 2, out: W) -> W: ...
def interleave(channels: Sequence[Buffer], *, sample_width: int = 2, out: Any = None) -> Any:
    """Interleave one buffer per channel into frames: ``[c0[0], c1[0], ..., c0[1], ...]``.

    Args:
        channels: one buffer per channel (N >= 1), each the same number of samples.
        sample_width: bytes per sample: 2 (int16 PCM, default), 1 (G.711 codes) or 4 (float32).
        out: optional writable buffer of at least ``sum(len(c))`` bytes.

    Returns:
        The interleaved samples, ``N * len(channels[0])`` bytes (or ``out``).

    Raises:
        AudioFormatError: no channels, unequal lengths, a length not a multiple of
            ``sample_width``, a bad ``sample_width``, ``out`` too small.
        AudioTypeError: ``channels`` is not a sequence of buffers.
    """
    width = _check_width(sample_width)
    if isinstance(channels, (bytes, bytearray, memoryview, str)) or not isinstance(
        channels, Sequence
    ):
        raise AudioTypeError(
            f"channels must be a list or tuple of buffers, not {type(channels).__name__}"
        )
    if not channels:
        raise AudioFormatError("interleave needs at least one channel")
    views = [_width_view(c, width, f"channels[{i}]") for i, c in enumerate(channels)]
    n = _common_nbytes(views, "channels", "bytes")
    if n % width:
        raise AudioFormatError(f"channel length {n} bytes is not a multiple of {width}")
    if out is not None:
        _out_view(out, n * len(views))
    dt = _WIDTH_DTYPE[width]
    res = np.empty((n // width, len(views)), dtype=dt)
    for i, v in enumerate(views):
        res[:, i] = np.frombuffer(v, dtype=dt)
    return _emit(res, out)


def _frames_view(data: Buffer, channels: int, width: int) -> memoryview:
    m = _width_view(data, width, "data")
    if m.nbytes % (width * channels):
        raise AudioFormatError(
            f"data holds {m.nbytes} bytes: not a whole number of {channels}-channel frames "
            f"of {width}-byte samples"
        )
    return m


def deinterleave(data: Buffer, channels: int, *, sample_width: int = 2) -> list[bytes]:
    """Split interleaved frames into one buffer per channel.

    Args:
        data: interleaved samples, nbytes a multiple of ``channels * sample_width``.
        channels: channel count N >= 1.
        sample_width: bytes per sample: 2 (int16 PCM, default), 1 (G.711 codes) or 4.

    Returns:
        N ``bytes`` objects, each ``len(data) // N`` bytes.

    Raises:
        AudioFormatError: partial frame, channels < 1, bad ``sample_width``.
        AudioTypeError: not a buffer, or a non-int channel count.
    """
    ch = _check_channels(channels)
    width = _check_width(sample_width)
    m = _frames_view(data, ch, width)
    a = np.frombuffer(m, dtype=_WIDTH_DTYPE[width]).reshape(-1, ch)
    return [a[:, i].tobytes() for i in range(ch)]


@overload
def downmix(data: Buffer, channels: int, *, out: None = None) -> bytes: ...
@overload
def downmix(data: Buffer, channels: int, *, out: W) -> W: ...
def downmix(data: Buffer, channels: int, *, out: Any = None) -> Any:
    """Mix interleaved int16 frames down to mono: ``floor(sum(frame) / N)``.

    For stereo this equals ``audioop.tomono(data, 2, 0.5, 0.5)``; never clips.

    Args:
        data: interleaved int16 LE frames, nbytes a multiple of ``2 * channels``.
        channels: channel count N >= 1 (1 returns a copy).
        out: optional writable buffer of at least ``len(data) // N`` bytes.

    Returns:
        Mono int16 LE PCM, ``len(data) // N`` bytes (or ``out``).

    Raises:
        AudioFormatError: partial frame, channels < 1, ``out`` too small.
        AudioTypeError: not a buffer, items neither bytes nor int16, non-int channels.
    """
    ch = _check_channels(channels)
    m = _view(data, INT16_FORMATS, "int16 PCM")
    if m.nbytes % (2 * ch):
        raise AudioFormatError(
            f"data holds {m.nbytes} bytes: not a whole number of {ch}-channel int16 frames"
        )
    if out is not None:
        _out_view(out, m.nbytes // ch)
    a = np.frombuffer(m, dtype=_I16).reshape(-1, ch)
    mono = a.sum(axis=1, dtype=np.int32) // ch
    return _emit(mono.astype(_I16), out)


def sum_squares(data: Buffer) -> int:
    """The sum of the squares of the int16 LE samples in ``data`` (exact, an ``int``);
    divided by the sample count it is the mean square (signal power in int16 units²).

    Raises:
        AudioFormatError: odd byte count, non-contiguous buffer.
        AudioTypeError: not a buffer, or items that are neither bytes nor int16.
    """
    m = _view(data, INT16_FORMATS, "int16 PCM")
    _check_even(m.nbytes)
    x = np.frombuffer(m, dtype=_I16).astype(np.int64)
    return int(x.dot(x))


# --------------------------------------------------------------------------- telephony


def _decode_table(encoding: object) -> npt.NDArray[np.int16]:
    if encoding in MULAW_ENCODINGS:
        return _ULAW_DEC
    if encoding in ALAW_ENCODINGS:
        return _ALAW_DEC
    raise AudioFormatError(
        "encoding must be 'mulaw' (or 'ulaw', 'pcm_mulaw') or 'alaw' ('pcm_alaw'), "
        f"not {encoding!r}"
    )


@overload
def telephony_to_pcm(
    data: Buffer | Sequence[Buffer],
    encoding: str = "mulaw",
    *,
    channels: int | None = None,
    out: None = None,
) -> bytes: ...
@overload
def telephony_to_pcm(
    data: Buffer | Sequence[Buffer],
    encoding: str = "mulaw",
    *,
    channels: int | None = None,
    out: W,
) -> W: ...
def telephony_to_pcm(
    data: Buffer | Sequence[Buffer],
    encoding: str = "mulaw",
    *,
    channels: int | None = None,
    out: Any = None,
) -> Any:
    """G.711 telephony audio to the interleaved int16 LE PCM Amazon Transcribe takes.

    One fused pass: decode (μ-law or A-law, ITU-T G.711, bit-exact with ``audioop``) and
    interleave. Transcribe's ``pcm`` media encoding is signed 16-bit little-endian,
    channels interleaved (protocol.md §3.3, §4.1).

    Args:
        data: either one buffer of interleaved codes (one byte per sample), or a list/tuple
            of one code buffer per channel, all the same length (e.g. agent and customer).
        encoding: ``"mulaw"`` (also ``"ulaw"``, ``"pcm_mulaw"``) or ``"alaw"`` (``"pcm_alaw"``).
        channels: expected channel count; for one buffer its length must be a multiple of
            it, for a list it must equal the list's length. None: no check.
        out: optional writable buffer of at least ``2 * total codes`` bytes.

    Returns:
        int16 LE interleaved PCM, two bytes per input code (or ``out``).

    Raises:
        AudioFormatError: unknown encoding, unequal channel lengths, a partial frame,
            a channel count mismatch, ``out`` too small.
        AudioTypeError: not a buffer (or list of buffers), or items wider than one byte.
    """
    table = _decode_table(encoding)
    if isinstance(data, (list, tuple)):
        if channels is not None and _check_channels(channels) != len(data):
            raise AudioFormatError(f"{len(data)} channel buffers given, channels={channels}")
        if not data:
            raise AudioFormatError("telephony_to_pcm needs at least one channel buffer")
        views = [_view(c, frozenset(), "G.711 codes", f"data[{i}]") for i, c in enumerate(data)]
        n = _common_nbytes(views, "data", "codes")
        if out is not None:
            _out_view(out, 2 * n * len(views))
        res = np.empty((n, len(views)), dtype=_I16)
        for i, v in enumerate(views):
            res[:, i] = table[np.frombuffer(v, dtype=np.uint8)]
        return _emit(res, out)
    m = _view(data, frozenset(), "G.711 codes")
    if channels is not None and m.nbytes % _check_channels(channels):
        raise AudioFormatError(
            f"data holds {m.nbytes} codes: not a whole number of {channels}-channel frames"
        )
    if out is not None:
        _out_view(out, 2 * m.nbytes)
    return _emit(table[np.frombuffer(m, dtype=np.uint8)], out)


# --------------------------------------------------------------------------- resampling engine


class SoxrStream:
    """libsoxr through python-soxr's ``ResampleStream`` (float32), the portable engine.

    The kernel under ``scribewire.Resampler``, which checks the arguments; see
    :func:`soxr_stream`. soxr's own int16 output adds TPDF dither, so int16 audio is
    converted int16 -> float32 -> int16 with the PCM kernels of ``kernels`` (this twin by
    default): the chunked output is then bit-identical to the one-shot output.
    """

    __slots__ = ("_formats", "_frame_bytes", "_kernels", "_stream", "channels", "dtype", "engine")

    def __init__(
        self,
        in_rate: int,
        out_rate: int,
        channels: int,
        quality: str,
        dtype: str,
        *,
        kernels: Any = None,
    ) -> None:
        import soxr

        self.channels = channels
        self.dtype = dtype
        self.engine = f"python-soxr {soxr.__version__} (ResampleStream)"
        self._kernels = kernels if kernels is not None else sys.modules[__name__]
        self._frame_bytes = channels * (2 if dtype == "int16" else 4)
        self._formats = INT16_FORMATS if dtype == "int16" else FLOAT32_FORMATS
        self._stream = soxr.ResampleStream(in_rate, out_rate, channels, "float32", quality)

    def _samples(self, data: Buffer) -> npt.NDArray[np.float32]:
        m = _view(data, self._formats, f"{self.dtype} PCM")
        if m.nbytes % self._frame_bytes:
            raise AudioFormatError(
                f"data holds {m.nbytes} bytes: not a whole number of {self.channels}-channel "
                f"{self.dtype} frames ({self._frame_bytes} bytes each)"
            )
        if self.dtype == "int16":
            m = memoryview(self._kernels.int16_to_float32(m))
        f = np.frombuffer(m, dtype=np.float32)
        return f if self.channels == 1 else f.reshape(-1, self.channels)

    def _emit(self, y: npt.NDArray[np.float32]) -> bytes:
        if self.dtype == "int16":
            return self._kernels.float32_to_int16(y)  # type: ignore[no-any-return]
        return y.tobytes()

    def process(self, data: Buffer) -> bytes:
        """Resample one chunk of interleaved frames; returns the frames ready so far."""
        return self._emit(self._stream.resample_chunk(self._samples(data)))

    def flush(self) -> bytes:
        """The frames the filter still holds; the stream is then reset."""
        shape = (0, self.channels) if self.channels > 1 else (0,)
        y = self._stream.resample_chunk(np.zeros(shape, dtype=np.float32), last=True)
        self._stream.clear()
        return self._emit(y)

    def reset(self) -> None:
        """Drop buffered audio and start a new stream."""
        self._stream.clear()

    def delay(self) -> float:
        """Output frames the filter holds back."""
        return float(self._stream.delay())


def soxr_stream(in_rate: int, out_rate: int, channels: int, quality: str, dtype: str) -> SoxrStream:
    """A streaming soxr resampler of interleaved ``dtype`` frames (arguments already checked).

    Args:
        in_rate: input sample rate in Hz.
        out_rate: output sample rate in Hz (differs from ``in_rate``).
        channels: interleaved channel count (>= 1).
        quality: soxr recipe name: ``"QQ"``, ``"LQ"``, ``"MQ"``, ``"HQ"`` or ``"VHQ"``.
        dtype: ``"int16"`` (LE PCM) or ``"float32"`` (native, full scale ±1.0).

    Returns:
        An object with ``process(data) -> bytes``, ``flush() -> bytes``, ``reset()``,
        ``delay() -> float`` (output frames held back) and ``engine`` (a description).
        ``process`` raises ``AudioTypeError`` for a non-buffer or wrong item type and
        ``AudioFormatError`` for a partial frame or non-contiguous buffer. The native twin
        returns the same interface calling libsoxr directly.
    """
    return SoxrStream(in_rate, out_rate, channels, quality, dtype)
