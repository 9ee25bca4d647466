"""Sans-I/O replay ledger: the audio a service has not finished with, for every provider.

No streaming speech service acknowledges audio as such: what a client can know is which
audio the service has *finished with* (covered by a final result: Transcribe's latest
final held back by open partials, AssemblyAI's latest end-of-turn). Each provider's
:class:`~scribewire.streaming.session.AckRule` says where that point is in connection
time; :class:`AudioLedger` keeps everything after it, so a new connection can be given
exactly the audio the old one had not finished with (DESIGN.md "No audio lost")::

    ledger = AudioLedger(16_000, 2, TranscribeAck(16_000, 1), max_replay_nbytes=1 << 20)
    ledger.record(chunk)                  # audio handed to the current connection
    ledger.record_silence(nbytes)         # keepalive silence: a count, not bytes
    ledger.observe(event)                 # moves the acknowledgement point
    deliver(ledger.shift(event))          # times on the logical stream's base
    replay = ledger.reconnect()           # the connection is gone: send this first

**Positions** are bytes from the start of the logical stream; each connection's times
start at 0.0 s at ``offset`` (stream time = connection time + offset).

**Memory** is bounded by ``max_replay_nbytes`` of stored audio. Keepalive silence is
stored as a run length and costs nothing. When new audio would exceed the budget, the
oldest unacknowledged audio leaves memory:

- for a ``refetchable`` source (a file: the same bytes can be read again), nothing is
  lost: :meth:`AudioLedger.refetch_range` names the positions a reconnect needs read
  again, the caller reads them (off its event loop) and passes them to ``reconnect``;
- without one (a live source), the audio is counted in ``dropped_nbytes`` and a
  :class:`~scribewire.errors.ReplayOverflow` warning is issued (``warnings``; the
  stream's shell also logs it and counts it in its stats): a reconnect before the
  service finishes with that audio cannot replay it. Never silent.

The ledger never touches a socket, a file or a clock.
"""

from __future__ import annotations

import collections
import math
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from .._kernels._buffers import byte_view
from ..errors import AudioFormatError, ParameterError, ReplayOverflow
from .session import AckRule

__all__ = ["AudioLedger", "Refetch", "seconds_to_nbytes"]

_E = TypeVar("_E")

Refetch = Callable[[int, int], bytes]
"""``refetch(start, end)``: the stream's audio bytes of positions ``[start, end)`` again."""

#: Added to ``seconds * sample_rate`` before flooring to a frame: float noise in a time
#: such as 1.234 s must not cost a frame (a whole-frame time is never rounded up).
_FRAME_EPSILON = 1e-6


