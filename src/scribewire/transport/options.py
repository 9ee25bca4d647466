"""How a client's streams pace, buffer, wait and reconnect (one frozen options object)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ParameterError
from ..streaming.supervisor import Supervisor

__all__ = ["StreamOptions"]


def _positive(name: str, value: float, *, allow_inf: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number of seconds, not {value!r}") from None
    if not (v > 0) or (math.isinf(v) and not allow_inf):
        raise ParameterError(
            f"{name} must be > 0{'' if allow_inf else ' and finite'}, not {value!r}"
        )
    return v


@dataclass(frozen=True)
class StreamOptions:
    """How every stream of a client paces, buffers, waits and reconnects.

    Attributes:
        speed: pacing factor: 1.0 is real time (what the services require),
            ``math.inf`` as fast as the socket takes it (local services only).
        chunk_duration: seconds of audio per audio message (0 < d <= the provider's
            maximum, checked by the client).
        keepalive_after: seconds without caller audio after which silence is sent at
            the normal pace (well under the service's idle limit); None disables it.
        buffer_duration: seconds of framed audio each stream queues before ``send`` waits.
        open_timeout: seconds for the TCP connect, TLS and the WebSocket upgrade.
        end_timeout: seconds ``end()`` may take from the moment it is called.
        send_timeout: seconds a stream may stay blocked on a full socket (the service
            stopped reading) before it fails with ``ConnectionClosed``.
        write_limit: bytes the socket may buffer before writing pauses.
        reconnect_attempts: reconnects allowed within ``reconnect_window`` seconds.
        reconnect_window: seconds over which reconnects are counted.
        max_replay_nbytes: memory budget of each live stream's replay buffer, bytes.
        rollover_after: seconds of audio after which a stream moves to a new connection.
        max_events: events waiting for the caller before the stream stops reading.

    Raises:
        ParameterError: a value out of range.
    """

    speed: float = 1.0
    chunk_duration: float = 0.1
    keepalive_after: float | None = 2.0
    buffer_duration: float = 2.0
    open_timeout: float = 10.0
    end_timeout: float = 30.0
    send_timeout: float = 20.0
    write_limit: int = 65_536
    reconnect_attempts: int = 3
    reconnect_window: float = 60.0
    max_replay_nbytes: int = 1_048_576
    rollover_after: float = math.inf
    max_events: int = 4096

    def __post_init__(self) -> None:
        fix = object.__setattr__
        fix(self, "speed", _positive("speed", self.speed, allow_inf=True))
        fix(self, "chunk_duration", _positive("chunk_duration", self.chunk_duration))
        if self.keepalive_after is not None:
            fix(self, "keepalive_after", _positive("keepalive_after", self.keepalive_after))
        for name in ("buffer_duration", "open_timeout", "end_timeout", "send_timeout"):
            fix(self, name, _positive(name, getattr(self, name)))
        fix(self, "reconnect_window", _positive("reconnect_window", self.reconnect_window))
        fix(
            self, "rollover_after", _positive("rollover_after", self.rollover_after, allow_inf=True)
        )
        for name, low in (("write_limit", 1024), ("max_replay_nbytes", 0), ("max_events", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ParameterError(f"{name} must be an int >= {low}, not {value!r}")
        n = self.reconnect_attempts
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ParameterError(f"reconnect_attempts must be an int >= 0, not {n!r}")

    def supervisor(self) -> Supervisor:
        """A supervisor with these options (one per stream)."""
        return Supervisor(
            reconnect_attempts=self.reconnect_attempts,
            window=self.reconnect_window,
            rollover_after=self.rollover_after,
            end_timeout=self.end_timeout,
        )
