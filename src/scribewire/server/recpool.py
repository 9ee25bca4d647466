"""Recognizers in worker processes: every core busy on a batch of streams.

pocketsphinx holds the GIL while it decodes, so recognizers run in threads share one
core. A :class:`RecognizerPool` runs them in ``processes`` worker processes instead
(default: the cores this process may use). The pool is a
:data:`~scribewire.server.recognizers.RecognizerFactory`: ``pool(sample_rate, channel)``
returns a :class:`PooledRecognizer` with the :class:`~scribewire.server.recognizers.Recognizer`
interface, so the service's handlers use it unchanged::

    with RecognizerPool("pocketsphinx") as pool:
        async with LocalTranscribeService(recognizer=pool) as svc:
            ...

How it works:

- Each worker process builds the recognizers of the streams placed on it (a new stream
  goes to the live process with the fewest open recognizers) and runs their calls one
  at a time, in arrival order. A recognizer never moves: its state (VAD, utterance,
  decoder) lives in one process, so its results come back in the order of its calls.
- Calls travel over one pipe per process (a socket pair; msgpack messages: the audio
  once, as bytes). ``accept`` and ``finish`` block the calling thread until their
  result is back (the service calls them from worker threads: ``blocking`` is True);
  ``close`` and the open message do not block, so the event loop may call them. Every
  recognizer has at most one call outstanding, so what waits in a pipe is bounded by
  the open recognizers: a slow process holds its callers, whose bounded queues stop
  reading their sockets (back-pressure), never memory growing without bound.
- A process that dies (``kill -9``, out of memory, a native crash) fails the calls of
  the recognizers it ran with :class:`~scribewire.errors.RecognizerCrashed`, now and on
  every later call; streams on other processes carry on, and the pool starts a
  replacement for new streams (not for a process that died before it was ready, so a
  broken install cannot loop).
- No orphans: ``close()`` stops every process (then terminates, then kills one that
  does not go). When the owning process dies without closing, each worker sees the end
  of its pipe at its next read (a ``spawn`` or ``forkserver`` child holds no other
  process's pipe end), and a watchdog thread in each worker exits within
  ``_PARENT_POLL`` seconds once its parent is gone, even mid-call.
- Start methods: ``spawn`` (the default) and ``forkserver``; ``fork`` works but is not
  advised in a process with threads (an event loop's executor).

Threads: every blocking call holds one caller thread while it waits (the service's calls
come from the event loop's default executor, ``min(32, cores + 4)`` threads), and each
process has a reader and a writer thread here. Under ``spawn`` the workers import the
parent's ``__main__`` module: a script that builds a pool guards its entry point with
``if __name__ == "__main__":``.

Errors a recognizer raises in its process (``AudioFormatError`` for an odd byte count,
``SessionStateError``, ...) are raised again in the caller with their type; one that
cannot be carried back becomes :class:`~scribewire.errors.RecognizerError`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import msgspec

from ..errors import ParameterError, RecognizerCrashed, RecognizerError, SessionStateError
from .recognizers import (
    DigestRecognizer,
    NullRecognizer,
    PocketsphinxRecognizer,
    Recognizer,
    RecognizerFactory,
    ReplayRecognizer,
    ReplayScript,
    Segment,
    _check_pcm,
    recognizer_factory,
)

__all__ = ["PooledRecognizer", "RecognizerPool", "default_processes", "pooled_factory"]

#: The recognizers worth a process of their own (``blocking``: CPU-heavy).
_HEAVY = frozenset(
    name
    for name, cls in (
        ("pocketsphinx", PocketsphinxRecognizer),
        ("replay", ReplayRecognizer),
        ("null", NullRecognizer),
        ("digest", DigestRecognizer),
    )
    if cls.blocking
)

# Requests, parent -> worker (msgpack arrays): [op, recognizer id, ...].
_OPEN, _ACCEPT, _FINISH, _CLOSE, _STOP = range(5)
# Replies, worker -> parent: [recognizer id, status, payload]; id 0 is the ready message.
_OK, _ERR = 0, 1
#: Seconds between a worker's checks that its parent is alive.
_PARENT_POLL = 0.5
#: Seconds ``close`` waits for a process at each step (stop, terminate, kill).
_STOP_WAIT = 5.0

_encode = msgspec.msgpack.Encoder().encode
_decode_reply = msgspec.msgpack.Decoder(tuple[int, int, msgspec.Raw]).decode
_decode_segments = msgspec.msgpack.Decoder(list[Segment]).decode
_decode_request = msgspec.msgpack.Decoder(list[Any]).decode
_decode_bytes = msgspec.msgpack.Decoder(bytes).decode


def default_processes() -> int:
    """The cores this process may run on (its CPU affinity; ``os.cpu_count()`` where
    affinity is unknown), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------- worker side


