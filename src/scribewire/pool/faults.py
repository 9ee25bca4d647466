"""Fault injection for the pool's tests: kill a worker at a named point (``kill -9``)."""

from __future__ import annotations

import logging
import os
import signal

from ..errors import ParameterError

__all__ = ["FaultPlan"]

logger = logging.getLogger("scribewire.pool")


class FaultPlan:
    """The test-only kill points of a worker, from ``SCRIBEWIRE_POOL_FAULT``:
    ``after_final:N`` (the N-th event carrying finals has arrived, before it is published)
    or ``mid_replay:N`` (N audio entries of a call taken over from another worker have
    been sent); :meth:`hit` at that point for the N-th time kills the process with
    ``SIGKILL``. An empty or None spec never fires.

    Raises:
        ParameterError: a spec of another form.
    """

    def __init__(self, spec: str | None) -> None:
        self.point, self.left = "", 0
        if spec:
            point, _, n = spec.partition(":")
            if point not in ("after_final", "mid_replay") or not n.isdigit():
                raise ParameterError(f"SCRIBEWIRE_POOL_FAULT={spec!r}: after_final:N|mid_replay:N")
            self.point, self.left = point, int(n)

    def hit(self, point: str) -> None:
        """One more pass through ``point``."""
        if self.point == point:
            self.left -= 1
            if self.left <= 0:
                logger.warning("fault injection: SIGKILL at %s", point)
                os.kill(os.getpid(), signal.SIGKILL)
