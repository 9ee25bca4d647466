"""Scale-out on Redis Streams: workers that share a fleet's calls and lose nothing.

``scaleout.md`` §4 is the design: the key layout (:mod:`.keys`), the per-call scripts
(:mod:`.scripts`), the worker (:class:`Worker`, the ``scribewire worker`` command) and
its options (:mod:`.options`).
Needs ``redis`` (redis-py, with ``hiredis``): the ``scribewire[pool]`` extra.
"""

from __future__ import annotations

from .keys import BUCKETS, CallKeys, bucket_of
from .options import WorkerOptions
from .worker import Worker

__all__ = ["BUCKETS", "CallKeys", "Worker", "WorkerOptions", "bucket_of"]
