"""Scale-out on Redis Streams: workers that share a fleet's calls and lose nothing.

``scaleout.md`` §4 is the design: the key layout (:mod:`.keys`), the per-call scripts
(:mod:`.scripts`) and the worker (:class:`Worker`, the ``scribewire worker`` command).
Needs ``redis`` (redis-py, with ``hiredis``): the ``scribewire[pool]`` extra.
"""

from __future__ import annotations

from .keys import BUCKETS, CallKeys, bucket_of
from .worker import Worker, WorkerOptions

__all__ = ["BUCKETS", "CallKeys", "Worker", "WorkerOptions", "bucket_of"]
