"""One WebSocket connection of a stream: connect, map handshake failures, keep flags.

:func:`open_connection` opens a ``websockets`` client connection (no compression, no
pings: the providers' keepalive is audio; the stream paces its own writes) and maps every
failure to a typed error: a refused upgrade to
:class:`~scribewire.errors.HandshakeRejected` (HTTP status and a redacted body), an
unreachable endpoint or a timeout to :class:`~scribewire.errors.ConnectionClosed`. The URL
in a message never carries its query (where presigned credentials live).

:class:`Connection` keeps its stream's ``_writable`` flag current (True while the
WebSocket is OPEN and the transport has not paused writing): the flag changes only in
these callbacks (the transport pauses or resumes writing, data arrives, the connection is
lost), so the pacer reads one attribute per message. Every other way out of OPEN goes
through the stream's ``_fail`` first, which clears the flag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.protocol import State

from ..errors import ConnectionClosed, HandshakeRejected
from ..redact import install_log_redaction

__all__ = ["Connection", "ConnectionOwner", "open_connection"]

_OPEN = State.OPEN

#: Largest message accepted from a service, bytes (results are small; this bounds memory).
MAX_MESSAGE_NBYTES = 2**20


class ConnectionOwner(Protocol):
    """What a :class:`Connection` keeps informed (the stream)."""

    _writable: bool
    _error: BaseException | None
    _rolling: bool

    def _transport_dirty(self) -> None: ...

    def _detach(self) -> None: ...


class Connection(ClientConnection):
    """``websockets``' client connection that keeps its owner's ``_writable`` current."""

    owner: ConnectionOwner | None = None

    def _update(self) -> None:
        owner = self.owner
        if owner is not None:
            owner._writable = (
                owner._error is None
                and self.protocol.state is _OPEN
                and not self.paused
                and not owner._rolling
            )

    def pause_writing(self) -> None:
        super().pause_writing()
        self._update()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._update()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # may write (a pong, a close frame) to the transport
        owner = self.owner
        if owner is not None:
            owner._transport_dirty()
        self._update()

    def connection_lost(self, exc: Exception | None) -> None:
        owner = self.owner
        if owner is not None:
            owner._detach()  # before the transport closes the socket
        super().connection_lost(exc)
        self._update()

    @property
    def is_open(self) -> bool:
        """True while the WebSocket is OPEN."""
        return self.protocol.state is _OPEN

    @property
    def is_closed(self) -> bool:
        """True once the WebSocket is CLOSED."""
        return self.protocol.state is State.CLOSED

    def abort(self) -> None:
        """Drop the TCP connection now (no close handshake)."""
        self.owner = None
        if self.protocol.state is not State.CLOSED:
            self.transport.abort()


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]


async def open_connection(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    open_timeout: float,
    write_limit: int,
    user_agent: str,
    max_queue: int = 16,
) -> Connection:
    """Open a WebSocket to ``url``.

    Args:
        url: ``ws://`` or ``wss://`` URL (its query may hold presigned credentials).
        headers: extra request headers (e.g. a provider's ``Authorization``).
        open_timeout: seconds for the TCP connect, TLS and the upgrade.
        write_limit: bytes the transport may buffer before writing pauses.
        user_agent: the ``User-Agent`` header.
        max_queue: messages ``websockets`` buffers before it stops reading the socket
            (TCP backpressure to the peer).

    Raises:
        HandshakeRejected: the upgrade was refused with an HTTP status.
        ConnectionClosed: unreachable, refused, timed out, or a malformed upgrade.
    """
    install_log_redaction()  # websockets' DEBUG lines carry the presigned URL: mask it
    try:
        conn = await connect(
            url,
            additional_headers=dict(headers) if headers else None,
            create_connection=Connection,
            compression=None,
            ping_interval=None,
            ping_timeout=None,
            open_timeout=open_timeout,
            close_timeout=2.0,
            write_limit=write_limit,
            max_size=MAX_MESSAGE_NBYTES,
            max_queue=max_queue,
            user_agent_header=user_agent,
        )
    except InvalidStatus as exc:
        response = exc.response
        body = bytes(response.body or b"").decode("utf-8", "replace")[:500]
        raise HandshakeRejected(response.status_code, body) from None
    except InvalidHandshake as exc:
        raise ConnectionClosed(None, f"WebSocket upgrade failed: {type(exc).__name__}") from None
    except (OSError, asyncio.TimeoutError) as exc:
        why = "timed out" if isinstance(exc, asyncio.TimeoutError) else (exc.strerror or str(exc))
        raise ConnectionClosed(None, f"cannot connect to {_without_query(url)}: {why}") from None
    assert isinstance(conn, Connection)  # create_connection made it
    return conn
