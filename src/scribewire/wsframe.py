"""WebSocket frames (RFC 6455 §5): the client's masked messages, the server's reader and frames.

Public API; each implementation is the native twin unless ``SCRIBEWIRE_NO_EXTENSIONS`` is
set or it is unavailable, then the pure twin. ``IMPLEMENTATION`` says which (``"c"`` or
``"py"``) serves the client side (``_wsframe_c`` / ``_wsframe_py``),
``SERVER_IMPLEMENTATION`` which serves the server side (``_wsserver_c`` / ``_wsserver_py``,
one source compiled in Cython's pure-Python mode).

Client side: the streaming client frames each AudioEvent with
:meth:`ClientFramer.binary_frame` and writes the frame to the socket itself, instead of
going through ``websockets``' per-frame send path (a ``Frame`` object, a ``getrandom``
system call for each masking key, and the masking and joins in Python).

Server side: the local services read client frames with :class:`FrameReader` (masking
required, unmasked, fragments reassembled, control frames handed back, every RFC 6455
rule checked, size limit applied from the frame header) and build their frames with
:func:`encode_frame` and :func:`encode_close`, instead of ``websockets``' receive path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._kernels import _impl

if TYPE_CHECKING:
    from ._kernels._wsframe_py import KEY_POOL_NBYTES, ClientFramer, encode_binary_frame
    from ._kernels._wsserver_py import (
        DEFAULT_MAX_MESSAGE_NBYTES,
        OP_BINARY,
        OP_CLOSE,
        OP_CONTINUATION,
        OP_PING,
        OP_PONG,
        OP_TEXT,
        FrameReader,
        encode_close,
        encode_frame,
    )

    IMPLEMENTATION: str
    SERVER_IMPLEMENTATION: str
else:
    _mod = _impl.load("wsframe")
    KEY_POOL_NBYTES = _mod.KEY_POOL_NBYTES
    ClientFramer = _mod.ClientFramer
    encode_binary_frame = _mod.encode_binary_frame
    IMPLEMENTATION = "c" if _mod.__name__.endswith("_c") else "py"
    _srv = _impl.load("wsserver")
    DEFAULT_MAX_MESSAGE_NBYTES = _srv.DEFAULT_MAX_MESSAGE_NBYTES
    OP_CONTINUATION = _srv.OP_CONTINUATION
    OP_TEXT = _srv.OP_TEXT
    OP_BINARY = _srv.OP_BINARY
    OP_CLOSE = _srv.OP_CLOSE
    OP_PING = _srv.OP_PING
    OP_PONG = _srv.OP_PONG
    FrameReader = _srv.FrameReader
    encode_close = _srv.encode_close
    encode_frame = _srv.encode_frame
    SERVER_IMPLEMENTATION = "c" if _srv.__name__.endswith("_c") else "py"

__all__ = [
    "DEFAULT_MAX_MESSAGE_NBYTES",
    "IMPLEMENTATION",
    "KEY_POOL_NBYTES",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONTINUATION",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "SERVER_IMPLEMENTATION",
    "ClientFramer",
    "FrameReader",
    "encode_binary_frame",
    "encode_close",
    "encode_frame",
]
