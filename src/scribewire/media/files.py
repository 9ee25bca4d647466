"""Audio files opened for streaming: WAV, FLAC, Ogg/Opus and headerless raw (soundfile).

``open_audio(path)`` returns an :class:`AudioSource`; its :meth:`AudioSource.chunks` yields
the audio converted on the way to the format a stream asks for (sample rate, channels,
encoding), in uniform chunks, which is what Amazon Transcribe recommends (protocol.md §5:
50-200 ms chunks of uniform size, ``pcm`` = signed 16-bit little-endian, no header).

Decoding is libsndfile's (through soundfile), including G.711 μ-law/A-law WAVs, whose
decoded int16 equals ``audioop.ulaw2lin`` / ``alaw2lin`` (checked by the tests). Files of
16 bits or less are read as int16, deeper ones (24/32-bit, float, FLAC 24-bit, Opus) as
float32, so nothing is quantised before resampling.

Sample rates are checked when a file is opened: a file's rate must lie in
``FILE_RATES`` (4,000..384,000 Hz), so that reaching any rate a provider takes
(8,000..48,000 Hz) is a bounded resampling ratio; a header declaring 1 Hz is an
``AudioFileError``, not hours of upsampling. Reads are sized by the output: each one
yields about ``_READ_FRAMES`` output frames whatever the ratio, so memory is bounded.
A path that is not a regular file (a directory, a named pipe, a socket or device, a
broken or looping symbolic link) is refused with its own message before anything opens it.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import soundfile as sf

from .._kernels import _impl
from ..errors import AudioFileError, AudioFormatError, AudioTypeError
from .resample import Resampler

__all__ = [
    "ENCODINGS",
    "FILE_RATES",
    "AudioSource",
    "RawFormat",
    "is_headerless",
    "open_audio",
    "read_range",
]

#: Sample rates (Hz) a file may have, and the rates ``chunks`` converts to: from under the
#: lowest rate a provider takes (8 kHz) to 8x the highest (48 kHz).
FILE_RATES = range(4_000, 384_000 + 1)

_kernels = _impl.load("audio")

#: Output encodings of :meth:`AudioSource.chunks` (canonical name first) and their aliases.
ENCODINGS: dict[str, str] = {
    "pcm_s16le": "pcm_s16le",
    "pcm": "pcm_s16le",
    "pcm_mulaw": "pcm_mulaw",
    "mulaw": "pcm_mulaw",
    "ulaw": "pcm_mulaw",
    "pcm_alaw": "pcm_alaw",
    "alaw": "pcm_alaw",
}

_RAW_SUBTYPES = {
    "pcm_s16le": "PCM_16",
    "pcm": "PCM_16",
    "mulaw": "ULAW",
    "ulaw": "ULAW",
    "pcm_mulaw": "ULAW",
    "alaw": "ALAW",
    "pcm_alaw": "ALAW",
}
_RAW_SUFFIXES = frozenset({".raw", ".pcm", ".ulaw", ".alaw", ".mulaw", ".s16", ".sln"})


def is_headerless(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` names headerless raw audio (by suffix: ``.raw``, ``.pcm``, ``.ulaw``,
    ``.alaw``, ``.mulaw``, ``.s16``, ``.sln``), which needs a ``RawFormat`` to be read."""
    return Path(path).suffix.lower() in _RAW_SUFFIXES
_INT16_SUBTYPES = frozenset({"PCM_16", "PCM_U8", "PCM_S8", "ULAW", "ALAW"})
_READ_FRAMES = 8192  # output frames (about) produced per libsndfile call


def _rate_problem(rate: int) -> str | None:
    if rate in FILE_RATES:
        return None
    return (
        f"sample rate {rate} Hz is outside {FILE_RATES.start:,}..{FILE_RATES.stop - 1:,} Hz "
        "(streaming services take 8,000..48,000 Hz; this header is corrupt or the file "
        "needs converting first)"
    )


