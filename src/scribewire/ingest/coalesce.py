"""Cut one call's audio into Redis entries: at least the entry size, each ending on a
whole millisecond of audio (the entry ID is the audio end in ms, ``scaleout.md`` §4).

Sans-I/O: bytes in, ``(end_ms, data)`` entries out. The buffer holds less than one entry.
"""

from __future__ import annotations

from ..errors import AudioFormatError, ParameterError
from .limits import SAMPLE_RATES

__all__ = ["Coalescer"]


class Coalescer:
    """One call's entries.

    Args:
        sample_rate: Hz, one of :data:`~scribewire.ingest.limits.SAMPLE_RATES`.
        bytes_per_frame: bytes of one frame, all channels (1 or 2 for μ-law, 2 or 4 for
            int16).
        entry_ms: audio per entry, ms (> 0).
        start_ms: the call position the first entry starts at (a continued call's).
        silence: the byte of silence in the call's encoding (``0xFF`` for μ-law, ``0``
            for int16), used to pad the last entry to a whole millisecond.

    Raises:
        ParameterError: a rate outside ``SAMPLE_RATES``, a size or start out of range.
    """

    __slots__ = ("_buf", "_bpf", "_entry_nbytes", "_ms_nbytes", "_start_ms", "_silence")

    def __init__(
        self,
        sample_rate: int,
        bytes_per_frame: int,
        entry_ms: int,
        *,
        start_ms: int = 0,
        silence: int = 0,
    ) -> None:
        if sample_rate not in SAMPLE_RATES:
            raise ParameterError(f"sample_rate {sample_rate} Hz is not one of {SAMPLE_RATES}")
        if bytes_per_frame not in (1, 2, 4) or entry_ms <= 0 or start_ms < 0:
            raise ParameterError(
                f"bytes_per_frame {bytes_per_frame} (1, 2 or 4), entry_ms {entry_ms} (> 0), "
                f"start_ms {start_ms} (>= 0)"
            )
        self._bpf = bytes_per_frame
        self._ms_nbytes = sample_rate // 1000 * bytes_per_frame
        self._entry_nbytes = entry_ms * self._ms_nbytes
        self._start_ms = start_ms  # where the buffered audio starts
        self._buf = bytearray()
        self._silence = silence

    @property
    def position_ms(self) -> int:
        """The call position after everything added, ms (rounded down)."""
        return self._start_ms + len(self._buf) // self._ms_nbytes

    @property
    def buffered_nbytes(self) -> int:
        """Bytes waiting for a whole entry."""
        return len(self._buf)

    def add(self, data: bytes) -> list[tuple[int, bytes]]:
        """Buffer ``data`` (whole frames); return the entries now complete.

        Raises:
            AudioFormatError: ``data`` is not a whole number of frames.
        """
        if len(data) % self._bpf:
            raise AudioFormatError(
                f"{len(data)} bytes is not a whole number of {self._bpf}-byte frames"
            )
        buf = self._buf
        buf += data
        n = self._entry_nbytes
        if len(buf) < n:
            return []
        out = []
        i = 0
        while len(buf) - i >= n:
            self._start_ms += n // self._ms_nbytes
            out.append((self._start_ms, bytes(buf[i : i + n])))
            i += n
        del buf[:i]
        return out

    def flush(self) -> list[tuple[int, bytes]]:
        """The buffered audio as one entry, padded with silence to a whole millisecond
        (less than 1 ms); [] when nothing is buffered."""
        buf = self._buf
        if not buf:
            return []
        short = -len(buf) % self._ms_nbytes
        buf += bytes([self._silence]) * short
        self._start_ms += len(buf) // self._ms_nbytes
        entry = [(self._start_ms, bytes(buf))]
        buf.clear()
        return entry

    def skip(self, frames: int) -> list[tuple[int, bytes]]:
        """Flush, then move the position on by ``frames`` (rounded up to a whole ms) of
        audio that will never come: the worker fills the hole with silence."""
        out = self.flush()
        ms_frames = self._ms_nbytes // self._bpf
        self._start_ms += -(-max(frames, 0) // ms_frames)
        return out
