"""The Redis key layout of the scale-out design (``scaleout.md`` §4), one place.

Every key of a call carries the call's **bucket** ``b`` as its hash tag, so the per-call
scripts stay in one Cluster slot and a worker can read many calls in one command:

- ``sw:{b}:ctl``: control stream of the bucket, consumer group ``workers``; one entry
  (field ``call``) per call start, pending in the owner's PEL for the life of the call;
- ``sw:{b}:a:<call>``: the call's audio; entry ID ``<ms of audio end>-<seq>``, fields
  ``pcm`` (raw bytes in the call's wire encoding, channels interleaved) and, on the
  last entry, ``end`` = ``1``;
- ``sw:{b}:s:<call>``: the call's ledger hash: ``rate`` (Hz), ``channels``,
  ``encoding`` (``pcm`` s16le or ``mulaw``), ``language``, ``epoch`` (fencing token),
  ``acked_ms`` / ``acked_frames`` (the acknowledgement point: audio before it is covered
  by published finals and trimmed);
- ``sw:{b}:t:<call>``: the call's finals (fields ``ch``, ``start_ms``, ``end_ms``,
  ``text``, ``epoch``, ``worker``), IDs strictly increasing;
- ``sw:w:<worker>``: a worker's liveness key (``SET ... PX lease``);
- ``sw:workers``: the set of worker names the reapers watch;
- ``sw:cap``: hash worker name -> ``"<free> <capacity>"`` (calls it can still take, of
  how many), written with each liveness renewal and removed when the worker leaves or
  is reaped: the front door refuses new calls when the fleet's free sum is low.
"""

from __future__ import annotations

import uuid
import zlib

__all__ = [
    "BUCKETS",
    "CAPACITY",
    "GROUP",
    "WORKERS",
    "CallKeys",
    "bucket_of",
    "ctl_key",
    "liveness_key",
    "session_id",
]

#: hash-tag buckets (``b = crc32(call_id) mod BUCKETS``)
BUCKETS = 1024
#: the consumer group on every control stream
GROUP = "workers"
#: the set of worker names
WORKERS = "sw:workers"
#: worker name -> "<free> <capacity>"
CAPACITY = "sw:cap"


def bucket_of(call_id: str) -> int:
    """The bucket of ``call_id`` (CRC-32 of its UTF-8 bytes modulo :data:`BUCKETS`)."""
    return zlib.crc32(call_id.encode()) % BUCKETS


def ctl_key(bucket: int) -> str:
    """The control stream of ``bucket``."""
    return f"sw:{{{bucket}}}:ctl"


_SESSION_NS = uuid.UUID("5b0f8c2e-8f3a-4c55-9d7e-2a4f1f6b9a10")


def session_id(call_id: str, epoch: int) -> str:
    """The Transcribe ``session-id`` of ``call_id``'s stream under ``epoch`` (a UUID)."""
    return str(uuid.uuid5(_SESSION_NS, f"{call_id}:{epoch}"))


def liveness_key(worker: str) -> str:
    """The liveness key of ``worker``."""
    return f"sw:w:{worker}"


class CallKeys:
    """The keys of one call."""

    __slots__ = ("call_id", "bucket", "ctl", "audio", "ledger", "transcript")

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.bucket = b = bucket_of(call_id)
        self.ctl = ctl_key(b)
        self.audio = f"sw:{{{b}}}:a:{call_id}"
        self.ledger = f"sw:{{{b}}}:s:{call_id}"
        self.transcript = f"sw:{{{b}}}:t:{call_id}"
