"""The local services' WebSocket I/O after the opening handshake (provider-neutral).

``websockets`` answers the opening handshake (RFC 6455 §4: the request, ``process_request``
verdicts, the 101 or an HTTP error); from then on the bytes of a connection go to a
:class:`Wire` instead of ``websockets``' receive path: the frames are parsed and unmasked
by the native :class:`~scribewire.wsframe.FrameReader` (every rule of RFC 6455 §5), the
messages are handed to the connection's :class:`WireHandler` as plain calls (no task
wake-up per message), control frames are answered here, and everything a batch of input
produces leaves in one ``transport.write``.

:class:`WireConnection` is the ``create_connection`` class to give ``websockets.serve``.
It passes ``websockets`` the bytes of the HTTP request and no more: the bytes after the
request's blank line are kept (bounded: the socket is paused beyond
``EARLY_LIMIT_NBYTES``) until :meth:`WireConnection.attach` hands the connection to a
:class:`Wire`, so ``websockets`` never parses a frame.

What a :class:`Wire` guarantees:

- **Control frames** (§5.5): a ping is answered with a pong carrying its payload
  (§5.5.2); an unsolicited pong is ignored (§5.5.3); they may arrive between fragments.
- **Close handshake** (§5.5.1, §7.1): a close frame from the client is echoed with its
  status code (an empty body when it had none), then the server closes the TCP
  connection first (§7.1.1). :meth:`Wire.close` sends the server's close frame, waits
  ``close_timeout`` seconds for the client's, then closes the TCP connection (aborts it
  when the client's window is still full) and, one second later, aborts it if it is
  still open. No data frame is sent after a close frame, and messages received after
  it are not handed on.
- **Faults** (§7.1.7): a frame that breaks a rule fails the connection with the close
  code of the :class:`~scribewire.errors.WebSocketProtocolError` (1002, 1007, or 1009
  for a message over ``max_message_nbytes``, refused from its header); the messages
  before the bad bytes are handed on first.
- **Send deadline**: when the transport's buffer passes its high-water mark (the client
  stopped reading), reading stops too (no new input makes new output) and a timer of
  ``send_timeout`` seconds starts; if the buffer has not drained by then the client is
  not reading: the handler hears :meth:`WireHandler.closed` with 1008 and
  :data:`NOT_READING`, and the connection is closed with 1008 and aborted when that
  close cannot leave.
- **Bounded memory**: one frame header, the payload of one frame and one fragmented
  message, each under ``max_message_nbytes``; the write buffer up to its high-water mark
  plus what one batch of input produced.

The handler's :meth:`~WireHandler.closed` is called exactly once, when the connection
starts to close for whatever reason (close frame from the client, a fault, the send
deadline, end of file, a lost connection, or :meth:`Wire.close`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from ..errors import WebSocketProtocolError
from ..wsframe import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    encode_close,
    encode_frame,
)

__all__ = [
    "EARLY_LIMIT_NBYTES",
    "NOT_READING",
    "Wire",
    "WireConnection",
    "WireHandler",
]

logger = logging.getLogger("scribewire.server")

#: Bytes kept from a client between its request and the attach of a Wire before the
#: socket is paused (a client sends nothing before the 101 is read, RFC 6455 §4.1).
EARLY_LIMIT_NBYTES = 2**16
#: The close reason (code 1008) of a client whose receive window stayed full past the
#: send deadline.
NOT_READING = "client not reading"

_OPEN, _CLOSING, _CLOSED = 0, 1, 2
_EMPTY_CLOSE = encode_frame(OP_CLOSE, b"")


class WireHandler(Protocol):
    """What a :class:`Wire` hands a connection's messages to (one provider's handler)."""

    def binary(self, payload: bytes) -> None:
        """A whole binary message (fragments joined)."""

    def text(self, payload: str) -> None:
        """A whole text message (valid UTF-8, fragments joined)."""

    def closed(self, code: int, reason: str) -> None:
        """The connection is closing: ``code`` is the client's close code (1005: none
        given), the code of a fault (1002, 1007, 1009), 1008 with :data:`NOT_READING`,
        1006 for a connection lost or ended without a close frame, or the code passed
        to :meth:`Wire.close`. Called once; no message is handed on after it."""


class _ReadBuffer(threading.local):
    """The buffer every Wire of a thread reads into (the transport calls ``get_buffer``,
    ``recv_into`` and ``buffer_updated`` back to back, and ``buffer_updated`` parses the
    bytes before it returns, so one buffer serves every connection of a loop)."""

    def __init__(self) -> None:
        self.view = memoryview(bytearray(READ_BUFFER_NBYTES))


#: Bytes one read may take from a socket (the shared buffer's size).
READ_BUFFER_NBYTES = 2**18
_READ = _ReadBuffer()


class Wire(asyncio.BufferedProtocol):
    """One connection's frames in and out, after the handshake (see the module docstring).

    Made by :meth:`WireConnection.attach`; it becomes the transport's protocol, a
    ``BufferedProtocol``: the transport reads with ``recv_into`` into a buffer shared by
    every connection of the thread. (A plain ``Protocol`` gets a new ``bytes`` from each
    ``recv(256 KiB)``, which glibc serves from ``mmap``, shrinks with ``mremap`` and frees
    with ``munmap``: three more system calls per message.)

    Attributes:
        close_code: the close code the connection ended with (None while open): the one
            received from the client, or the one the server sent first.
        close_reason: its reason.
        not_reading: True when the send deadline closed the connection.
    """

    def __init__(
        self,
        conn: WireConnection,
        handler: WireHandler,
        *,
        max_message_nbytes: int,
        send_timeout: float,
        close_timeout: float,
    ) -> None:
        self._conn = conn
        self._transport: asyncio.Transport = conn.transport
        self._loop = asyncio.get_running_loop()
        self.handler = handler
        self.reader = FrameReader(max_message_nbytes)
        self.send_timeout = send_timeout
        self.close_timeout = close_timeout
        self.close_code: int | None = None
        self.close_reason = ""
        self.not_reading = False
        self._state = _OPEN
        self._events: list[tuple[int, Any]] = []
        self._out: list[bytes] = []
        self._batch = False  # inside data_received: writes wait for its end
        self._write_paused = False
        self._deadline: asyncio.TimerHandle | None = None
        self._read_holds = 0
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._peer_closed: asyncio.Future[None] = self._loop.create_future()
        self._lost: asyncio.Future[None] = self._loop.create_future()
        self._stuck: asyncio.Future[None] = self._loop.create_future()  # send deadline passed
        self._told = False
        self._closer: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ input

    @property
    def max_message_nbytes(self) -> int:
        """The largest message accepted (settable: a stream narrows it to its parameters)."""
        return self.reader.max_message_nbytes

    @max_message_nbytes.setter
    def max_message_nbytes(self, value: int) -> None:
        self.reader.max_message_nbytes = value

    @property
    def is_open(self) -> bool:
        """True until the close handshake starts."""
        return self._state == _OPEN

    def get_buffer(self, sizehint: int) -> memoryview:
        return _READ.view

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(_READ.view[:nbytes])  # type: ignore[arg-type]  # (copied once)

    def data_received(self, data: bytes) -> None:
        """Parse ``data`` and hand on what it completes (the bytes kept from before the
        attach come this way; the transport's reads through :meth:`buffer_updated`)."""
        events = self._events
        self._batch = True
        try:
            try:
                self.reader.feed(data, events)
            except WebSocketProtocolError as exc:
                self._dispatch(events)
                self._fail(exc.close_code, str(exc))
            else:
                if events:
                    self._dispatch(events)
        finally:
            events.clear()
            self._batch = False
            if self._out:
                self._flush()

    def _dispatch(self, events: list[tuple[int, Any]]) -> None:
        handler = self.handler
        for opcode, payload in events:
            if opcode == OP_BINARY:
                if self._state == _OPEN:
                    handler.binary(payload)
            elif opcode == OP_TEXT:
                if self._state == _OPEN:
                    handler.text(payload)
            elif opcode == OP_PING:
                if self._state == _OPEN:
                    self.write(encode_frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                self._close_received(*payload)
            # OP_PONG: unsolicited, ignored (RFC 6455 §5.5.3)

    def _close_received(self, code: int, reason: str) -> None:
        if not self._peer_closed.done():
            self._peer_closed.set_result(None)
        if self._state == _OPEN:  # the client starts the close: echo it (§5.5.1)
            self._state = _CLOSING
            self.close_code, self.close_reason = code, reason
            self._tell(code, reason)
            self._out.append(_EMPTY_CLOSE if code == 1005 else encode_close(code))
            self._flush()
            self._end()
        # else: the answer to our close frame; _close() ends the connection

    def eof_received(self) -> None:
        """The client half-closed without a close frame: 1006 (RFC 6455 §7.1.5)."""
        self._tell(1006, "")
        self._state = _CLOSING
        self._end()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._state == _CLOSED:
            return
        self._state = _CLOSED
        if self.close_code is None:
            self.close_code = 1006
        self._tell(1006, "")
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        for fut in (self._lost, self._peer_closed):
            if not fut.done():
                fut.set_result(None)
        self._wake_drainers()
        self._conn._lost(exc)  # websockets' bookkeeping: its state becomes CLOSED

    # ------------------------------------------------------------------ output

    def write(self, frame: bytes) -> None:
        """Queue one whole frame (from :func:`~scribewire.wsframe.encode_frame`); it is
        written at the end of the current batch of input, or now outside one. Ignored
        once the close handshake has started."""
        if self._state != _OPEN:
            return
        self._out.append(frame)
        if not self._batch:
            self._flush()

    def send(self, payload: bytes) -> None:
        """Queue ``payload`` as one binary message (see :meth:`write`)."""
        self.write(encode_frame(OP_BINARY, payload))

    def send_text(self, text: str) -> None:
        """Queue ``text`` as one text message (see :meth:`write`)."""
        self.write(encode_frame(OP_TEXT, text.encode("utf-8")))

    def _flush(self) -> None:
        out = self._out
        if self._state == _CLOSED or self._transport.is_closing():
            out.clear()
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._transport.write(data)

    async def drain(self) -> None:
        """Wait while the client's receive window is full (returns at once otherwise, and
        once the connection is closing: check :attr:`is_open`)."""
        if not self._write_paused or self._state == _CLOSED:
            return
        fut = self._loop.create_future()
        self._drain_waiters.append(fut)
        await fut

    def _wake_drainers(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True
        self.pause_reading()  # new input would only make more output
        if self._deadline is None and self._state != _CLOSED:
            self._deadline = self._loop.call_later(self.send_timeout, self._send_timed_out)

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.resume_reading()
        self._wake_drainers()

    def _send_timed_out(self) -> None:
        self._deadline = None
        if self._state == _CLOSED:
            return
        self.not_reading = True
        self.close_code, self.close_reason = 1008, NOT_READING
        logger.info("client not reading for %g s; closing", self.send_timeout)
        self._tell(1008, NOT_READING)
        if not self._stuck.done():
            self._stuck.set_result(None)  # a close waiting for the client's answer ends
        self.start_close(1008, NOT_READING)

    # ------------------------------------------------------------------ reading

    def pause_reading(self) -> None:
        """Stop reading the socket (TCP backpressure to the client); calls nest, and
        reading resumes when every pause has been resumed."""
        self._read_holds += 1
        if self._read_holds == 1 and self._state != _CLOSED:
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        """Undo one :meth:`pause_reading`."""
        if self._read_holds == 0:
            return
        self._read_holds -= 1
        if self._read_holds == 0 and self._state != _CLOSED:
            self._transport.resume_reading()

    # ------------------------------------------------------------------ closing

    def _tell(self, code: int, reason: str) -> None:
        if not self._told:
            self._told = True
            self.handler.closed(code, reason)

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 §7.1.7): close frame with ``code``, then close."""
        logger.info("WebSocket protocol error (%d): %s", code, reason)
        self._tell(code, reason)
        self.start_close(code, reason)

    def start_close(self, code: int = 1000, reason: str = "") -> None:
        """Start :meth:`close` in the background (from a callback); idempotent."""
        if self._closer is None and self._state != _CLOSED:
            self._closer = self._loop.create_task(self._close(code, reason))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection: the server's close frame, the client's answer within
        ``close_timeout``, then the TCP connection (see the module docstring). Returns
        when the connection is closed; idempotent."""
        self.start_close(code, reason)
        if self._closer is not None:
            await asyncio.shield(self._closer)
        else:
            await asyncio.shield(self._lost)

    async def wait_closed(self) -> None:
        """Return once the TCP connection is closed."""
        await asyncio.shield(self._lost)

    async def _close(self, code: int, reason: str) -> None:
        if self._state == _OPEN:
            self._state = _CLOSING
            self.close_code, self.close_reason = code, reason
            self._tell(code, reason)
            frame = encode_close(code, reason) if code != 1005 else _EMPTY_CLOSE
            if not self._transport.is_closing():
                self._out.append(frame)
                # write it even while paused: the transport buffers it
                data = b"".join(self._out)
                self._out.clear()
                self._transport.write(data)
            self.resume_reading_all()  # the client's close frame must be read
            if not self._lost.done() and not self.not_reading:  # (else it cannot read ours)
                # the client's answer, for close_timeout at most; a full window that stays
                # full to the send deadline ends the wait (the client is not reading)
                await asyncio.wait(
                    [self._peer_closed, self._stuck], timeout=self.close_timeout,
                    return_when=asyncio.FIRST_COMPLETED,
                )
        self._end()
        if not self._lost.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._lost), 1.0)
            except asyncio.TimeoutError:
                self._transport.abort()

    def resume_reading_all(self) -> None:
        """Drop every :meth:`pause_reading` (the close handshake reads the client's answer)."""
        if self._read_holds and self._state != _CLOSED:
            self._read_holds = 0
            self._transport.resume_reading()

    def _end(self) -> None:
        """Close the TCP connection (server first, RFC 6455 §7.1.1), or abort it when
        what is buffered for the client cannot leave."""
        if self._lost.done():
            return
        if self._write_paused or self.not_reading:
            self._transport.abort()
        else:
            self._transport.close()
            if self._closer is None:  # a close the client started: bound the flush
                self._closer = self._loop.create_task(self._await_lost())

    async def _await_lost(self) -> None:
        if not self._lost.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._lost), self.close_timeout + 1.0)
            except asyncio.TimeoutError:
                self._transport.abort()