class AudioLedger:
    """The unacknowledged audio of one logical stream and its time base across connections.

    Args:
        sample_rate: audio rate, Hz (> 0).
        bytes_per_frame: bytes of one frame of all channels in the wire encoding (int16
            mono 2, int16 stereo 4, G.711 mono 1).
        ack: the provider's acknowledgement rule (one per logical stream).
        max_replay_nbytes: most stored audio, bytes (rounded down to whole frames);
            None for no bound (then nothing ever leaves memory unacknowledged).
        refetchable: the source can read any of its audio again (a file): audio that
            leaves memory is then never lost (see :meth:`refetch_range`).

    Raises:
        ParameterError: a non-positive rate or frame size, a negative budget.
    """

    __slots__ = (
        "sample_rate",
        "bytes_per_frame",
        "max_replay_nbytes",
        "reconnects",
        "overflows",
        "_ack_rule",
        "refetchable",
        "_bps",
        "_segments",
        "_start",
        "_total",
        "_memory",
        "_ack",
        "_conn",
        "_dropped",
        "_spilled",
        "_overflowing",
    )

    def __init__(
        self,
        sample_rate: int,
        bytes_per_frame: int,
        ack: AckRule,
        *,
        max_replay_nbytes: int | None = None,
        refetchable: bool = False,
    ) -> None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ParameterError(f"sample_rate must be a positive int (Hz), got {sample_rate!r}")
        if (
            isinstance(bytes_per_frame, bool)
            or not isinstance(bytes_per_frame, int)
            or bytes_per_frame <= 0
        ):
            raise ParameterError(f"bytes_per_frame must be a positive int, got {bytes_per_frame!r}")
        if max_replay_nbytes is not None and (
            isinstance(max_replay_nbytes, bool)
            or not isinstance(max_replay_nbytes, int)
            or max_replay_nbytes < 0
        ):
            raise ParameterError(
                f"max_replay_nbytes must be an int >= 0 (bytes) or None, got {max_replay_nbytes!r}"
            )
        #: audio rate, Hz
        self.sample_rate = sample_rate
        #: bytes of one frame of all channels
        self.bytes_per_frame = bytes_per_frame
        #: the memory budget in bytes (whole frames), or None for none
        self.max_replay_nbytes = (
            None
            if max_replay_nbytes is None
            else max_replay_nbytes - max_replay_nbytes % bytes_per_frame
        )
        #: how many times :meth:`reconnect` was called
        self.reconnects = 0
        #: how many times unacknowledged audio started to leave memory with no refetch
        self.overflows = 0
        self._ack_rule = ack
        #: whether audio that leaves memory can be read again from the source
        self.refetchable = refetchable
        self._bps = sample_rate * bytes_per_frame  # bytes per second
        # (position, bytes) or (position, silence run length): stream order, contiguous
        self._segments: collections.deque[tuple[int, bytes | int]] = collections.deque()
        self._start = 0  # position of the first segment kept
        self._total = 0  # position of the end of all audio recorded
        self._memory = 0  # bytes stored (silence runs excluded)
        self._ack = 0  # acknowledged up to here (whole frames), never backwards
        self._conn = 0  # position of the current connection's time 0
        self._dropped = 0
        self._spilled: int | None = None  # first position left memory, refetchable
        self._overflowing = False

    # ------------------------------------------------------------------ properties

    @property
    def offset(self) -> float:
        """Stream time of the current connection's time 0, seconds (0.0 on the first)."""
        return self._conn / self._bps

    @property
    def acknowledged_nbytes(self) -> int:
        """Stream position up to which the service has finished with the audio, bytes."""
        return self._ack

    @property
    def acknowledged_seconds(self) -> float:
        """``acknowledged_nbytes`` in seconds of stream time."""
        return self._ack / self._bps

    @property
    def sent_nbytes(self) -> int:
        """Bytes of audio recorded over the whole stream (replays counted once)."""
        return self._total

    @property
    def sent_seconds(self) -> float:
        """Stream time of the end of all audio recorded, seconds."""
        return self._total / self._bps

    @property
    def unacknowledged_seconds(self) -> float:
        """Audio recorded but not acknowledged, seconds (dropped audio included)."""
        return (self._total - self._ack) / self._bps

    @property
    def retained_nbytes(self) -> int:
        """Unacknowledged audio kept (stored, or as silence runs), bytes: what
        :meth:`reconnect` would replay now (before leading silence is skipped)."""
        return self._total - max(self._ack, self._start)

    @property
    def memory_nbytes(self) -> int:
        """Bytes of audio stored now (keepalive silence costs none)."""
        return self._memory

    @property
    def dropped_nbytes(self) -> int:
        """Unacknowledged audio that left memory with no way to read it again, bytes."""
        return self._dropped

    @property
    def dropped_seconds(self) -> float:
        """``dropped_nbytes`` in seconds."""
        return self._dropped / self._bps

    @property
    def connection_seconds(self) -> float:
        """Audio sent on the current connection (the replay included), seconds: for the
        rollover before a provider's session limit."""
        return (self._total - self._conn) / self._bps

    # ------------------------------------------------------------------ audio

    def record(self, pcm: object) -> None:
        """Note audio just handed to the current connection, in stream order.

        Args:
            pcm: the audio in the wire encoding (any C-contiguous bytes-like object),
                whole frames only; empty is a no-op. It is copied.

        Raises:
            AudioTypeError: not a bytes-like object.
            AudioFormatError: not C-contiguous, or not a whole number of frames.

        Warns:
            ReplayOverflow: unacknowledged audio left memory and cannot be replayed.
        """
        view = byte_view(pcm, "pcm", "audio bytes")
        n = view.nbytes
        if n % self.bytes_per_frame:
            raise AudioFormatError(
                f"pcm has {n} bytes: not a whole number of {self.bytes_per_frame}-byte frames"
            )
        if not n:
            return
        self._segments.append((self._total, bytes(view)))
        self._total += n
        self._memory += n
        limit = self.max_replay_nbytes
        if limit is not None and self._memory > limit:
            self._evict(self._memory - limit)

    def record_silence(self, nbytes: int) -> None:
        """Note ``nbytes`` of keepalive silence (zeros) handed to the current connection;
        stored as a run length.

        Raises:
            AudioFormatError: not a whole number of frames.
        """
        if nbytes % self.bytes_per_frame or nbytes < 0:
            raise AudioFormatError(
                f"silence of {nbytes} bytes: not a whole number of "
                f"{self.bytes_per_frame}-byte frames"
            )
        if not nbytes:
            return
        segments = self._segments
        if segments and isinstance(segments[-1][1], int):
            pos, run = segments.pop()
            segments.append((pos, run + nbytes))  # type: ignore[operator]
        else:
            segments.append((self._total, nbytes))
        self._total += nbytes

    def _evict(self, need: int) -> None:
        """Free at least ``need`` stored bytes, oldest first (silence runs before them go
        too); the last segment touched is cut at a frame, not dropped whole."""
        segments = self._segments
        bpf = self.bytes_per_frame
        freed = 0
        lost = 0
        while segments and freed < need:
            pos, data = segments.popleft()
            if isinstance(data, int):
                self._start = pos + data
                continue
            size = len(data)
            cut = size
            if size > need - freed:  # keep this segment's tail
                cut = -(-(need - freed) // bpf) * bpf
                segments.appendleft((pos + cut, data[cut:]))
            freed += cut
            self._start = pos + cut
            if pos + cut > self._ack:
                gone_from = max(pos, self._ack)
                if self.refetchable:
                    if self._spilled is None:
                        self._spilled = gone_from
                else:
                    lost += pos + cut - gone_from
        self._memory -= freed
        if lost:
            self._dropped += lost
            if not self._overflowing:
                self._overflowing = True
                self.overflows += 1
                warnings.warn(
                    ReplayOverflow(
                        f"{lost / self._bps:.2f} s of audio the service has not finished "
                        f"with left the replay buffer ({self.max_replay_nbytes} bytes): a "
                        "reconnect now cannot replay it"
                    ),
                    stacklevel=3,
                )

    def _release(self) -> None:
        """Forget stored audio wholly before the acknowledgement point."""
        segments = self._segments
        ack = self._ack
        while segments:
            pos, data = segments[0]
            size = data if isinstance(data, int) else len(data)
            if pos + size > ack:
                break
            segments.popleft()
            if not isinstance(data, int):
                self._memory -= size
            self._start = pos + size
        if self._spilled is not None and self._spilled < ack:
            self._spilled = ack if ack < self._start else None
        if self._overflowing and ack >= self._start:
            self._overflowing = False  # caught up: a new overflow is a new episode

    # ------------------------------------------------------------------ events

    def observe(self, event: Any) -> None:
        """Feed one event received on the current connection (connection times): the
        provider's rule moves the acknowledgement point; acknowledged audio leaves
        memory at once.

        Raises:
            EventTypeError: not an event the provider's rule takes.
        """
        rule = self._ack_rule
        rule.observe(event)
        seconds = rule.ack_seconds
        if seconds <= 0.0:
            return
        frames = int(seconds * self.sample_rate + _FRAME_EPSILON)
        ack = min(self._conn + frames * self.bytes_per_frame, self._total)
        if ack > self._ack:
            self._ack = ack
            self._release()

    def shift(self, event: _E) -> _E:
        """``event`` with every time moved onto the logical stream's base (``offset``
        added); the provider's rule knows the fields.

        Raises:
            EventTypeError: not an event the provider's rule takes.
        """
        shifted: _E = self._ack_rule.shift(event, self._conn / self._bps)
        return shifted

    # ------------------------------------------------------------------ reconnect

    def refetch_range(self) -> tuple[int, int] | None:
        """Positions ``[start, end)`` a reconnect now needs read again from a
        refetchable source (audio that left memory unacknowledged), or None."""
        if self._spilled is None:
            return None
        begin = max(self._spilled, self._ack)
        return (begin, self._start) if begin < self._start else None

    def reconnect(self, refetched: bytes = b"") -> bytes:
        """Start a new connection: the audio to replay on it first, and its time base.

        Call it once the current connection is gone (or rolled over), before any audio
        or event of the new one. The new connection's time 0 is the acknowledgement
        point, moved past leading keepalive silence (the service has nothing to finish
        in it), or past audio dropped for the budget (``offset`` moves there).

        The replay is **already recorded** as the new connection's first audio: send it
        first and do not :meth:`record` it again.

        Args:
            refetched: for a refetchable source, the bytes of :meth:`refetch_range`
                read again just now (empty when it is None).

        Returns:
            The unacknowledged audio, whole frames, in the wire encoding (silence runs
            as zeros); empty when everything was acknowledged.

        Raises:
            AudioFormatError: ``refetched`` is not the size of :meth:`refetch_range`.
        """
        wanted = self.refetch_range()
        need = 0 if wanted is None else wanted[1] - wanted[0]
        if len(refetched) != need:
            raise AudioFormatError(
                f"refetched audio of {len(refetched)} bytes for a range of {need} bytes "
                f"({wanted}): the source changed"
            )
        self.reconnects += 1
        self._ack_rule.reset()
        self._spilled = None
        start = wanted[0] if wanted is not None else max(self._ack, self._start)
        # leading keepalive silence needs no replay
        pieces: list[bytes] = [refetched] if refetched else []
        skipping = not refetched
        for pos, data in self._segments:
            size = data if isinstance(data, int) else len(data)
            if pos + size <= start:
                continue
            cut = max(0, start - pos)
            if isinstance(data, int):
                if skipping:
                    start = pos + size
                    continue
                pieces.append(bytes(size - cut))
            else:
                skipping = False
                pieces.append(data[cut:] if cut else data)
        if skipping:
            start = self._total
        if start > self._ack:
            self._ack = start  # audio before it is no longer replayable, or silence
            self._release()
        self._conn = start
        self._overflowing = False
        return b"".join(pieces)

    def __repr__(self) -> str:
        return (
            f"<AudioLedger sent={self.sent_seconds:.2f}s acked={self.acknowledged_seconds:.2f}s "
            f"memory={self._memory}B dropped={self.dropped_seconds:.2f}s>"
        )


def seconds_to_nbytes(seconds: float, sample_rate: int, bytes_per_frame: int) -> int:
    """``seconds`` of audio in whole frames, bytes (floored, float noise forgiven).

    Raises:
        ParameterError: ``seconds`` is not a finite number >= 0.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ParameterError(f"seconds must be a number, got {seconds!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ParameterError(f"seconds must be a finite number >= 0, got {seconds!r}")
    return int(seconds * sample_rate + _FRAME_EPSILON) * bytes_per_frame
