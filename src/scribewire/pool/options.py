"""How a pool worker shares the fleet's work: :class:`WorkerOptions` (``scaleout.md`` §4)."""

from __future__ import annotations

import os
import socket

from ..errors import ParameterError

__all__ = ["WorkerOptions"]


class WorkerOptions:
    """How a worker shares the fleet's work.

    Args:
        name: the worker's consumer name (unique in the fleet); None: ``host-pid``.
        capacity: most calls held at once.
        lease: seconds the liveness key lives without renewal (also the ``min-idle-time``
            of claims).
        renew: seconds between renewals (< ``lease``).
        reaper_period: seconds between reaper passes.
        block: seconds an ``XREAD``/``XREADGROUP`` waits for data.
        batch: audio entries read per call per ``XREAD``.
        ttl: seconds a finished call's ledger and transcript are kept.

    Raises:
        ParameterError: a value out of range.
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        capacity: int = 500,
        lease: float = 10.0,
        renew: float = 2.0,
        reaper_period: float = 2.0,
        block: float = 0.1,
        batch: int = 20,
        ttl: float = 86_400.0,
    ) -> None:
        for what, v in (("lease", lease), ("renew", renew), ("reaper_period", reaper_period)):
            if not v > 0:
                raise ParameterError(f"{what} must be > 0 seconds, not {v!r}")
        if renew >= lease:
            raise ParameterError(f"renew ({renew:g} s) must be shorter than lease ({lease:g} s)")
        if not 0 < block <= 10:
            raise ParameterError(f"block must be in (0, 10] seconds, not {block!r}")
        for what, n in (("capacity", capacity), ("batch", batch)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ParameterError(f"{what} must be an int >= 1, not {n!r}")
        if not ttl >= 1:
            raise ParameterError(f"ttl must be >= 1 second, not {ttl!r}")
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.capacity = capacity
        self.lease = lease
        self.renew = renew
        self.reaper_period = reaper_period
        self.block = block
        self.batch = batch
        self.ttl = ttl