def _not_a_regular_file(path: str) -> str | None:
    """Why ``path`` cannot be opened as an audio file, or None for a regular file.

    Nothing is opened (opening a named pipe would block until a writer comes).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return "broken symbolic link (its target does not exist)"
        return "no such file"
    except NotADirectoryError:
        return "a component of the path is not a directory"
    except PermissionError:
        return "permission denied (a directory on the path cannot be searched)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "too many levels of symbolic links (a symbolic link loop)"
        if exc.errno == errno.ENAMETOOLONG:
            return "file name too long"
        return f"cannot stat: {exc.strerror or exc}"
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None if os.access(path, os.R_OK) else "permission denied"
    if stat.S_ISDIR(mode):
        return "is a directory, not an audio file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    return "not a regular file"


@dataclass(frozen=True, slots=True)
class RawFormat:
    """How to read a headerless raw file.

    Attributes:
        sample_rate: samples per second per channel (Hz).
        channels: interleaved channel count.
        encoding: ``"pcm_s16le"`` (signed 16-bit LE), ``"mulaw"`` or ``"alaw"`` (G.711,
            one byte per sample).
    """

    sample_rate: int
    channels: int = 1
    encoding: str = "pcm_s16le"

    def __post_init__(self) -> None:
        if isinstance(self.sample_rate, bool) or not isinstance(self.sample_rate, int):
            raise AudioTypeError("RawFormat.sample_rate must be an int (Hz)")
        why = _rate_problem(self.sample_rate)
        if why is not None:
            raise AudioFormatError(f"RawFormat.sample_rate: {why}")
        if isinstance(self.channels, bool) or not isinstance(self.channels, int):
            raise AudioTypeError("RawFormat.channels must be an int")
        if self.channels < 1:
            raise AudioFormatError(f"RawFormat.channels must be >= 1, not {self.channels}")
        if self.encoding not in _RAW_SUBTYPES:
            raise AudioFormatError(
                f"RawFormat.encoding must be 'pcm_s16le', 'mulaw' or 'alaw', not {self.encoding!r}"
            )


def _wav_truncation(path: str) -> str | None:
    """Why a RIFF/WAVE file is truncated (its data chunk runs past the end), else None."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            ck_id, ck_size = struct.unpack("<4sI", f.read(8))
            if ck_id == b"data":
                if ck_size in (0, 0xFFFFFFFF):  # written while streaming: size unknown
                    return None
                have = size - pos - 8
                if ck_size > have:
                    return f"its data chunk declares {ck_size} bytes but only {have} are present"
                return None
            pos += 8 + ck_size + (ck_size & 1)
    return None


