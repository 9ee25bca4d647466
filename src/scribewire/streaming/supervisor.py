"""Sans-I/O supervisor of one logical stream: when to reconnect, when to give up, deadlines.

Every provider's stream runs the same policy (DESIGN.md "streaming/"); the asyncio shell
(``scribewire.transport.stream``) reports what happened, with the loop time, and does
what the returned :class:`Action` says. Nothing here sleeps, reads a clock or touches a
socket, so every rule is tested with plain numbers.

Rules:

- **Which failures reconnect**: a lost or abnormally closed connection
  (``ConnectionClosed``), a refused upgrade with HTTP 429 or 5xx, and a service error
  whose class says ``retryable`` (Transcribe: ``InternalFailureException``,
  ``ServiceUnavailableException``, ``LimitExceededException``; AssemblyAI: its retryable
  close codes). Everything else (protocol errors, bad requests, the caller's close, the
  send and end deadlines) gives up at once with that error.
- **The budget cannot reset forever**: at most ``reconnect_attempts`` reconnects within
  any ``window`` seconds; the count starts again only after a connection has stayed up
  ``healthy_after`` seconds *and* moved the acknowledgement point. A peer that delivers
  one event and then fails is therefore given up on after ``reconnect_attempts``
  reconnects, with the last error.
- **Backoff**: ``backoff_first`` seconds before the first reconnect of a run, doubling up
  to ``backoff_max``.
- **Rollover** (the provider's session limit): a connection that has carried
  ``rollover_after`` seconds of audio is ended cleanly and continued on a new one at
  once, outside the budget.
- **Deadlines are absolute**: ``end()`` returns within ``end_timeout`` of being called,
  however many messages the peer keeps sending (:meth:`Supervisor.end_deadline`).
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass

from ..errors import ConnectionClosed, HandshakeRejected, ParameterError, ServiceError

__all__ = [
    "CATCH_UP",
    "Action",
    "Finish",
    "GiveUp",
    "Reconnect",
    "Supervisor",
    "is_retryable",
]

#: Replayed audio leaves at this multiple of the normal pace until it has caught up.
CATCH_UP = 2.0


@dataclass(frozen=True)
class Reconnect:
    """Open a new connection at loop time ``at`` (s) and replay the unacknowledged audio;
    ``rollover``: the old one was ended on purpose (no backoff, outside the budget)."""

    at: float
    rollover: bool = False


@dataclass(frozen=True)
class GiveUp:
    """The stream has failed with ``error``."""

    error: BaseException


@dataclass(frozen=True)
class Finish:
    """The stream ended normally: every result has arrived."""


Action = Reconnect | GiveUp | Finish


def is_retryable(error: BaseException) -> bool:
    """Whether a new connection may succeed after ``error`` (the rules above)."""
    if isinstance(error, ServiceError):
        return type(error).retryable
    if isinstance(error, HandshakeRejected):
        return error.status == 429 or error.status >= 500
    return isinstance(error, ConnectionClosed) and error.retryable


def _seconds(name: str, value: float, *, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number of seconds, not {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ParameterError(
            f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, not {value!r}"
        )
    return v


class Supervisor:
    """The reconnect policy and deadlines of one logical stream.

    Args:
        reconnect_attempts: most reconnects within ``window`` seconds (0: never).
        window: seconds over which reconnects are counted.
        healthy_after: seconds a connection must stay up, with the acknowledgement
            point moving, before the count starts again.
        backoff_first: seconds before the first reconnect of a run (doubling).
        backoff_max: the longest wait between two reconnects, seconds.
        rollover_after: seconds of audio one connection may carry before the stream
            moves to a new one (the provider's session limit).
        end_timeout: seconds ``end()`` may take, from the moment it is called.

    Raises:
        ParameterError: an argument out of range.
    """

    __slots__ = (
        "reconnect_attempts",
        "window",
        "healthy_after",
        "backoff_first",
        "backoff_max",
        "rollover_after",
        "end_timeout",
        "connections",
        "reconnects",
        "_attempts",
        "_opened_at",
        "_acked",
        "_end_deadline",
    )

    def __init__(
        self,
        *,
        reconnect_attempts: int = 3,
        window: float = 60.0,
        healthy_after: float = 10.0,
        backoff_first: float = 0.25,
        backoff_max: float = 4.0,
        rollover_after: float = math.inf,
        end_timeout: float = 30.0,
    ) -> None:
        if (
            isinstance(reconnect_attempts, bool)
            or not isinstance(reconnect_attempts, int)
            or reconnect_attempts < 0
        ):
            raise ParameterError(
                f"reconnect_attempts must be an int >= 0, not {reconnect_attempts!r}"
            )
        self.reconnect_attempts = reconnect_attempts
        self.window = _seconds("window", window)
        self.healthy_after = _seconds("healthy_after", healthy_after, allow_zero=True)
        self.backoff_first = _seconds("backoff_first", backoff_first, allow_zero=True)
        self.backoff_max = _seconds("backoff_max", backoff_max, allow_zero=True)
        if rollover_after != math.inf:
            rollover_after = _seconds("rollover_after", rollover_after)
        self.rollover_after = float(rollover_after)
        self.end_timeout = _seconds("end_timeout", end_timeout)
        #: connections opened so far
        self.connections = 0
        #: reconnects started so far (rollovers included)
        self.reconnects = 0
        self._attempts: collections.deque[float] = collections.deque()
        self._opened_at = 0.0
        self._acked = False
        self._end_deadline: float | None = None

    # ------------------------------------------------------------------ inputs

    def opened(self, now: float) -> None:
        """A connection is up (the first one or a reconnect) at loop time ``now``."""
        self.connections += 1
        self._opened_at = now
        self._acked = False

    def acknowledged(self) -> None:
        """The acknowledgement point moved on the current connection."""
        self._acked = True

    def rollover_due(self, connection_seconds: float) -> bool:
        """Whether the current connection has carried enough audio to be rolled over."""
        return connection_seconds >= self.rollover_after

    def end_deadline(self, now: float) -> float:
        """The loop time by which ``end()`` must return: set by the first call, kept."""
        if self._end_deadline is None:
            self._end_deadline = now + self.end_timeout
        return self._end_deadline

    def connection_ended(
        self, now: float, error: BaseException | None, *, rolled: bool = False
    ) -> Action:
        """The current connection has ended at ``now``: ``error`` None when the stream
        ended normally, ``rolled`` when it was ended for the rollover."""
        if rolled and error is None:
            self.reconnects += 1
            return Reconnect(now, rollover=True)
        if error is None:
            return Finish()
        if self._acked and now - self._opened_at >= self.healthy_after:
            self._attempts.clear()  # that connection worked: a new run of attempts
        self._acked = False
        return self._retry(now, error)

    def connect_failed(self, now: float, error: BaseException) -> Action:
        """A reconnect attempt failed at ``now`` with ``error``."""
        return self._retry(now, error)

    def _retry(self, now: float, error: BaseException) -> Action:
        if not is_retryable(error):
            return GiveUp(error)
        attempts = self._attempts
        while attempts and attempts[0] <= now - self.window:
            attempts.popleft()
        if len(attempts) >= self.reconnect_attempts:
            return GiveUp(error)
        delay = min(self.backoff_max, self.backoff_first * 2 ** len(attempts))
        attempts.append(now)
        self.reconnects += 1
        return Reconnect(now + delay)