class WireConnection(ServerConnection):
    """``websockets``' server connection for the handshake, a :class:`Wire` after it.

    Give it to ``websockets.asyncio.server.serve(create_connection=WireConnection)``;
    the handler calls :meth:`attach` first thing (see the module docstring).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wire: Wire | None = None  # set once the bytes go to it
        self._attached: Wire | None = None
        self._request_done = False
        self._tail = b""  # the last 3 bytes of the request so far
        self._early: list[bytes] = []
        self._early_nbytes = 0
        self._early_paused = False

    def attach(
        self,
        handler: WireHandler,
        *,
        max_message_nbytes: int,
        send_timeout: float,
        close_timeout: float,
    ) -> Wire:
        """Hand every byte from now on (and those received since the request) to a new
        :class:`Wire` serving ``handler``. The bytes already received reach it from the
        event loop's next round, once the caller holds the Wire; frames written before
        that leave at once."""
        wire = Wire(
            self,
            handler,
            max_message_nbytes=max_message_nbytes,
            send_timeout=send_timeout,
            close_timeout=close_timeout,
        )
        self._attached = wire
        asyncio.get_running_loop().call_soon(self._start, wire)
        return wire

    def _start(self, wire: Wire) -> None:
        early, self._early = self._early, []
        self._early_nbytes = 0
        self.wire = wire
        if self.protocol.state is State.CLOSED:  # lost before the attach
            wire.connection_lost(None)
            return
        self.transport.set_protocol(wire)  # reads go to the Wire, with recv_into
        if self.paused:  # websockets' handshake write filled the window
            wire.pause_writing()
        if self._early_paused:
            self._early_paused = False
            self.transport.resume_reading()
        if early:
            wire.data_received(b"".join(early))

    @property
    def close_code(self) -> int | None:
        wire = self._attached
        return wire.close_code if wire is not None else super().close_code

    def data_received(self, data: bytes) -> None:
        wire = self.wire
        if wire is not None:
            wire.data_received(data)
            return
        if self._request_done:
            self._keep(data)
            return
        probe = self._tail + data
        end = probe.find(b"\r\n\r\n")
        if end < 0:
            self._tail = probe[-3:]
            super().data_received(data)
            return
        cut = end + 4 - len(self._tail)
        self._request_done = True
        super().data_received(data[:cut])
        if cut < len(data):
            self._keep(data[cut:])

    def _keep(self, data: bytes) -> None:
        self._early.append(data)
        self._early_nbytes += len(data)
        if self._early_nbytes > EARLY_LIMIT_NBYTES and not self._early_paused:
            self._early_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> None:
        wire = self.wire
        if wire is not None:
            wire.eof_received()  # returning None: the transport closes itself
            return
        super().eof_received()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.wire is not None:
            self.wire.pause_writing()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.wire is not None:
            self.wire.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        wire = self.wire
        if wire is not None:  # (the transport calls the Wire itself once it is attached)
            wire.connection_lost(exc)
        else:
            super().connection_lost(exc)

    def _lost(self, exc: Exception | None) -> None:
        """The Wire's connection_lost, passed on to websockets."""
        if self.protocol.state is not State.CLOSED or not self.connection_lost_waiter.done():
            super().connection_lost(exc)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """The close handshake: the Wire's once attached (websockets' server calls this
        on shutdown with 1001), websockets' own before."""
        wire = self._attached
        if wire is not None:
            await wire.close(code, reason)
        else:
            await super().close(code, reason)