def _pack_error(exc: BaseException) -> bytes:
    try:
        data = pickle.dumps(exc)
        pickle.loads(data)
        return data
    except Exception:  # noqa: BLE001 - anything that does not round-trip is described
        return pickle.dumps(RecognizerError(f"recognizer failed: {type(exc).__name__}: {exc}"))


def _watch_parent() -> None:
    # The parent at start (the owning process under spawn and fork, the fork server under
    # forkserver, which itself goes when its owner does): once it is gone, so is this.
    parent = os.getppid()
    while True:
        time.sleep(_PARENT_POLL)
        if os.getppid() != parent:
            os._exit(0)


def _worker_main(conn: multiprocessing.connection.Connection, spec: bytes) -> None:
    """A worker process: build the factory, say ready, then serve requests in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is the parent's to handle
    threading.Thread(target=_watch_parent, daemon=True).start()
    send = conn.send_bytes
    try:
        factory = _build_factory(spec)
        warm = factory(16_000, 0)  # load the model now, not on the first stream
        warm.close()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, then exit
        with contextlib.suppress(OSError):
            send(_encode((0, _ERR, _pack_error(exc))))
        return
    send(_encode((0, _OK, None)))
    recognizers: dict[int, Recognizer] = {}
    failed: dict[int, bytes] = {}  # an open that raised: reported at the next call
    while True:
        try:
            request = _decode_request(conn.recv_bytes())
        except (EOFError, OSError):
            break  # the parent is gone or closed the pipe
        op, rid = request[0], request[1]
        if op == _STOP:
            break
        if op == _OPEN:
            try:
                recognizers[rid] = factory(request[2], request[3])
            except Exception as exc:  # noqa: BLE001 - the caller's next call raises it
                failed[rid] = _pack_error(exc)
            continue
        if op == _CLOSE:
            failed.pop(rid, None)
            rec = recognizers.pop(rid, None)
            if rec is not None:
                with contextlib.suppress(Exception):
                    rec.close()
            continue
        try:
            if rid in failed:
                reply = _encode((rid, _ERR, failed[rid]))
            else:
                rec = recognizers[rid]
                segments = rec.accept(request[3], request[2]) if op == _ACCEPT else rec.finish()
                reply = _encode((rid, _OK, segments))
        except Exception as exc:  # noqa: BLE001 - raised again in the caller
            reply = _encode((rid, _ERR, _pack_error(exc)))
        try:
            send(reply)
        except OSError:
            break
    for rec in recognizers.values():
        with contextlib.suppress(Exception):
            rec.close()


class _Spec(msgspec.Struct, frozen=True):
    """What a worker builds its factory from: a recognizer name (and replay scripts), or
    a pickled factory."""

    name: str | None = None
    replay: dict[int, ReplayScript] | None = None
    factory: bytes | None = None


def _build_factory(spec: bytes) -> RecognizerFactory:
    s = msgspec.msgpack.decode(spec, type=_Spec)
    if s.factory is not None:
        factory: RecognizerFactory = pickle.loads(s.factory)
        return factory
    assert s.name is not None
    return recognizer_factory(s.name, replay=s.replay)


# --------------------------------------------------------------------------- parent side


def _unpack_error(payload: msgspec.Raw) -> BaseException:
    try:
        exc: BaseException = pickle.loads(_decode_bytes(payload))
        return exc
    except Exception:  # noqa: BLE001
        return RecognizerError("recognizer failed (its error could not be read)")


class _Call:
    """The one outstanding call of a recognizer: its reply, or an error."""

    __slots__ = ("done", "error", "payload")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.payload: msgspec.Raw | None = None
        self.error: BaseException | None = None


class _Worker:
    """One worker process and the two threads that move its messages."""

    def __init__(self, pool: RecognizerPool, slot: int) -> None:
        self.pool = pool
        self.slot = slot
        parent_end, child_end = pool._ctx.Pipe(duplex=True)
        self.conn = parent_end
        self.proc = pool._ctx.Process(
            target=_worker_main,
            args=(child_end, pool._spec),
            name=f"scribewire-recognizer-{slot}",
            daemon=True,  # multiprocessing ends it at interpreter exit if close() was missed
        )
        self.proc.start()
        child_end.close()  # so that this end sees EOF when the worker dies
        self.pid: int = self.proc.pid or 0
        self.lock = threading.Lock()
        self.calls: dict[int, _Call] = {}
        self.open = 0  # recognizers placed here and not closed
        self.ready = threading.Event()
        self.dead: RecognizerError | None = None
        self.failed_start: BaseException | None = None
        # Outbound messages, in order; bounded by the open recognizers (one call each,
        # plus their open and close messages).
        self.outbox: list[bytes | None] = []
        self.outbox_cv = threading.Condition(self.lock)
        name = self.proc.name
        self.reader = threading.Thread(target=self._read, name=f"{name}-read", daemon=True)
        self.writer = threading.Thread(target=self._write, name=f"{name}-write", daemon=True)
        self.reader.start()
        self.writer.start()

    # ---------------------------------------------------------------- messages

    def post(self, message: bytes | None) -> None:
        """Queue ``message`` for the worker (None: stop after what is queued)."""
        with self.lock:
            self.outbox.append(message)
            self.outbox_cv.notify()

    def call(self, rid: int, message: bytes, call: _Call) -> msgspec.Raw:
        """Send ``message`` and wait for recognizer ``rid``'s reply."""
        with self.lock:
            if self.dead is not None:
                raise type(self.dead)(str(self.dead))
            call.done.clear()
            call.payload = call.error = None
            self.calls[rid] = call
            self.outbox.append(message)
            self.outbox_cv.notify()
        call.done.wait()
        if call.error is not None:
            raise call.error
        assert call.payload is not None
        return call.payload

    def _write(self) -> None:
        send = self.conn.send_bytes
        while True:
            with self.lock:
                while not self.outbox:
                    self.outbox_cv.wait()
                batch, self.outbox = self.outbox, []
            for message in batch:
                if message is None:
                    with contextlib.suppress(OSError):
                        send(_encode((_STOP, 0)))
                    return
                try:
                    send(message)
                except OSError:
                    return  # the reader sees the worker's end and reports it

    def _read(self) -> None:
        recv = self.conn.recv_bytes
        try:
            while True:
                rid, status, payload = _decode_reply(recv())
                if rid == 0:
                    if status == _ERR:
                        self.failed_start = _unpack_error(payload)
                    self.ready.set()
                    continue
                with self.lock:
                    call = self.calls.pop(rid, None)
                if call is None:
                    continue
                if status == _OK:
                    call.payload = payload
                else:
                    call.error = _unpack_error(payload)
                call.done.set()
        except Exception:  # noqa: BLE001 - EOF, a broken pipe, a garbled message: it is gone
            pass
        finally:
            self._died()

    def _died(self) -> None:
        self.proc.join(timeout=_STOP_WAIT)  # reap it (it closed its pipe: it is going)
        code = self.proc.exitcode
        killed = code is not None and code < 0
        how = f"was killed by signal {-code}" if killed else f"exited ({code})"
        error: RecognizerError = RecognizerCrashed(f"recognizer process {self.pid} {how}")
        if self.pool._closed:
            error = RecognizerError("the recognizer pool is closed")
        with self.lock:
            if not self.ready.is_set() and self.failed_start is None:
                self.failed_start = error  # died before it was ready: not replaced
            self.dead = error
            calls, self.calls = self.calls, {}
            self.outbox.append(None)  # let the writer go
            self.outbox_cv.notify()
        for call in calls.values():
            call.error = type(error)(str(error))
            call.done.set()
        self.ready.set()
        with contextlib.suppress(OSError):
            self.conn.close()
        self.pool._worker_died(self)

    def stop(self, deadline: float) -> None:
        """Ask the worker to stop; then terminate, then kill it if it does not."""
        self.post(None)
        self.proc.join(max(0.0, deadline - time.monotonic()))
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(_STOP_WAIT)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(_STOP_WAIT)
        self.reader.join(_STOP_WAIT)
        self.writer.join(_STOP_WAIT)