def _ogg_truncation(path: str) -> str | None:
    """Why an Ogg file is truncated (its last page lacks the end-of-stream flag), else None."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(max(0, size - 65536))
        tail = f.read()
    at = tail.rfind(b"OggS")
    if at < 0 or at + 6 > len(tail):
        return "no Ogg page found at its end"
    if not tail[at + 5] & 0x04:
        return "its last Ogg page lacks the end-of-stream flag"
    return None


class AudioSource:
    """An open audio file, read in converted chunks. Use :func:`open_audio` to create.

    Attributes:
        path: the file's path.
        sample_rate: the file's sample rate (Hz).
        channels: the file's channel count.
        frames: frames in the file (one sample per channel each).
        duration: ``frames / sample_rate`` in seconds.
        format: container as libsndfile names it (``"WAV"``, ``"FLAC"``, ``"OGG"``, ``"RAW"``).
        subtype: sample encoding as read (``"PCM_16"``, ``"PCM_24"``, ``"FLOAT"``, ``"ULAW"``,
            ``"ALAW"``, ``"OPUS"``, ...).
    """

    def __init__(self, path: str | os.PathLike[str], raw_format: RawFormat | None = None) -> None:
        self.path = Path(path)
        p = str(self.path)
        why = _not_a_regular_file(p)
        if why is not None:
            raise AudioFileError(why, path=p)
        is_raw = is_headerless(self.path)
        if is_raw and raw_format is None:
            raise AudioFileError(
                "headerless raw audio; pass raw_format=RawFormat(sample_rate=..., "
                "channels=..., encoding='pcm_s16le'|'mulaw'|'alaw')",
                path=p,
            )
        try:
            if raw_format is not None:
                subtype = _RAW_SUBTYPES[raw_format.encoding]
                frame_bytes = raw_format.channels * (2 if subtype == "PCM_16" else 1)
                if os.path.getsize(p) % frame_bytes:
                    raise AudioFileError("raw file ends in a partial frame (truncated)", path=p)
                self._sf: Any = sf.SoundFile(
                    p,
                    samplerate=raw_format.sample_rate,
                    channels=raw_format.channels,
                    subtype=subtype,
                    format="RAW",
                    endian="LITTLE",
                )
            else:
                self._sf = sf.SoundFile(p)
        except AudioFileError:
            raise
        except Exception as exc:  # libsndfile reports many kinds of failure
            raise AudioFileError(f"cannot open audio: {exc}", path=p) from exc
        self.sample_rate: int = int(self._sf.samplerate)
        self.channels: int = int(self._sf.channels)
        self.frames: int = int(self._sf.frames)
        self.format: str = str(self._sf.format)
        self.subtype: str = str(self._sf.subtype)
        self.duration: float = self.frames / self.sample_rate if self.sample_rate else 0.0
        why = None
        if self.format == "WAV":
            why = _wav_truncation(p)
        elif self.format == "OGG":
            why = _ogg_truncation(p)
        if why is not None:
            self._sf.close()
            raise AudioFileError(f"truncated file: {why}", path=p)
        if self.frames <= 0 or self.sample_rate <= 0:
            self._sf.close()
            raise AudioFileError("no audio frames", path=p)
        why = _rate_problem(self.sample_rate)
        if why is not None:
            self._sf.close()
            raise AudioFileError(why, path=p)
        self._int16 = self.subtype in _INT16_SUBTYPES

    def __repr__(self) -> str:
        return (
            f"<AudioSource {str(self.path)!r} {self.format}/{self.subtype} {self.sample_rate} Hz "
            f"{self.channels} ch {self.frames} frames>"
        )

    def __enter__(self) -> AudioSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (idempotent)."""
        self._sf.close()

    @property
    def closed(self) -> bool:
        return bool(self._sf.closed)

    # ------------------------------------------------------------------ conversion

    def _plan(
        self, sample_rate: int | None, channels: int | None, channel: int | None, encoding: str
    ) -> tuple[int, int, str]:
        out_rate = self.sample_rate if sample_rate is None else sample_rate
        if isinstance(out_rate, bool) or not isinstance(out_rate, int):
            raise AudioTypeError(f"sample_rate must be an int (Hz), not {type(out_rate).__name__}")
        why = _rate_problem(out_rate)
        if why is not None:
            raise AudioFormatError(f"output {why}")
        if channel is not None:
            if isinstance(channel, bool) or not isinstance(channel, int):
                raise AudioTypeError(f"channel must be an int index, not {type(channel).__name__}")
            if not 0 <= channel < self.channels:
                raise AudioFormatError(
                    f"channel={channel} but {self.path} has {self.channels} channel(s)"
                )
        src = 1 if channel is not None else self.channels
        out_ch = src if channels is None else channels
        if isinstance(out_ch, bool) or not isinstance(out_ch, int):
            raise AudioTypeError(f"channels must be an int, not {type(out_ch).__name__}")
        if out_ch < 1:
            raise AudioFormatError(f"channels must be >= 1, not {out_ch}")
        if out_ch not in (1, src) and src != 1:
            raise AudioFormatError(
                f"cannot convert {src} channels to {out_ch}: ask for 1 (downmix), {src}, "
                f"or pick one with channel="
            )
        if encoding not in ENCODINGS:
            raise AudioFormatError(
                f"encoding must be one of {sorted(set(ENCODINGS.values()))}, not {encoding!r}"
            )
        return out_rate, out_ch, ENCODINGS[encoding]

    def _blocks(self, channel: int | None, mono: bool, out_rate: int) -> Iterator[memoryview]:
        """Decoded input, channel-reduced, as int16 or float32 interleaved bytes; each
        block resamples to about ``_READ_FRAMES`` frames at ``out_rate`` (fewer input
        frames per read when upsampling), so no read's output grows with the ratio."""
        k = _kernels
        dtype = "int16" if self._int16 else "float32"
        per_read = max(1, min(_READ_FRAMES, _READ_FRAMES * self.sample_rate // out_rate))
        self._sf.seek(0)
        got = 0
        while True:
            try:
                a = self._sf.read(per_read, dtype=dtype, always_2d=True)
            except Exception as exc:
                raise AudioFileError(
                    f"decoding failed after {got} frames: {exc}", path=str(self.path)
                ) from exc
            n = a.shape[0]
            if n == 0:
                break
            got += n
            if channel is not None and self.channels > 1:
                a = np.ascontiguousarray(a[:, channel])
            elif mono and self.channels > 1:
                if self._int16:
                    yield memoryview(k.downmix(a, self.channels))
                    continue
                a = a.mean(axis=1, dtype=np.float32)
            yield memoryview(a).cast("B")
        if got < self.frames:
            raise AudioFileError(
                f"truncated: decoded {got} of {self.frames} frames", path=str(self.path)
            )

    def chunks(
        self,
        frames_per_chunk: int,
        *,
        sample_rate: int | None = None,
        channels: int | None = None,
        channel: int | None = None,
        encoding: str = "pcm_s16le",
        quality: str = "HQ",
    ) -> Iterator[bytes]:
        """The whole file, converted, in chunks of ``frames_per_chunk`` output frames.

        Conversion order: pick one channel (``channel=``) or downmix (``channels=1``, the
        mean of the channels), resample (:class:`Resampler`, soxr ``quality``), duplicate a
        mono signal when more channels are asked for, then encode.

        Args:
            frames_per_chunk: output frames per chunk (at the output rate); every chunk has
                exactly that many except the last, which may be shorter. E.g. 100 ms at
                16 kHz = 1,600 frames = 3,200 bytes of mono ``pcm_s16le``.
            sample_rate: output rate in Hz; None keeps the file's rate.
            channels: output channel count; None keeps the file's (or 1 with ``channel=``).
                1 downmixes; N > 1 from a mono source duplicates it.
            channel: index of the one input channel to use (0-based), or None for all.
            encoding: ``"pcm_s16le"`` (int16 LE interleaved, Transcribe's ``pcm``),
                ``"pcm_mulaw"`` or ``"pcm_alaw"`` (G.711, one byte per sample).
            quality: soxr recipe for resampling (see :class:`Resampler`).

        Yields:
            bytes of interleaved samples in ``encoding``.

        Raises:
            AudioFormatError: bad arguments (rate outside ``FILE_RATES``, channel counts,
                encoding, chunk size).
            AudioFileError: the file fails to decode or ends early (names the file).
        """
        if isinstance(frames_per_chunk, bool) or not isinstance(frames_per_chunk, int):
            raise AudioTypeError("frames_per_chunk must be an int")
        if frames_per_chunk < 1:
            raise AudioFormatError(f"frames_per_chunk must be >= 1, not {frames_per_chunk}")
        out_rate, out_ch, enc = self._plan(sample_rate, channels, channel, encoding)
        return self._chunks(frames_per_chunk, out_rate, out_ch, channel, enc, quality)

    def _chunks(
        self,
        frames_per_chunk: int,
        out_rate: int,
        out_ch: int,
        channel: int | None,
        enc: str,
        quality: str,
    ) -> Iterator[bytes]:
        k = _kernels
        work_ch = 1 if (channel is not None or out_ch == 1) else self.channels
        dtype = "int16" if self._int16 else "float32"
        rs = Resampler(self.sample_rate, out_rate, work_ch, quality, dtype=dtype)
        upmix = out_ch if (work_ch == 1 and out_ch > 1) else 1

        def convert(block: memoryview | bytes) -> bytes:
            pcm = block if dtype == "int16" else k.float32_to_int16(block)
            if upmix > 1:
                pcm = k.interleave([pcm] * upmix)
            if enc == "pcm_mulaw":
                return k.ulaw_encode(pcm)  # type: ignore[no-any-return]
            if enc == "pcm_alaw":
                return k.alaw_encode(pcm)  # type: ignore[no-any-return]
            return bytes(pcm)

        sample_bytes = 2 if enc == "pcm_s16le" else 1
        chunk_bytes = frames_per_chunk * out_ch * sample_bytes
        pending = bytearray()
        for block in self._blocks(channel, work_ch == 1, out_rate):
            pending += convert(rs.process(block))
            while len(pending) >= chunk_bytes:
                yield bytes(pending[:chunk_bytes])
                del pending[:chunk_bytes]
        pending += convert(rs.flush())
        for i in range(0, len(pending), chunk_bytes):
            yield bytes(pending[i : i + chunk_bytes])

    def read(
        self,
        *,
        sample_rate: int | None = None,
        channels: int | None = None,
        channel: int | None = None,
        encoding: str = "pcm_s16le",
        quality: str = "HQ",
    ) -> bytes:
        """The whole file converted at once; equal to ``b"".join(self.chunks(...))``."""
        return b"".join(
            self.chunks(
                1 << 20,
                sample_rate=sample_rate,
                channels=channels,
                channel=channel,
                encoding=encoding,
                quality=quality,
            )
        )


def open_audio(path: str | os.PathLike[str], *, raw_format: RawFormat | None = None) -> AudioSource:
    """Open an audio file for streaming.

    Formats: WAV (PCM 8/16/24/32-bit, float, μ-law, A-law), FLAC, Ogg/Opus (and what else
    libsndfile reads), and headerless raw (``.raw``, ``.pcm``, ...) with ``raw_format``.

    Args:
        path: the file.
        raw_format: how to read a headerless file; required for raw files.

    Returns:
        An :class:`AudioSource` (a context manager; close it when done).

    Raises:
        AudioFileError: missing, unreadable, truncated or unsupported file, not a regular
            file, a sample rate outside ``FILE_RATES``, or a raw file without
            ``raw_format``; the message names the file (``exc.path``, ``exc.reason``).
    """
    return AudioSource(path, raw_format)


def read_range(
    reopen: Callable[[], AudioSource],
    frames_per_chunk: int,
    start: int,
    end: int,
    **convert: Any,
) -> bytes:
    """Bytes ``[start, end)`` of a file's converted stream, read again from the file.

    The stream is what ``reopen().chunks(frames_per_chunk, **convert)`` yields from the
    start (the conversion is deterministic, so the bytes are exactly the ones streamed
    before); it is read from the beginning up to ``end``, keeping only what is needed:
    memory is ``end - start`` plus one chunk. For a stream's replay after a reconnect.

    Raises:
        AudioFileError: the file can no longer be opened or decoded.
        AudioFormatError: the file ends before ``end`` (it changed since it was streamed).
    """
    out = bytearray()
    pos = 0
    with reopen() as source:
        for chunk in source.chunks(frames_per_chunk, **convert):
            n = len(chunk)
            if pos + n > start:
                out += memoryview(chunk)[max(0, start - pos) : end - pos]
            pos += n
            if pos >= end:
                return bytes(out)
    raise AudioFormatError(
        f"the file ended at byte {pos} of its converted stream, before {end}: it changed"
    )
