"""Caller audio to a stream's wire format: int16 PCM at the stream's rate, whole frames.

:class:`InputNormaliser` takes what a caller passes to ``Stream.send``: bytes-like
int16 little-endian PCM (channels interleaved), or numpy arrays of int16 or float32
(full scale ±1.0, clipped), at the stream's rate or another one (resampled with soxr HQ,
one resampler kept per input rate). It holds back a trailing part of a frame until the
next call, so callers may split audio anywhere.
"""

from __future__ import annotations

from .._kernels._buffers import byte_view
from ..audio import float32_to_int16, ulaw_encode
from ..errors import AudioFormatError, AudioTypeError
from .resample import Resampler

__all__ = ["InputNormaliser"]


class InputNormaliser:
    """Caller audio to whole frames of the stream's wire encoding.

    Args:
        sample_rate: the stream's rate, Hz.
        channels: interleaved channels of the stream (1 or 2).
        encoding: ``"pcm"`` (int16 LE, the default) or ``"mulaw"`` (G.711 μ-law, 1 byte
            per sample: the caller still passes PCM; it is encoded here).

    Raises:
        AudioFormatError: a channel count below 1.
    """

    __slots__ = ("sample_rate", "channels", "encoding", "_pcm_frame", "_resampler", "_partial")

    def __init__(self, sample_rate: int, channels: int, encoding: str = "pcm") -> None:
        if channels < 1:
            raise AudioFormatError(f"channels must be >= 1, not {channels!r}")
        if encoding not in ("pcm", "mulaw"):
            raise AudioFormatError(f"encoding must be 'pcm' or 'mulaw', not {encoding!r}")
        self.sample_rate = sample_rate
        self.channels = channels
        self.encoding = encoding
        self._pcm_frame = 2 * channels  # bytes of one int16 frame of all channels
        self._resampler: tuple[int, Resampler] | None = None
        self._partial = b""  # a trailing part of a frame, waiting for the rest

    @property
    def held_nbytes(self) -> int:
        """Bytes of a partial frame held back for the next call."""
        return len(self._partial)

    def __call__(self, audio: object, sample_rate: int | None = None) -> memoryview:
        """Whole frames of ``audio`` in the wire encoding (a partial frame is held).

        Args:
            audio: int16 LE PCM bytes-like, or a numpy int16 / float32 array, channels
                interleaved, C-contiguous.
            sample_rate: the audio's rate in Hz when it differs from the stream's.

        Raises:
            AudioTypeError: not bytes-like, not C-contiguous, or another dtype.
            AudioFormatError: resampled audio that is not whole frames.
        """
        dtype = getattr(audio, "dtype", None)
        if dtype is not None:
            if str(dtype) == "float32":
                audio = float32_to_int16(audio)
            elif str(dtype) != "int16":
                raise AudioTypeError(f"audio arrays must be int16 or float32, not {dtype}")
        view = byte_view(audio, "audio", "int16 PCM or a numpy array", layout_error=AudioTypeError)
        bpf = self._pcm_frame
        if sample_rate is not None and sample_rate != self.sample_rate:
            if len(view) % bpf:
                raise AudioFormatError(
                    f"audio of {len(view)} bytes is not whole frames of {bpf} bytes"
                )
            if self._resampler is None or self._resampler[0] != sample_rate:
                self._resampler = (
                    sample_rate,
                    Resampler(sample_rate, self.sample_rate, self.channels),
                )
            view = memoryview(self._resampler[1].process(view))
        if self._partial:
            view = memoryview(self._partial + view)
            self._partial = b""
        whole = len(view) // bpf * bpf
        if whole != len(view):  # the rest of this frame comes with the next call
            self._partial = bytes(view[whole:])
            view = view[:whole]
        if self.encoding == "mulaw" and len(view):
            view = memoryview(ulaw_encode(view))
        return view
