"""The front door's Redis side: open a call, append its audio, end it (``scaleout.md`` §4).

- **Call start** (one Lua script, atomic on the call's slot): refuse when a call of the
  id is open (``duplicate``) unless the platform continues it; else ``HSET`` the ledger
  (``rate``, ``channels``, ``encoding``, ``language``, ``provider``, ``acked_ms`` =
  ``acked_frames`` = ``epoch`` = 0, the platform's fields as ``meta:<name>``) and
  ``XADD`` the bucket's control stream. Before it, new calls are refused (``capacity``)
  when the free capacity the workers publish in ``sw:cap`` sums below the front door's
  floor.
- **Audio**: coalesced (:class:`~scribewire.ingest.coalesce.Coalescer`) into entries of
  ``entry_ms`` with explicit IDs ``<ms of audio end>-0``, written with ``XADD`` through
  the pipelined RESP connection (:mod:`scribewire.pool.resp`: redis-py's per-command
  cost is 4x the raw protocol's, ``scaleout.md`` §3). Each write is awaited before the
  platform's next message is read, so a slow Redis slows the platform's socket (TCP
  back-pressure), never a buffer of ours.
- **Back-pressure**: Redis runs with ``maxmemory-policy noeviction``; its ``OOM`` reply
  to ``XADD`` becomes :class:`~scribewire.errors.CallRefused` (``oom``), which the server
  turns into the platform's own refusal. Nothing is dropped silently: the audio not
  written is counted and logged.
- **Call end**: the buffered rest (padded to a whole ms) and ``end`` = ``1`` on the last
  entry.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..errors import CallRefused
from ..pool import keys as _keys
from ..pool.resp import RespConnection
from .coalesce import Coalescer
from .events import CallStart
from .limits import DEFAULT_ENTRY_MS

__all__ = ["CallSink", "CallWriter"]

logger = logging.getLogger("scribewire.ingest")

#: KEYS: ledger, ctl, audio. ARGV: call id, continued (0/1), then ledger field/value
#: pairs. Returns {1, 0} for a new call, {2, <ms after the last entry>} for a continued
#: one, {0, 0} when a call of the id is open (or done) and this one does not continue it.
START = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[2] ~= '1' or redis.call('HGET', KEYS[1], 'done') == '1' then return {0, 0} end
  local at = 0
  if redis.call('EXISTS', KEYS[3]) == 1 then
    local info = redis.call('XINFO', 'STREAM', KEYS[3])
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then
        at = tonumber(string.match(info[i + 1], '^(%d+)'))
      end
    end
  end
  return {2, at}
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('XADD', KEYS[2], '*', 'call', ARGV[1])
return {1, 0}
"""

MAX_CALL_ID = 200  # characters of a call id (it is part of every key of the call)


class CallSink:
    """One front-door process' connection to the fleet's Redis.

    Args:
        redis_url: ``redis://[user:password@]host:port/db``.
        entry_ms: audio per entry, ms.
        min_free_capacity: new calls are refused while the workers' free capacity
            (``sw:cap``) sums below this (0: never refuse for capacity).
        provider: the speech provider the workers use for these calls (the ledger's
            ``provider``: ``transcribe`` or ``assemblyai``).
    """

    def __init__(
        self,
        redis_url: str,
        *,
        entry_ms: int = DEFAULT_ENTRY_MS,
        min_free_capacity: int = 1,
        provider: str = "transcribe",
    ) -> None:
        self.redis_url = redis_url
        self.provider = provider
        self.entry_ms = entry_ms
        self.min_free_capacity = min_free_capacity
        self._redis: Any = None
        self._resp: RespConnection | None = None
        self._resp_lock = asyncio.Lock()
        self._start: Any = None

    async def open(self) -> None:
        """Connect (redis-py for control, the RESP connection for audio).

        Raises:
            OSError, ConnectionError: Redis is unreachable.
        """
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(self.redis_url)
        await self._redis.ping()
        self._start = self._redis.register_script(START)
        await self.resp()

    async def close(self) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def resp(self) -> RespConnection:
        """The RESP connection, opened again if it was lost."""
        async with self._resp_lock:
            if self._resp is None or not self._resp.is_open:
                self._resp = await RespConnection.open(self.redis_url)
            return self._resp

    async def free_capacity(self) -> int:
        """The workers' free capacity: the sum of ``sw:cap``'s ``<free>`` values."""
        total = 0
        for v in await self._redis.hvals(_keys.CAPACITY):
            try:
                total += max(int(v.split()[0]), 0)
            except (ValueError, IndexError):
                continue
        return total

    async def start_call(self, start: CallStart, protocol: str) -> CallWriter:
        """Open ``start``'s call in Redis.

        Raises:
            CallRefused: ``capacity``, ``duplicate`` (a call of the id is open or done
                and this is not its continuation), ``redis`` (unreachable, an error
                reply), ``oom``.
        """
        if not start.call_id or len(start.call_id) > MAX_CALL_ID:
            raise CallRefused("duplicate", f"call id of {len(start.call_id)} characters")
        keys = _keys.CallKeys(start.call_id)
        try:
            if not start.continued and self.min_free_capacity > 0:
                free = await self.free_capacity()
                if free < self.min_free_capacity:
                    raise CallRefused(
                        "capacity",
                        f"the workers' free capacity is {free} (the floor is "
                        f"{self.min_free_capacity})",
                    )
            fields: list[Any] = [
                "rate", start.sample_rate, "channels", start.channels,
                "encoding", start.encoding, "language", start.language,
                "acked_ms", 0, "acked_frames", 0, "epoch", 0, "provider", self.provider,
            ]  # fmt: skip
            for k, v in start.meta.items():
                fields += [f"meta:{k}", v]
            kind, at = await self._start(
                keys=[keys.ledger, keys.ctl, keys.audio],
                args=[start.call_id, "1" if start.continued else "0", *fields],
            )
        except CallRefused:
            raise
        except Exception as exc:  # redis-py's errors: refused as the platform's refusal
            reason = "oom" if "OOM" in str(exc) else "redis"
            raise CallRefused(reason, f"Redis refused the call start: {exc}") from None
        if int(kind) == 0:
            raise CallRefused("duplicate", f"call {start.call_id} is already open or done")
        return CallWriter(self, start, keys, protocol, start_ms=int(at))