class PooledRecognizer:
    """A recognizer running in one of a :class:`RecognizerPool`'s processes.

    Same interface and results as the recognizer it stands for (see
    :class:`~scribewire.server.recognizers.Recognizer`): ``accept(pcm, t)`` with int16
    little-endian mono PCM at ``sample_rate`` Hz and ``t`` in seconds from stream
    start, ``finish()``, ``close()``. ``accept`` and ``finish`` block until the worker
    process has run them (``blocking`` is True: call them from a worker thread); ``close``
    does not block.

    Raises (from ``accept``/``finish``): what the recognizer raises (its own types:
    ``AudioFormatError`` for an odd byte count, ...); ``SessionStateError`` after
    ``close``; :class:`~scribewire.errors.RecognizerCrashed` once its process has died;
    :class:`~scribewire.errors.RecognizerError` once the pool is closed.
    """

    blocking: ClassVar[bool] = True

    __slots__ = ("_call", "_closed", "_rid", "_worker", "sample_rate")

    def __init__(self, worker: _Worker, rid: int, sample_rate: int) -> None:  # (the pool's)
        self.sample_rate = sample_rate
        self._worker = worker
        self._rid = rid
        self._call = _Call()
        self._closed = False

    @property
    def pid(self) -> int:
        """The id of the process this recognizer runs in."""
        return self._worker.pid

    def _run(self, message: bytes) -> list[Segment]:
        if self._closed:
            raise SessionStateError("recognizer is closed")
        return _decode_segments(self._worker.call(self._rid, message, self._call))

    def accept(self, pcm: bytes, t: float) -> list[Segment]:
        """See :class:`~scribewire.server.recognizers.Recognizer`."""
        _check_pcm(pcm)
        return self._run(_encode((_ACCEPT, self._rid, t, bytes(pcm))))

    def finish(self) -> list[Segment]:
        """See :class:`~scribewire.server.recognizers.Recognizer`."""
        return self._run(_encode((_FINISH, self._rid)))

    def close(self) -> None:
        """Release the recognizer in its process (idempotent; does not block)."""
        if self._closed:
            return
        self._closed = True
        worker = self._worker
        with worker.lock:
            worker.open -= 1
            dead = worker.dead is not None
        if not dead:
            worker.post(_encode((_CLOSE, self._rid)))


