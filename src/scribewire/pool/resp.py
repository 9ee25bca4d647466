"""A small RESP2 client for the pool's hot path: the command encoder, hiredis' reader.

redis-py's command layer costs several times the bytes it moves (``scaleout.md`` §3:
9.3 µs per XADD against 2.3 µs for a hand-written RESP writer with ``hiredis.Reader``).
The worker sends two commands per call per second or more (its ``XREAD`` batches and
the ``PUBLISH`` script of each final), so those go through :class:`RespConnection`:
commands encoded here (:func:`encode_command`, sans-I/O), written pipelined, replies
parsed by ``hiredis.Reader`` (Redis' own C parser) and matched to their requests in
order. Control operations stay on redis-py.

Replies are hiredis' values: ``bytes`` for bulk strings, ``int``, lists, None; an error
reply is a ``hiredis.ReplyError`` *returned* in its place (never raised), so a batch of
replies always lines up with its commands.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Sequence
from typing import Any

__all__ = ["RespConnection", "encode_command"]

Arg = bytes | str | int


def encode_command(args: Sequence[Arg]) -> bytes:
    """One command as a RESP2 array of bulk strings (``str`` as UTF-8, ``int`` decimal).

    Raises:
        TypeError: an argument of another type.
    """
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, bytes):
            b = a
        elif isinstance(a, str):
            b = a.encode()
        elif isinstance(a, int) and not isinstance(a, bool):
            b = b"%d" % a
        else:
            raise TypeError(f"a Redis argument must be bytes, str or int, not {type(a).__name__}")
        out.append(b"$%d\r\n%b\r\n" % (len(b), b))
    return b"".join(out)


class RespConnection(asyncio.Protocol):
    """One pipelined connection to Redis; use :meth:`open`, then :meth:`execute`."""

    def __init__(self) -> None:
        import hiredis

        self._reader = hiredis.Reader()
        self._pending: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._transport: asyncio.Transport | None = None
        self._lost: BaseException | None = None

    @classmethod
    async def open(cls, url: str) -> RespConnection:
        """Connect to the Redis of ``url`` (``redis://[user:password@]host:port/db``),
        authenticate and select the database.

        Raises:
            OSError: the server is unreachable.
            ConnectionError: AUTH or SELECT was refused.
        """
        from redis.connection import parse_url

        kw: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(
            cls, kw.get("host", "127.0.0.1"), int(kw.get("port", 6379))
        )
        setup: list[list[Arg]] = []
        if kw.get("password"):
            user = kw.get("username")
            setup.append(["AUTH", *([user] if user else []), kw["password"]])
        if int(kw.get("db", 0) or 0):
            setup.append(["SELECT", int(kw["db"])])
        if setup:
            for reply in await conn.execute(setup):
                if isinstance(reply, Exception):
                    conn.close()
                    raise ConnectionError(f"Redis refused the connection set-up: {reply}")
        return conn

    # ------------------------------------------------------------------ protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        pending = self._pending
        while (reply := reader.gets()) is not False:
            fut = pending.popleft()
            if not fut.done():
                fut.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = exc or ConnectionError("Redis closed the connection")
        self._transport = None
        while self._pending:
            fut = self._pending.popleft()
            if not fut.done():
                fut.set_exception(ConnectionError(f"Redis connection lost: {self._lost}"))

    # ------------------------------------------------------------------ use

    @property
    def is_open(self) -> bool:
        """Whether commands can be sent."""
        return self._transport is not None and self._lost is None

    def close(self) -> None:
        """Close the connection (pending commands fail with ``ConnectionError``)."""
        if self._transport is not None:
            self._transport.close()

    async def execute(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        """Send ``commands`` in one write and return their replies in order.

        Raises:
            ConnectionError: the connection is (or gets) lost.
        """
        return await self.execute_encoded(
            b"".join([encode_command(c) for c in commands]), len(commands)
        )

    async def execute_encoded(self, payload: bytes, count: int) -> list[Any]:
        """Send ``count`` commands already encoded (:func:`encode_command`) as
        ``payload``, e.g. a long command built once and sent again and again; return
        their replies in order.

        Raises:
            ConnectionError: the connection is (or gets) lost.
        """
        transport = self._transport
        if transport is None or self._lost is not None:
            raise ConnectionError(f"Redis connection lost: {self._lost}")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in range(count)]
        self._pending.extend(futures)
        transport.write(payload)
        return list(await asyncio.gather(*futures))