class CallWriter:
    """One call's audio into Redis (made by :meth:`CallSink.start_call`)."""

    def __init__(
        self, sink: CallSink, start: CallStart, keys: _keys.CallKeys, protocol: str, start_ms: int
    ) -> None:
        self.sink, self.start, self.keys, self.protocol = sink, start, keys, protocol
        self.coalescer = Coalescer(
            start.sample_rate,
            start.bytes_per_frame,
            sink.entry_ms,
            start_ms=start_ms,
            silence=0xFF if start.encoding == "mulaw" else 0,
        )
        self.entries = 0
        self.nbytes_written = 0
        self.ended = False
        self.failed: CallRefused | None = None
        self._last_id = (start_ms, 0) if start_ms else (0, -1)

    async def audio(self, data: bytes) -> None:
        """Append ``data`` (whole frames of the call's format).

        Raises:
            CallRefused: ``oom`` or ``redis``: the audio from the failed entry on is not
                in Redis (logged with its amount).
        """
        entries = self.coalescer.add(data)
        if entries:
            await self._write(entries, end=False)

    async def gap(self, frames: int) -> None:
        """``frames`` of audio will never come (the platform discarded them)."""
        entries = self.coalescer.skip(frames)
        if entries:
            await self._write(entries, end=False)

    async def end(self) -> None:
        """Write the rest and the end marker (``end`` = ``1``).

        Raises:
            CallRefused: as :meth:`audio`.
        """
        if self.ended:
            return
        self.ended = True
        entries = self.coalescer.flush()
        if not entries:  # an empty last entry just after the last one carries the marker
            ms = self.coalescer.position_ms
            seq = self._last_id[1] + 1 if self._last_id[0] == ms else 0
            await self._write([(ms, b"")], end=True, seq=seq)
        else:
            await self._write(entries, end=True)

    async def release(self) -> None:
        """Write the rest without the end marker: a continuation (another session of
        the same call) appends after it."""
        self.ended = True
        entries = self.coalescer.flush()
        if entries:
            await self._write(entries, end=False)

    async def _write(self, entries: list[tuple[int, bytes]], *, end: bool, seq: int = 0) -> None:
        if self.failed is not None:
            raise self.failed
        key = self.keys.audio
        cmds: list[list[Any]] = [["XADD", key, f"{ms}-{seq}", "pcm", pcm] for ms, pcm in entries]
        if end:
            cmds[-1] += ["end", "1"]
        try:
            conn = await self.sink.resp()
            replies = await conn.execute(cmds)
        except (OSError, ConnectionError) as exc:
            self._fail(CallRefused("redis", f"Redis connection lost: {exc}"), entries, 0)
        for i, reply in enumerate(replies):
            if isinstance(reply, Exception):
                text = str(reply)
                reason = "oom" if text.startswith("OOM") else "redis"
                self._fail(CallRefused(reason, f"Redis refused XADD: {text}"), entries, i)
        self.entries += len(entries)
        self.nbytes_written += sum(len(pcm) for _, pcm in entries)
        self._last_id = (entries[-1][0], seq)

    async def end_after_refusal(self, *, attempts: int = 60, pause: float = 0.5) -> bool:
        """After a refusal, end the call just after the audio Redis holds (an empty entry
        with ``end`` = ``1`` and ``lost`` = ``1``), so its worker finishes it instead of
        waiting for audio that will not come. Retried every ``pause`` s while Redis
        refuses (out of memory until the workers trim acknowledged audio); True once
        written, False (logged) after ``attempts``."""
        ms, seq = self._last_id
        entry_id = f"{ms}-{seq + 1}" if (ms, seq + 1) != (0, 0) else "0-1"
        cmd: list[Any] = ["XADD", self.keys.audio, entry_id, "pcm", b"", "end", "1", "lost", "1"]
        for _ in range(attempts):
            try:
                conn = await self.sink.resp()
                (reply,) = await conn.execute([cmd])
            except (OSError, ConnectionError) as exc:
                reply = exc
            if not isinstance(reply, Exception):
                self.ended = True
                logger.warning(
                    "%s call %s: ended after the refusal at %d ms",
                    self.protocol,
                    self.start.call_id,
                    ms,
                )
                return True
            await asyncio.sleep(pause)
        logger.error(
            "%s call %s: could not end it in Redis after the refusal (%s): its worker "
            "keeps waiting for audio",
            self.protocol,
            self.start.call_id,
            reply,
        )
        return False

    def _fail(self, exc: CallRefused, entries: list[tuple[int, bytes]], first_bad: int) -> None:
        lost = sum(len(pcm) for _, pcm in entries[first_bad:])
        if first_bad:
            self._last_id = (entries[first_bad - 1][0], 0)
        self.entries += first_bad
        self.nbytes_written += sum(len(pcm) for _, pcm in entries[:first_bad])
        logger.error(
            "%s call %s: %s; %d bytes of its audio from %d ms on are not in Redis",
            self.protocol,
            self.start.call_id,
            exc,
            lost,
            entries[first_bad][0] - self.sink.entry_ms,
        )
        self.failed = exc
        raise exc
