"""A pool worker: transcribes the calls the consumer group hands it, loses nothing if it dies.

The design is ``scaleout.md`` §4; the key layout is :mod:`scribewire.pool.keys`.

- **Intake.** ``XREADGROUP`` on every bucket's control stream hands the worker new calls
  (up to ``capacity``). The control entry stays pending in the worker's PEL for the life of
  the call: the PEL owner is the call's owner.
- **Taking a call** (new or claimed): the ``TAKE`` script bumps the call's ``epoch`` (this
  worker's fencing token) and reads its ledger; the stream starts at ``acked_frames``, the
  point every published final covers, and the audio after it is read from Redis.
- **Audio.** One reader task ``XREAD``\\ s every call's audio stream in one command
  (``COUNT`` entries per call, ``BLOCK``), hands each call its entries, and stops reading a
  call whose stream is full (back-pressure stays in Redis). The stream's replay ring can
  read audio that left it back from Redis (the stream's ``refetch``), so a reconnect to the
  service never loses audio either.
- **Finals.** Every event carrying finals is published by the ``PUBLISH`` script: epoch
  fence, append to the call's transcript stream, advance ``acked_ms``, ``XTRIM MINID``. The
  acknowledgement claimed is the stream ledger's *as of that event* (never one a later,
  unpublished final made), so once the script returns the worker holds nothing that is
  not in Redis.
- **Liveness and takeover.** ``SET sw:w:<name> PX lease`` every ``renew`` seconds. Every
  ``reaper_period`` the reaper looks for workers of ``sw:workers`` whose key expired and
  claims their pending control entries with ``XCLAIM`` and ``min-idle-time = lease`` (the
  first claim resets the idle time, so one reaper wins each call). A worker never renews
  ownership by claiming its own entries, so a paused worker that resumes does not steal
  its calls back: its next publish is fenced and it drops those calls (§7).
- **Continuity.** Worker streams send no keepalive silence (stream time is call time);
  the audio before the newest entry at take time is late and leaves at the catch-up
  pace (:meth:`Stream.catch_up`); an entry that does not start where the previous one
  ended was trimmed by a newer owner (fenced) or is a hole in the source (an error
  log, silence sent).
- **Drain** (SIGTERM, :meth:`Worker.drain`): stop taking calls, end every stream (the
  service finishes what it was sent, those finals are published), delete the liveness key:
  the other workers' reapers take the calls at once and replay only what is after the
  last final.

Fault injection for tests: ``SCRIBEWIRE_POOL_FAULT=after_final:N`` kills the process
(``SIGKILL``) when the N-th event carrying finals has arrived and before it is published;
``mid_replay:N`` kills it after N audio entries of a call taken over from another worker
(epoch > 1) have been sent (:mod:`.faults`). Unset in production; read once at start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import weakref
from collections.abc import Iterable
from typing import Any

from ..audio import ulaw_decode
from ..errors import ParameterError, ScribewireError
from ..metrics import CallSignals, PrometheusObserver, StreamObserver
from ..transport.stream import Stream
from . import keys as _keys
from .faults import FaultPlan
from .options import WorkerOptions
from .providers import CallProvider, provider_for
from .resp import RespConnection, encode_command
from .scripts import FENCED, FINISH, PUBLISH, TAKE

__all__ = ["Worker", "WorkerOptions"]

logger = logging.getLogger("scribewire.pool")

_MAX_SEQ = "18446744073709551615"


class _Call:
    """One call this worker holds."""

    def __init__(self, keys: _keys.CallKeys, ctl_id: str) -> None:
        self.keys = keys
        self.ctl_id = ctl_id
        self.epoch = 0
        self.rate = 8000
        self.channels = 1
        self.encoding = "pcm"
        self.fields: dict[str, str] = {}  # the ledger as taken
        self.provider: CallProvider | None = None
        self.base = 0  # frames: the stream's position 0 in the call
        self.next_id = "0-0"  # XREAD position
        self.read_ms = 0  # end of the audio read so far, ms
        self.top_ms = 0  # newest entry seen in Redis, ms
        self.acked_ms = 0
        self.queue: asyncio.Queue[list[tuple[str, dict[bytes, bytes]]]] = asyncio.Queue(4)
        self.ended = False  # the entry with end=1 was read
        self.replay_until_ms = 0  # audio before this was sent by an earlier owner
        self.stream: Stream | None = None
        self.task: asyncio.Task[None] | None = None
        self.feeder: asyncio.Task[None] | None = None
        self.gen = 0  # one per stream: reads made for an older one are dropped
        self.fenced = False

    @property
    def wire_bpf(self) -> int:
        return self.channels * (1 if self.encoding == "mulaw" else 2)

    def end_frame(self, ms: int) -> int:
        return ms * self.rate // 1000


class _CallObserver:
    """Forwards stream reports to the user's observer and records, per call, where each
    connection to the service started (the ledger's ``conn:<epoch>:<n>`` fields: what a
    check of the service's per-connection digests needs)."""

    def __init__(self, worker: Worker, inner: StreamObserver | None) -> None:
        self._worker = worker
        self._inner = inner
        self.calls: weakref.WeakKeyDictionary[Stream, _Call] = weakref.WeakKeyDictionary()

    def _record(self, stream: Stream) -> None:
        call = self.calls.get(stream)
        if call is None:
            return
        offset = stream.connection_offsets[-1]
        start = call.base + round(offset * call.rate)
        self._worker._spawn(
            self._worker._redis.hset(
                call.keys.ledger, f"conn:{call.epoch}:{stream.connections}", start
            )
        )

    def stream_opened(self, stream: Stream) -> None:
        self._record(stream)
        if self._inner is not None:
            self._inner.stream_opened(stream)

    def stream_closed(self, stream: Stream) -> None:
        if self._inner is not None:
            self._inner.stream_closed(stream)

    def reconnected(self, stream: Stream, cause: str, replayed_seconds: float) -> None:
        self._record(stream)
        if self._inner is not None:
            self._inner.reconnected(stream, cause, replayed_seconds)

    def service_error(self, stream: Stream, kind: str) -> None:
        if self._inner is not None:
            self._inner.service_error(stream, kind)

    def final_latency(self, stream: Stream, seconds: float) -> None:
        if self._inner is not None:
            self._inner.final_latency(stream, seconds)

    def frontdoor_frames(self, protocol: str, count: int = 1) -> None:
        pass

    def frontdoor_refused(self, protocol: str, reason: str) -> None:
        pass


class Worker:
    """Runs the calls the consumer group hands it, one client per provider for all calls.

    Args:
        redis_url: ``redis://host:port/db`` of the fleet's Redis.
        client_options: keyword arguments of the provider's client (Transcribe:
            :class:`~scribewire.TranscribeClient`'s ``endpoint``,
            ``region``, ``credentials``, ``speed``...); ``observer`` is taken from here.
        options: :class:`WorkerOptions`.
        observer: where stream and per-call signals go (a :class:`PrometheusObserver`
            also gets the per-call lag and unacknowledged window).

    Use ``await worker.run()``; :meth:`drain` (or SIGTERM with :meth:`install_signals`)
    ends it.
    """

    def __init__(
        self,
        redis_url: str,
        client_options: dict[str, Any] | None = None,
        options: WorkerOptions | None = None,
        *,
        observer: StreamObserver | None = None,
    ) -> None:
        import redis.asyncio as aioredis

        self.options = options or WorkerOptions()
        self.name = self.options.name
        self._redis_url = redis_url
        self._redis: Any = aioredis.Redis.from_url(redis_url)
        self._intake_redis: Any = aioredis.Redis.from_url(redis_url)
        import redis as syncredis

        # a blocking client for the refetch thread (connects on first use)
        self._sync: Any = syncredis.Redis.from_url(redis_url)
        self._observer = _CallObserver(self, observer)
        self._client_options = dict(client_options or {})
        self._providers: dict[str, CallProvider] = {}
        self._end_timeout = float(self._client_options.get("end_timeout", 30.0))
        self._provider("transcribe")  # bad client options fail here, not on a call
        self.calls: dict[str, _Call] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._draining = asyncio.Event()
        self._stopped = False
        self._wake_reader = asyncio.Event()
        self._fault = FaultPlan(os.environ.get("SCRIBEWIRE_POOL_FAULT"))
        self._publish_script: Any = self._redis.register_script(PUBLISH)
        # publishes of every call, sent together: one pipeline per loop turn
        self._publishing: list[tuple[list[str], list[Any], asyncio.Future[int]]] = []
        self._publish_wake = asyncio.Event()
        self._fast_conns: dict[str, RespConnection] = {}
        self._finish_script: Any = self._redis.register_script(FINISH)
        self._take_script: Any = self._redis.register_script(TAKE)
        #: counters (also logged at exit)
        self.stats = {"taken": 0, "claimed": 0, "finished": 0, "fenced": 0, "finals": 0}
        self._watched = isinstance(observer, PrometheusObserver)
        if isinstance(observer, PrometheusObserver):
            observer.watch_calls(self._signals)

    # ------------------------------------------------------------------ lifecycle

    def install_signals(self) -> None:
        """SIGTERM and SIGINT start :meth:`drain`."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.drain)

    def drain(self) -> None:
        """Stop taking calls, end every stream and publish its finals, then release."""
        if not self._draining.is_set():
            logger.info("worker %s draining %d calls", self.name, len(self.calls))
            self._draining.set()
            self._wake_reader.set()

    async def run(self) -> None:
        """Serve until drained (or cancelled).

        Raises:
            redis.exceptions.ConnectionError: Redis unreachable at start.
        """
        r = self._redis
        await self._create_groups()
        await r.script_load(PUBLISH)
        await r.sadd(_keys.WORKERS, self.name)
        await self._renew_once()
        await self._resume_own()
        loops = [
            asyncio.ensure_future(self._liveness()),
            asyncio.ensure_future(self._intake()),
            asyncio.ensure_future(self._reaper()),
            asyncio.ensure_future(self._reader()),
            asyncio.ensure_future(self._publisher()),
        ]
        if self._watched:
            loops.append(asyncio.ensure_future(self._sample_tops()))
        try:
            await self._draining.wait()
            # no more calls, no more claims (each loop also checks the flag: redis-py
            # may swallow a cancellation in the middle of a command)
            await _cancel(loops[1:3])
            for call in list(self.calls.values()):
                if call.stream is not None and call.task is not None:
                    self._spawn(self._end_call(call))
            pending = [c.task for c in self.calls.values() if c.task is not None]
            if pending:
                await asyncio.wait(pending, timeout=self._end_timeout + 5)
        finally:
            self._stopped = True
            tasks = [c.task for c in self.calls.values() if c.task is not None]
            await _cancel(loops + tasks)
            try:  # released: the reapers of the others take what is left at once
                await r.delete(_keys.liveness_key(self.name))
                await r.hdel(_keys.CAPACITY, self.name)
            except Exception:  # noqa: BLE001 - Redis gone at exit: the lease expires
                pass
            logger.info("worker %s stopped: %s", self.name, self.stats)
            for c in (self._redis, self._intake_redis):
                await c.aclose()
            for fast in self._fast_conns.values():
                fast.close()
            self._sync.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _create_groups(self) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for b in range(_keys.BUCKETS):
            pipe.xgroup_create(_keys.ctl_key(b), _keys.GROUP, id="0", mkstream=True)
        for result in await pipe.execute(raise_on_error=False):
            if isinstance(result, Exception) and "BUSYGROUP" not in str(result):
                raise result

    # ------------------------------------------------------------------ liveness

    async def _renew_once(self) -> bool:
        """Renew the liveness key; False when it had expired (the fleet took us for dead)."""
        free = max(0, self.options.capacity - len(self.calls))
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(
            _keys.liveness_key(self.name),
            str(os.getpid()),
            px=int(self.options.lease * 1000),
            get=True,
        )
        pipe.hset(_keys.CAPACITY, self.name, f"{free} {self.options.capacity}")
        old, _ = await pipe.execute()
        return old is not None

    async def _liveness(self) -> None:
        while True:
            await asyncio.sleep(self.options.renew)
            try:
                alive = await self._renew_once()
            except Exception as exc:  # noqa: BLE001 - keep trying while Redis is away
                logger.warning("worker %s: liveness renewal failed: %s", self.name, exc)
                continue
            if not alive:
                # we were paused past the lease: calls others claimed are theirs now
                logger.warning("worker %s: lease had expired; checking ownership", self.name)
                await self._check_ownership()

    async def _check_ownership(self) -> None:
        calls = list(self.calls.values())
        if not calls:
            return
        pipe = self._redis.pipeline(transaction=False)
        for c in calls:
            pipe.hget(c.keys.ledger, "epoch")
        for c, epoch in zip(calls, await pipe.execute(), strict=True):
            if epoch is None or int(epoch) != c.epoch:
                self._fence(c)

    def _fence(self, call: _Call) -> None:
        if call.fenced:
            return
        call.fenced = True
        self.stats["fenced"] += 1
        logger.warning(
            "worker %s: call %s is owned by another worker now", self.name, call.keys.call_id
        )
        if call.task is not None:
            call.task.cancel()

    # ------------------------------------------------------------------ intake / reaper

    async def _resume_own(self) -> None:
        """Calls still pending under this worker's name (a restart with the same name
        after a crash): take them again; no reaper would (this name is alive)."""
        streams = {_keys.ctl_key(b): "0" for b in range(_keys.BUCKETS)}
        got = await self._intake_redis.xreadgroup(
            _keys.GROUP, self.name, streams, count=self.options.capacity
        )
        for _key, entries in got or []:
            for entry_id, fields in entries:
                if fields and b"call" in fields:
                    self._start_call(fields[b"call"].decode(), entry_id.decode(), claimed=True)

    async def _intake(self) -> None:
        # XREADGROUP over every bucket: 2,000+ arguments, encoded once per COUNT value
        ctl = [_keys.ctl_key(b) for b in range(_keys.BUCKETS)]
        block = int(self.options.block * 1000)
        encoded: dict[int, bytes] = {}
        while not self._draining.is_set():
            room = self.options.capacity - len(self.calls)
            if room <= 0:
                await asyncio.sleep(self.options.block)
                continue
            count = min(room, 100)
            payload = encoded.get(count)
            if payload is None:
                payload = encoded[count] = encode_command(
                    [
                        "XREADGROUP",
                        "GROUP",
                        _keys.GROUP,
                        self.name,
                        "COUNT",
                        count,
                        "BLOCK",
                        block,
                        "STREAMS",
                        *ctl,
                        *([">"] * len(ctl)),
                    ]
                )
            try:
                conn = await self._fast("intake")
                (got,) = await conn.execute_encoded(payload, 1)
                if isinstance(got, Exception):
                    raise got
            except Exception as exc:  # noqa: BLE001
                logger.warning("worker %s: intake failed: %s", self.name, exc)
                await asyncio.sleep(self.options.block)
                continue
            for _key, entries in got or []:
                for entry_id, flat in entries:
                    fields = dict(zip(flat[::2], flat[1::2], strict=True)) if flat else {}
                    call_id = fields.get(b"call")
                    if call_id is None:  # not a call start: never ours to keep
                        continue
                    self._start_call(call_id.decode(), entry_id.decode(), claimed=False)

    async def _reaper(self) -> None:
        while not self._draining.is_set():
            await asyncio.sleep(self.options.reaper_period)
            if self._draining.is_set():
                return
            try:
                await self._reap_once()
            except Exception as exc:  # noqa: BLE001
                logger.warning("worker %s: reaper pass failed: %s", self.name, exc)

    async def _reap_once(self) -> int:
        """One reaper pass: claim the calls of workers whose liveness key expired."""
        r = self._redis
        names = [n.decode() for n in await r.smembers(_keys.WORKERS)]
        others = [n for n in names if n != self.name]
        if not others:
            return 0
        pipe = r.pipeline(transaction=False)
        for n in others:
            pipe.exists(_keys.liveness_key(n))
        dead = [n for n, alive in zip(others, await pipe.execute(), strict=True) if not alive]
        if dead:  # their free capacity is not the fleet's any more
            await r.hdel(_keys.CAPACITY, *dead)
        claimed = 0
        min_idle = int(self.options.lease * 1000)
        for name in dead:
            pipe = r.pipeline(transaction=False)
            for b in range(_keys.BUCKETS):
                pipe.xpending_range(_keys.ctl_key(b), _keys.GROUP, "-", "+", 100, consumername=name)
            left = 0
            for b, pending in enumerate(await pipe.execute()):
                if not pending or self._draining.is_set():
                    continue
                room = self.options.capacity - len(self.calls)
                ids = [p["message_id"] for p in pending if p["time_since_delivered"] >= min_idle]
                left += len(pending)
                if room <= 0 or not ids:
                    continue
                got = await r.xclaim(_keys.ctl_key(b), _keys.GROUP, self.name, min_idle, ids[:room])
                for entry_id, fields in got:
                    left -= 1
                    if not fields or b"call" not in fields:
                        continue
                    claimed += 1
                    self._start_call(fields[b"call"].decode(), entry_id.decode(), claimed=True)
            if left == 0:  # nothing of it pending any more: forget the worker
                pipe = r.pipeline(transaction=False)
                for b in range(_keys.BUCKETS):
                    pipe.xgroup_delconsumer(_keys.ctl_key(b), _keys.GROUP, name)
                pipe.srem(_keys.WORKERS, name)
                await pipe.execute(raise_on_error=False)
                logger.info("worker %s: worker %s is gone, its calls are taken", self.name, name)
        return claimed

    # ------------------------------------------------------------------ calls

    def _start_call(self, call_id: str, ctl_id: str, *, claimed: bool) -> None:
        if call_id in self.calls:
            return
        call = _Call(_keys.CallKeys(call_id), ctl_id)
        self.calls[call_id] = call
        self.stats["claimed" if claimed else "taken"] += 1
        call.task = asyncio.ensure_future(self._run_call(call))

    async def _take(self, call: _Call) -> bool:
        """Become the call's owner (a new epoch) and read its ledger; False when the call
        had finished already (its control entry is then acknowledged)."""
        raw = await self._take_script(keys=[call.keys.ledger], args=[self.name])
        call.epoch = int(raw[0])
        fields = {raw[i].decode(): raw[i + 1].decode() for i in range(1, len(raw), 2)}
        if fields.get("done") == "1":
            await self._redis.xack(call.keys.ctl, _keys.GROUP, call.ctl_id)
            return False
        call.rate = int(fields.get("rate", "8000"))
        call.channels = int(fields.get("channels", "1"))
        call.encoding = fields.get("encoding", "pcm")
        call.fields = fields
        call.base = int(fields.get("acked_frames", "0"))
        call.acked_ms = int(fields.get("acked_ms", "0"))
        # every entry ending at or before the ack point is covered by published finals
        call.next_id = f"{call.acked_ms}-{_MAX_SEQ}"
        call.read_ms = call.acked_ms
        # the newest audio now: what is before it is late (sent at the catch-up pace)
        tops = await self._redis.xrevrange(call.keys.audio, "+", "-", count=1)
        call.replay_until_ms = int(tops[0][0].split(b"-")[0]) if tops else 0
        if call.encoding not in ("pcm", "mulaw") or call.channels not in (1, 2):
            raise ParameterError(
                f"call {call.keys.call_id}: unsupported audio {call.encoding}/{call.channels} ch"
            )
        return True

    async def _run_call(self, call: _Call) -> None:
        """Own one call until it ends, is fenced, or the worker stops; a failure of the
        service connection beyond the client's retries takes the call again after a
        pause (a new epoch, from the last published final)."""
        backoff = 0.5
        try:
            while True:
                try:
                    if not await self._take(call):
                        return
                    await self._transcribe(call)
                    return
                except asyncio.CancelledError:
                    raise
                except ParameterError as exc:  # the call itself is wrong: never retried
                    await self._refuse(call, exc)
                    return
                except Exception as exc:  # noqa: BLE001 - the service or Redis failed
                    if self._stopped or self._draining.is_set():
                        return
                    logger.warning(
                        "worker %s: call %s failed (%s); taking it again in %.1f s",
                        self.name,
                        call.keys.call_id,
                        exc,
                        backoff,
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
        except asyncio.CancelledError:
            pass
        finally:
            if call.stream is not None:
                await call.stream.aclose()
            self.calls.pop(call.keys.call_id, None)

    async def _refuse(self, call: _Call, exc: ParameterError) -> None:
        """A call whose parameters no provider accepts: said loudly (log, the ledger's
        ``failed`` field), and its control entry acknowledged so it does not come back."""
        logger.error("worker %s: call %s refused: %s", self.name, call.keys.call_id, exc)
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(call.keys.ledger, "failed", str(exc))
        pipe.xack(call.keys.ctl, _keys.GROUP, call.ctl_id)
        await pipe.execute()

    async def _transcribe(self, call: _Call) -> None:
        if self._draining.is_set():
            return  # taken while draining: left for the others (the new epoch is harmless)
        call.provider = self._provider(call.fields.get("provider", "transcribe"))
        stream = call.provider.stream(
            call.fields,
            _keys.session_id(call.keys.call_id, call.epoch),
            self._refetcher(call),
        )
        call.gen += 1
        call.queue = asyncio.Queue(4)
        call.ended = False
        self._observer.calls[stream] = call
        try:
            async with stream:
                call.stream = stream
                self._wake_reader.set()
                feeder = call.feeder = asyncio.ensure_future(self._feed(call, stream))
                try:
                    await self._consume(call, stream)
                    if self._draining.is_set():
                        feeder.cancel()
                    await asyncio.gather(feeder, return_exceptions=True)
                    if feeder.done() and not feeder.cancelled() and feeder.exception():
                        raise feeder.exception()  # type: ignore[misc]
                finally:
                    if not feeder.done():
                        feeder.cancel()
                    await asyncio.gather(feeder, return_exceptions=True)
        finally:
            call.stream = None
        if call.ended and not self._draining.is_set():
            result = await self._finish_script(
                keys=[call.keys.ledger, call.keys.transcript, call.keys.audio, call.keys.ctl],
                args=[call.epoch, call.ctl_id, int(self.options.ttl), _keys.GROUP],
            )
            if result == FENCED:
                self._fence(call)
                return
            self.stats["finished"] += 1

    async def _end_call(self, call: _Call) -> None:
        """Drain one call: no more audio, let the service finish what it has."""
        stream = call.stream
        if stream is None:
            return
        feeder = call.feeder
        if feeder is not None and not feeder.done():  # no send() may run past the end
            feeder.cancel()
            await asyncio.gather(feeder, return_exceptions=True)
        try:
            await stream.end()
        except ScribewireError as exc:
            logger.warning("worker %s: draining %s: %s", self.name, call.keys.call_id, exc)

    async def _feed(self, call: _Call, stream: Stream) -> None:
        """Send the call's audio from the reader's batches; end the stream at ``end=1``.

        Entries must be contiguous: one that starts after the previous one ended (or the
        first one after the ack point) means the audio between was trimmed, which only
        a newer owner's finals do: the call is someone else's (fenced), and nothing
        discontinuous is ever sent. A hole while the call is still ours is the source's
        (the front door wrote no audio there): logged as an error and sent as silence."""
        bpf = call.wire_bpf
        expected = call.base  # frame where the next entry must start (at most)
        first = True
        try:
            while True:
                if self._draining.is_set():
                    return
                batch = await call.queue.get()
                for entry_id, fields in batch:
                    if self._draining.is_set():
                        return
                    ms = int(entry_id.split("-")[0])
                    pcm = fields.get(b"pcm", b"")
                    end = call.end_frame(ms)
                    start = end - len(pcm) // bpf
                    if start > expected:
                        epoch = await self._redis.hget(call.keys.ledger, "epoch")
                        if epoch is None or int(epoch) != call.epoch:  # trimmed by another
                            self._fence(call)
                            return
                        # ours, yet a hole in the source: said loudly, filled with
                        # silence so that stream time stays call time
                        logger.error(
                            "worker %s: call %s has no audio for [%d, %d) ms: silence sent",
                            self.name,
                            call.keys.call_id,
                            expected * 1000 // call.rate,
                            start * 1000 // call.rate,
                        )
                        await stream.send(bytes((start - expected) * 2 * call.channels))
                    if start < expected:  # the first entry may straddle the ack point
                        pcm = pcm[(expected - start) * bpf :]
                    expected = end
                    if first:
                        first = False
                        late = call.end_frame(call.replay_until_ms) - call.base
                        if late > 0:
                            stream.catch_up(late * 2 * call.channels)
                    if pcm:
                        if call.encoding == "mulaw":
                            pcm = ulaw_decode(pcm)
                        await stream.send(pcm)
                    if call.epoch > 1 and ms <= call.replay_until_ms:
                        self._fault.hit("mid_replay")
                    if fields.get(b"end") == b"1":
                        call.ended = True
                        await stream.end()
                        return
        except ScribewireError as exc:
            stream._fail(exc, abort=True)
            raise

    async def _consume(self, call: _Call, stream: Stream) -> None:
        """Publish each event's finals with the acknowledgement the stream's ledger had
        right after that event."""
        rate = call.rate
        bpf = 2 * call.channels  # int16 on the stream
        base_ms_frames = call.base
        provider = call.provider
        assert provider is not None
        async for event in stream:
            finals = provider.finals(event)
            if not finals:
                continue
            self._fault.hit("after_final")
            acked_frames = base_ms_frames + stream.event_ack_nbytes // bpf
            args: list[Any] = [call.epoch, acked_frames, acked_frames * 1000 // rate, len(finals)]
            base_s = base_ms_frames / rate
            for f in finals:
                start_ms = round((base_s + f.start) * 1000)
                end_ms = round((base_s + f.end) * 1000)
                args += [f.channel, start_ms, end_ms, f.text, self.name]
            result = await self._publish(
                [call.keys.ledger, call.keys.transcript, call.keys.audio], args
            )
            if result == FENCED:
                self._fence(call)
                return
            self.stats["finals"] += int(result)
            call.acked_ms = max(call.acked_ms, acked_frames * 1000 // rate)

    def _provider(self, name: str) -> CallProvider:
        provider = self._providers.get(name)
        if provider is None:
            provider = provider_for(name, self._client_options, self._observer)
            self._providers[name] = provider
        return provider

    # ------------------------------------------------------------------ publishing

    async def _fast(self, which: str) -> RespConnection:
        """The hot path's own connection ``which`` (``"read"`` or ``"publish"``),
        opened again after a loss."""
        conn = self._fast_conns.get(which)
        if conn is None or not conn.is_open:
            conn = self._fast_conns[which] = await RespConnection.open(self._redis_url)
        return conn

    def _publish(self, keys: list[str], args: list[Any]) -> asyncio.Future[int]:
        """Run PUBLISH for one event; sent with every other call's in one pipeline (a
        call waits for its own result before its next event: order per call holds)."""
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._publishing.append((keys, args, fut))
        self._publish_wake.set()
        return fut

    async def _publisher(self) -> None:
        sha = self._publish_script.sha
        while True:
            await self._publish_wake.wait()
            self._publish_wake.clear()
            await asyncio.sleep(0)  # the other calls' events of this turn join in
            batch, self._publishing = self._publishing, []
            if not batch:
                continue
            for attempt in (1, 2):
                commands = [["EVALSHA", sha, len(keys), *keys, *args] for keys, args, _ in batch]
                try:
                    conn = await self._fast("publish")
                    results: list[Any] = await conn.execute(commands)
                except Exception as exc:  # noqa: BLE001 - each call handles it
                    results = [exc] * len(batch)
                if attempt == 1 and any("NOSCRIPT" in str(r) for r in results):
                    await self._redis.script_load(PUBLISH)  # Redis restarted or flushed
                    continue
                break
            for (_, _, fut), result in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(int(result))

    # ------------------------------------------------------------------ audio reader

    async def _reader(self) -> None:
        """XREAD the audio of every call that has room, in one command, and hand each
        call its entries."""
        block = int(self.options.block * 1000)
        while True:
            asked = [
                c
                for c in self.calls.values()
                if c.stream is not None
                and not c.ended
                and not c.queue.full()
                and not self._draining.is_set()
            ]
            hungry = {c.keys.audio: c.next_id for c in asked}
            gens = {c.keys.audio: (c, c.gen) for c in asked}
            if not hungry:
                self._wake_reader.clear()
                try:
                    await asyncio.wait_for(self._wake_reader.wait(), self.options.block)
                except asyncio.TimeoutError:
                    pass
                continue
            command: list[Any] = ["XREAD", "COUNT", self.options.batch, "BLOCK", block]
            command += ["STREAMS", *hungry, *hungry.values()]
            try:
                conn = await self._fast("read")
                (got,) = await conn.execute([command])
                if isinstance(got, Exception):
                    raise got
            except Exception as exc:  # noqa: BLE001
                logger.warning("worker %s: audio read failed: %s", self.name, exc)
                await asyncio.sleep(self.options.block)
                continue
            for key, entries in got or []:
                call, gen = gens[key.decode()]
                if call.gen != gen or call.stream is None or not entries:
                    continue  # taken again meanwhile: the new stream reads for itself
                batch = [
                    (eid.decode(), dict(zip(flat[::2], flat[1::2], strict=True)))
                    for eid, flat in entries
                ]
                call.next_id = batch[-1][0]
                ms = int(call.next_id.split("-")[0])
                call.read_ms = ms
                call.top_ms = max(call.top_ms, ms)
                if any(f.get(b"end") == b"1" for _, f in batch):
                    call.ended = True
                call.queue.put_nowait(batch)

    def _refetcher(self, call: _Call) -> Any:
        """``refetch(start, end)`` for the call's stream: int16 bytes of stream positions
        ``[start, end)`` read again from Redis (runs in a worker thread)."""

        def refetch(start: int, end: int) -> bytes:
            bpf16 = 2 * call.channels
            wire = call.wire_bpf
            first = call.base + start // bpf16
            last = call.base + end // bpf16
            lo_ms = first * 1000 // call.rate
            out = bytearray()
            for entry_id, fields in self._sync.xrange(call.keys.audio, f"{lo_ms}-0", "+"):
                ms = int(entry_id.split(b"-")[0])
                pcm = fields.get(b"pcm", b"")
                e = call.end_frame(ms)
                s = e - len(pcm) // wire
                if e <= first:
                    continue
                if s >= last:
                    break
                pcm = pcm[max(0, first - s) * wire : (min(e, last) - s) * wire]
                out += ulaw_decode(pcm) if call.encoding == "mulaw" else pcm
                if e >= last:
                    break
            return bytes(out)

        return refetch

    # ------------------------------------------------------------------ metrics

    async def _sample_tops(self) -> None:
        """Once a second: the newest audio entry of each call (for the lag signal)."""
        while True:
            await asyncio.sleep(1.0)
            calls = list(self.calls.values())
            if not calls:
                continue
            pipe = self._redis.pipeline(transaction=False)
            for c in calls:
                pipe.xrevrange(c.keys.audio, "+", "-", count=1)
            try:
                tops = await pipe.execute()
            except Exception:  # noqa: BLE001 - a signal, not the work
                continue
            for c, top in zip(calls, tops, strict=True):
                if top:
                    c.top_ms = max(c.top_ms, int(top[0][0].split(b"-")[0]))

    def _signals(self) -> Iterable[CallSignals]:
        for c in list(self.calls.values()):
            lag = max(0, c.top_ms - c.read_ms) / 1000
            yield c.keys.call_id, lag, max(0, c.read_ms - c.acked_ms) / 1000


async def _cancel(tasks: list[asyncio.Task[Any]], timeout: float = 5.0) -> None:
    """Cancel ``tasks`` and wait for them, at most ``timeout`` seconds."""
    for t in tasks:
        t.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)
