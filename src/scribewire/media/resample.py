"""Streaming sample-rate conversion of int16 (or float32) PCM, with soxr as the engine.

The engine is libsoxr in float32: soxr's own int16 path adds TPDF dither, which would make
chunked output differ from one-shot output. Samples are converted int16 -> float32 -> int16
with the PCM kernels (``float32_to_int16`` rounds half to even and clips), so the chunked
output is bit-identical to the one-shot output for any chunking. The native twin calls
libsoxr's ``soxr_process`` directly (bound from python-soxr's extension module); otherwise
python-soxr's ``ResampleStream`` runs it. ``Resampler.engine`` says which.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._kernels import _impl
from .._kernels._buffers import FLOAT32_FORMATS, INT16_FORMATS, byte_view
from ..errors import AudioFormatError, AudioTypeError

__all__ = ["QUALITIES", "Resampler"]

_kernels = _impl.load("audio")

QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")
_DTYPES = ("int16", "float32")
_MAX_RATE = 768_000
_ITEM_FORMATS = {"int16": INT16_FORMATS, "float32": FLOAT32_FORMATS}


def _check_rate(name: str, rate: object) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)):
        raise AudioTypeError(f"{name} must be an int (Hz), not {type(rate).__name__}")
    if not 1 <= int(rate) <= _MAX_RATE:
        raise AudioFormatError(f"{name} must be 1..{_MAX_RATE} Hz, not {rate}")
    return int(rate)


class Resampler:
    """Streaming resampler for interleaved PCM (soxr engine, any rate pair).

    Feed chunks of any size with :meth:`process`; call :meth:`flush` at the end of the
    stream to get the audio the filter still holds. Concatenated outputs are identical to
    resampling the whole stream in one call, whatever the chunk sizes. soxr removes the
    filter's group delay, so output frame ``k`` is at time ``k / out_rate`` seconds, exactly
    as input frame ``j`` is at ``j / in_rate``; the total output is
    ``total_in * out_rate / in_rate`` frames rounded to nearest (halves up).

    The engine (see :attr:`engine`) is libsoxr called directly by the native twin, else
    python-soxr's ``ResampleStream``; both give identical output. A resampler holds stream
    state: use one per stream and do not share it between threads.

    Args:
        in_rate: input sample rate in Hz (1..768,000).
        out_rate: output sample rate in Hz (1..768,000). Equal rates pass audio through.
        channels: interleaved channel count (>= 1).
        quality: soxr recipe: ``"QQ"``, ``"LQ"``, ``"MQ"``, ``"HQ"`` (default) or ``"VHQ"``.
        dtype: sample type of input and output: ``"int16"`` (LE PCM, default) or
            ``"float32"`` (native, full scale ±1.0).

    Raises:
        AudioFormatError: a rate out of range, channels < 1, unknown quality or dtype.
        AudioTypeError: a non-int rate or channel count.
    """

    __slots__ = (
        "_frame_bytes",
        "_process",
        "_stream",
        "channels",
        "dtype",
        "in_rate",
        "out_rate",
        "quality",
    )

    def __init__(
        self,
        in_rate: int,
        out_rate: int,
        channels: int = 1,
        quality: str = "HQ",
        *,
        dtype: str = "int16",
    ) -> None:
        self.in_rate = _check_rate("in_rate", in_rate)
        self.out_rate = _check_rate("out_rate", out_rate)
        if isinstance(channels, bool) or not isinstance(channels, int):
            raise AudioTypeError(f"channels must be an int, not {type(channels).__name__}")
        if channels < 1:
            raise AudioFormatError(f"channels must be >= 1, not {channels}")
        if quality not in QUALITIES:
            raise AudioFormatError(f"quality must be one of {QUALITIES}, not {quality!r}")
        if dtype not in _DTYPES:
            raise AudioFormatError(f"dtype must be 'int16' or 'float32', not {dtype!r}")
        self.channels = channels
        self.quality = quality
        self.dtype = dtype
        self._frame_bytes = channels * (2 if dtype == "int16" else 4)
        self._stream: Any = None
        self._process: Any = self._passthrough
        if self.in_rate != self.out_rate:
            self._stream = _kernels.soxr_stream(
                self.in_rate, self.out_rate, channels, quality, dtype
            )
            self._process = self._stream.process

    def __repr__(self) -> str:
        return (
            f"Resampler({self.in_rate}, {self.out_rate}, channels={self.channels}, "
            f"quality={self.quality!r}, dtype={self.dtype!r})"
        )

    @property
    def latency_frames(self) -> int:
        """Output frames the filter currently holds back (returned by later calls or flush).

        This is the stream's buffering, not a timestamp offset: output timing is aligned
        (see the class docstring). 0 before the first chunk and after :meth:`flush`.
        """
        if self._stream is None:
            return 0
        return int(round(self._stream.delay()))

    def _view(self, data: object) -> memoryview:
        """``data`` as a flat byte view, checked once: type, contiguity, whole frames."""
        m = byte_view(data, "data", f"{self.dtype} PCM", formats=_ITEM_FORMATS[self.dtype])
        if m.nbytes % self._frame_bytes:
            raise AudioFormatError(
                f"data holds {m.nbytes} bytes: not a whole number of {self.channels}-channel "
                f"{self.dtype} frames ({self._frame_bytes} bytes each)"
            )
        return m

    def _passthrough(self, data: object) -> bytes:
        return bytes(self._view(data))

    @property
    def engine(self) -> str:
        """The resampling engine: libsoxr called directly, python-soxr, or a passthrough."""
        return "passthrough" if self._stream is None else str(self._stream.engine)

    def process(self, data: object) -> bytes:
        """Resample one chunk.

        Args:
            data: interleaved frames of ``dtype`` (int16 LE or float32), any contiguous
                buffer; nbytes a multiple of the frame size; empty is allowed.

        Returns:
            The output frames ready so far (may be empty while the filter fills), same
            dtype and channel layout.

        Raises:
            AudioFormatError: a partial frame or non-contiguous buffer.
            AudioTypeError: not a buffer, or items of the wrong type.
        """
        return self._process(data)  # type: ignore[no-any-return]

    def flush(self) -> bytes:
        """End the stream: the remaining output frames. The resampler is then reset."""
        if self._stream is None:
            return b""
        return self._stream.flush()  # type: ignore[no-any-return]

    def reset(self) -> None:
        """Drop buffered audio and start a new stream (same rates, channels, quality)."""
        if self._stream is not None:
            self._stream.reset()