class RecognizerPool:
    """Recognizers in ``processes`` worker processes, behind the Recognizer interface.

    Args:
        recognizer: a name of :data:`~scribewire.server.recognizers.RECOGNIZERS`, or a
            picklable factory ``(sample_rate, channel) -> Recognizer`` (a module-level
            function or class: the worker processes import it).
        processes: worker processes (>= 1); None: :func:`default_processes`.
        replay: channel -> script, for ``"replay"``.
        start_method: ``"spawn"`` (default), ``"forkserver"`` or ``"fork"``.

    The processes start at once; each loads its recognizer's model before it serves a
    stream. Use as a context manager, or call :meth:`close`.

    Raises:
        ParameterError: ``processes`` < 1, an unknown recognizer name or start method,
            a factory that cannot be pickled.
    """

    def __init__(
        self,
        recognizer: str | RecognizerFactory = "pocketsphinx",
        *,
        processes: int | None = None,
        replay: Mapping[int, ReplayScript] | None = None,
        start_method: str = "spawn",
    ) -> None:
        n = default_processes() if processes is None else processes
        if n < 1:
            raise ParameterError(f"processes must be >= 1, got {processes}")
        if start_method not in multiprocessing.get_all_start_methods():
            raise ParameterError(
                f"start method {start_method!r} is not available here; "
                f"choose one of {', '.join(multiprocessing.get_all_start_methods())}"
            )
        if isinstance(recognizer, str):
            recognizer_factory(recognizer, replay=replay)  # the name's errors, here
            spec = _Spec(name=recognizer, replay=dict(replay) if replay else None)
            self.__name__ = recognizer
        else:
            try:
                spec = _Spec(factory=pickle.dumps(recognizer))
            except Exception as exc:  # noqa: BLE001
                raise ParameterError(
                    f"a pooled recognizer factory must be picklable: {exc}"
                ) from None
            self.__name__ = getattr(recognizer, "__name__", "custom")
        self.processes = n
        self.start_method = start_method
        # (typeshed's BaseContext lacks Process: the concrete contexts have it)
        self._ctx: Any = multiprocessing.get_context(start_method)
        self._spec = msgspec.msgpack.encode(spec)
        self._lock = threading.Lock()
        self._next_id = 1
        self._closed = False
        #: processes that died and were replaced since the pool started
        self.replaced = 0
        self._workers: list[_Worker | None] = [None] * n
        for slot in range(n):
            self._workers[slot] = _Worker(self, slot)

    # ---------------------------------------------------------------- factory

    def __call__(self, sample_rate: int, channel: int) -> PooledRecognizer:
        """A recognizer for one channel of a stream, in the least busy live process.

        Does not block (the recognizer is built in its process; an error doing so is
        raised by its first call).

        Raises:
            RecognizerError: the pool is closed, or no process could start (the message
                says why).
        """
        with self._lock:
            if self._closed:
                raise RecognizerError("the recognizer pool is closed")
            live = [
                w
                for w in self._workers
                if w is not None and w.dead is None and w.failed_start is None
            ]
            if not live:
                raise RecognizerError(f"no recognizer process is running{self._why()}")
            worker = min(live, key=lambda w: (w.open, w.slot))
            rid = self._next_id
            self._next_id += 1
            with worker.lock:
                worker.open += 1
        worker.post(_encode((_OPEN, rid, sample_rate, channel)))
        return PooledRecognizer(worker, rid, sample_rate)

    def _why(self) -> str:
        for w in self._workers:
            if w is not None and w.failed_start is not None:
                return f": {type(w.failed_start).__name__}: {w.failed_start}"
        return ""

    # ---------------------------------------------------------------- processes

    @property
    def pids(self) -> list[int]:
        """The ids of the live worker processes, by slot."""
        return [w.pid for w in self._workers if w is not None and w.dead is None]

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until every process has loaded its model (or failed to).

        Raises:
            RecognizerError: a process could not start (the message says why), or they
                were not ready within ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        for w in list(self._workers):
            if w is None:
                continue
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not w.ready.wait(left):
                raise RecognizerError(f"recognizer processes not ready within {timeout} s")
            if w.failed_start is not None:
                raise RecognizerError(
                    f"a recognizer process could not start: "
                    f"{type(w.failed_start).__name__}: {w.failed_start}"
                )

    def _worker_died(self, worker: _Worker) -> None:
        """From the dead worker's reader thread: start a replacement (if the pool is
        open and the process had been ready; one that failed to start is not retried)."""
        with self._lock:
            if self._closed or self._workers[worker.slot] is not worker:
                return
            if worker.failed_start is not None:
                return
            try:
                self._workers[worker.slot] = _Worker(self, worker.slot)
                self.replaced += 1
            except Exception:  # noqa: BLE001 - new streams go to the other processes
                self._workers[worker.slot] = worker

    def close(self) -> None:
        """Stop every process (calls under way fail with RecognizerError); idempotent.

        Blocks until the processes are gone: each is asked to stop, then terminated, then
        killed (each step bounded).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = [w for w in self._workers if w is not None]
        deadline = time.monotonic() + _STOP_WAIT
        for w in workers:
            w.post(None)
        for w in workers:
            w.stop(deadline)
            with w.lock:
                calls, w.calls = w.calls, {}
            for call in calls.values():
                call.error = RecognizerError("the recognizer pool is closed")
                call.done.set()

    def __enter__(self) -> RecognizerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"RecognizerPool({self.__name__!r}, processes={self.processes}, "
            f"start_method={self.start_method!r}, pids={self.pids})"
        )


def pooled_factory(
    recognizer: str, processes: int | None, *, replay: Mapping[int, ReplayScript] | None = None
) -> tuple[str | RecognizerFactory, Callable[[], None]]:
    """What ``LocalTranscribeService(recognizer=...)`` should get for ``recognizer`` with
    ``processes`` worker processes (None: the cores; 0: in-process), and how to release it.

    Recognizers that are cheap (``blocking`` False: null, digest, replay) stay in-process
    whatever ``processes`` says: sending their audio to another process would cost more
    than recognizing it.

    Raises:
        ParameterError: ``processes`` < 0, an unknown name.
        RecognizerError: the processes could not start.
    """
    if processes is not None and processes < 0:
        raise ParameterError(f"--recognizer-processes must be >= 0, got {processes}")
    if processes == 0 or recognizer not in _HEAVY:
        return recognizer, lambda: None
    pool = RecognizerPool(recognizer, processes=processes, replay=replay)
    return pool, pool.close
