# cython: annotation_typing=False
"""The server side of WebSocket framing (RFC 6455 §5), sans-I/O, one source for both twins.

One file, two modules (as the pacer, ``transport/_pacing_py.py``): imported as it is this
is the pure twin ``_wsserver_py``; setup.py copies it with ``_wsserver_py.pxd`` to
``_wsserver_c`` and Cython compiles it in pure-Python mode, the ``.pxd`` adding the C
types. The only code that differs is ``_unmask``: the native twin's (in the ``.pxd``) runs the
C kernel of ``csrc/wsframe.h``; the pure twin's, defined under ``if not cython.compiled:``,
XORs with numpy (``_wsframe_py.xor_mask``).

:class:`FrameReader` takes the bytes a client sends after the opening handshake, in any
split, and hands back whole messages and control frames:

- every client frame must be masked (§5.1, §5.3) and is unmasked here;
- RSV1-3 must be 0: no extension is negotiated (§5.2);
- opcodes 0x3-0x7 and 0xB-0xF are reserved (§5.2);
- control frames (close, ping, pong) carry at most 125 bytes and are never fragmented
  (§5.5); they may come between the fragments of a message (§5.4);
- a fragmented message is a text or binary frame without FIN, then continuation frames,
  the last with FIN (§5.4); a continuation with no message open, or a new message
  before the open one ends, is a protocol error;
- a 64-bit length has its most significant bit 0 (§5.2);
- a message larger than ``max_message_nbytes`` is refused from the header that
  announces it (the total so far plus this frame's length), before its payload is read;
- a text message (and a close reason) is valid UTF-8 (§5.6, §8.1: else close 1007);
- a close frame's body is empty or a 2-byte status code, which must be one an endpoint
  may send (§7.4.1, §7.4.2: 1000-1003, 1007-1014, 3000-4999), then a UTF-8 reason.
  After a close frame nothing more is read (§5.5.1).

A fault raises :class:`~scribewire.errors.WebSocketProtocolError` carrying the close code
to fail the connection with (1002, 1007 or 1009, §7.4.1), after the messages before the
bad bytes have been appended to ``out``; the reader then ignores further input.
Non-minimal length encodings are accepted (as most servers do).

Memory: at most one header (14 bytes), the payload of the frame being read and the
fragments of the open message are buffered, each bounded by ``max_message_nbytes``
(control frames by 125 bytes).

:func:`encode_frame` and :func:`encode_close` build server frames: never masked (§5.1),
FIN set, 2, 4 or 10 header bytes.
"""

from __future__ import annotations

import struct

try:
    import cython  # type: ignore[import-not-found, import-untyped, unused-ignore]
except ImportError:  # Cython builds the native twin; the pure one runs without it
    globals()["cython"] = type("cython", (), {"compiled": False})

from ..errors import WebSocketProtocolError

if not cython.compiled:
    from ._wsframe_py import xor_mask

    def _unmask(data: bytes, start: int, n: int, key: int) -> bytes:
        """``data[start:start + n]`` XOR the 4-byte key at ``data[key:]`` (§5.3)."""
        return xor_mask(data[start : start + n], data[key : key + 4])


__all__ = [
    "DEFAULT_MAX_MESSAGE_NBYTES",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONTINUATION",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameReader",
    "encode_close",
    "encode_frame",
]

#: Opcodes (RFC 6455 §5.2).
OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

#: The message size limit of a new :class:`FrameReader`, bytes (1 MiB).
DEFAULT_MAX_MESSAGE_NBYTES = 2**20

_READING = 0
_CLOSED = 1  # a close frame was read: nothing more is
_FAILED = 2  # a protocol error was raised: nothing more is

_LEN16 = struct.Struct("!BBH")
_LEN64 = struct.Struct("!BBQ")
_CODE = struct.Struct("!H")


def _close_code_ok(code: int) -> bool:
    """Whether an endpoint may send ``code`` in a close frame (RFC 6455 §7.4.1-§7.4.2;
    1012-1014 registered with IANA since). 1004 is reserved; 1005, 1006 and 1015 are
    never sent on the wire."""
    return (1000 <= code <= 1003) or (1007 <= code <= 1014) or (3000 <= code <= 4999)


def _fail(reader: FrameReader, message: str, code: int) -> None:
    reader._state = _FAILED
    reader._frags = []
    reader._partial = None
    raise WebSocketProtocolError(message, code)


class FrameReader:
    """Parses the frames a WebSocket client sends (server side, RFC 6455 §5).

    Args:
        max_message_nbytes: the largest message accepted, bytes (after reassembly of
            its fragments); more gives close code 1009 from the announcing header.
            Settable at any time (the new limit applies to the next frame header).

    Raises:
        ValueError: ``max_message_nbytes`` < 0.
    """

    def __init__(self, max_message_nbytes: int = DEFAULT_MAX_MESSAGE_NBYTES) -> None:
        self.max_message_nbytes = max_message_nbytes
        self._state = _READING
        self._head = b""  # bytes of a frame header not complete yet (< 14)
        self._partial: bytearray | None = None  # masked payload of the frame being read
        self._filled = 0  # bytes of _partial received
        self._key = b""  # masking key of that frame
        self._opcode = 0  # opcode and FIN of that frame
        self._fin = False
        self._frags: list[bytes] = []  # payloads of the open fragmented message
        self._frag_opcode = 0  # its opcode (text or binary); 0: none open
        self._frag_nbytes = 0  # bytes in _frags

    @property
    def max_message_nbytes(self) -> int:
        """The largest message accepted, bytes."""
        return self._max

    @max_message_nbytes.setter
    def max_message_nbytes(self, value: int) -> None:
        if value < 0:
            raise ValueError(f"max_message_nbytes must be >= 0, got {value}")
        self._max = value

    @property
    def closed(self) -> bool:
        """True once a close frame has been read (nothing after it is)."""
        return self._state == _CLOSED

    @property
    def buffered_nbytes(self) -> int:
        """Bytes held for a frame or message not complete yet."""
        n = len(self._head) + self._frag_nbytes
        if self._partial is not None:
            n += self._filled
        return n

    def feed(self, data: bytes, out: list[tuple[int, object]]) -> None:
        """Parse ``data`` (the next bytes from the client, any split) into ``out``.

        Appends one ``(opcode, payload)`` pair per complete message or control frame, in
        order: ``(OP_BINARY, bytes)``, ``(OP_TEXT, str)``, ``(OP_PING, bytes)``,
        ``(OP_PONG, bytes)``, ``(OP_CLOSE, (code, reason))`` (code 1005 when the close
        frame has no body, §7.1.5). After a close frame, or a fault, input is ignored.

        Args:
            data: ``bytes`` (a ``bytearray`` or ``memoryview`` is copied once).
            out: the list to append to.

        Raises:
            WebSocketProtocolError: the frames break RFC 6455 (see the module docstring;
                ``close_code`` 1002, 1007 or 1009). The messages before the fault are in
                ``out``.
        """
        if self._state != _READING:
            return
        chunk = data if type(data) is bytes else bytes(data)
        end = len(chunk)
        pos = 0
        if self._partial is not None:
            pos = self._fill(chunk, out)
            if self._partial is not None or self._state != _READING:
                return
        elif self._head:
            chunk = self._head + chunk
            self._head = b""
            end = len(chunk)
        while pos < end:
            if end - pos < 2:
                self._head = chunk[pos:]
                return
            b0 = chunk[pos]
            b1 = chunk[pos + 1]
            if b0 & 0x70:
                _fail(self, "reserved bits set; no extension was negotiated (RFC 6455 §5.2)", 1002)
            if not b1 & 0x80:
                _fail(self, "client frame not masked (RFC 6455 §5.1)", 1002)
            opcode = b0 & 0x0F
            fin = bool(b0 & 0x80)
            n = b1 & 0x7F
            hlen = 6
            if n == 126:
                hlen = 8
            elif n == 127:
                hlen = 14
            if end - pos < hlen:
                self._head = chunk[pos:]
                return
            if n == 126:
                n = (chunk[pos + 2] << 8) | chunk[pos + 3]
            elif n == 127:
                if chunk[pos + 2] & 0x80:
                    _fail(self, "64-bit payload length with its top bit set (RFC 6455 §5.2)", 1002)
                n = 0
                for i in range(pos + 2, pos + 10):
                    n = (n << 8) | chunk[i]
            self._check(opcode, fin, n)
            key = pos + hlen - 4
            start = pos + hlen
            if end - start < n:  # the payload continues in later chunk
                buf = bytearray(n)
                buf[: end - start] = chunk[start:end]
                self._partial = buf
                self._filled = end - start
                self._key = chunk[key : key + 4]
                self._opcode = opcode
                self._fin = fin
                return
            pos = start + n
            self._frame(opcode, fin, _unmask(chunk, start, n, key), out)
            if self._state != _READING:
                return

    def _check(self, opcode: int, fin: bool, n: int) -> None:
        """The header rules of one frame of ``n`` payload bytes (before its payload)."""
        if opcode >= 8:
            if opcode > 10:
                _fail(self, f"reserved control opcode {opcode:#x} (RFC 6455 §5.2)", 1002)
            if not fin:
                _fail(self, "fragmented control frame (RFC 6455 §5.5)", 1002)
            if n > 125:
                _fail(self, f"control frame of {n} bytes; at most 125 (RFC 6455 §5.5)", 1002)
            return
        if opcode == OP_CONTINUATION:
            if not self._frag_opcode:
                _fail(self, "continuation frame with no message to continue (RFC 6455 §5.4)", 1002)
        elif opcode <= 2:
            if self._frag_opcode:
                _fail(self, "new message before the fragmented one ended (RFC 6455 §5.4)", 1002)
        else:
            _fail(self, f"reserved data opcode {opcode:#x} (RFC 6455 §5.2)", 1002)
        if n > self._max - self._frag_nbytes:  # no overflow: both sides >= 0
            total = self._frag_nbytes + n
            limit = self._max
            why = f"message of {total} bytes or more exceeds the limit of {limit} bytes"
            _fail(self, why, 1009)

    def _fill(self, data: bytes, out: list[tuple[int, object]]) -> int:
        """Move the next bytes of ``data`` into the frame being read; returns the offset of
        the first byte not taken. A complete frame is handed on."""
        buf = self._partial
        assert buf is not None
        n = len(buf)
        take = min(n - self._filled, len(data))
        buf[self._filled : self._filled + take] = data[:take]
        self._filled += take
        if self._filled < n:
            return take
        self._partial = None
        framed = self._key + bytes(buf)
        self._frame(self._opcode, self._fin, _unmask(framed, 4, n, 0), out)
        return take

    def _frame(self, opcode: int, fin: bool, payload: bytes, out: list[tuple[int, object]]) -> None:
        """Act on one whole, unmasked frame."""
        if opcode == OP_BINARY and fin:  # the common case first
            out.append((OP_BINARY, payload))
            return
        if opcode >= 8:
            if opcode == OP_CLOSE:
                out.append((OP_CLOSE, self._close(payload)))
                self._state = _CLOSED
                self._frags = []
            else:
                out.append((opcode, payload))
            return
        if opcode != OP_CONTINUATION:
            if fin:
                out.append((opcode, self._message(opcode, payload)))
                return
            self._frag_opcode = opcode
            self._frags = [payload]
            self._frag_nbytes = len(payload)
            return
        self._frags.append(payload)
        self._frag_nbytes += len(payload)
        if fin:
            whole = b"".join(self._frags)
            op = self._frag_opcode
            self._frags = []
            self._frag_opcode = 0
            self._frag_nbytes = 0
            out.append((op, self._message(op, whole)))

    def _message(self, opcode: int, payload: bytes) -> object:
        if opcode == OP_BINARY:
            return payload
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            _fail(self, "text message not valid UTF-8 (RFC 6455 §8.1)", 1007)
        return None  # unreachable: _fail raises

    def _close(self, payload: bytes) -> tuple[int, str]:
        n = len(payload)
        if n == 0:
            return (1005, "")  # no status code (RFC 6455 §7.1.5)
        if n == 1:
            _fail(self, "close frame with a 1-byte body (RFC 6455 §5.5.1)", 1002)
        code = (payload[0] << 8) | payload[1]
        if not _close_code_ok(code):
            _fail(self, f"close code {code} may not be sent (RFC 6455 §7.4)", 1002)
        try:
            reason = payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            _fail(self, "close reason not valid UTF-8 (RFC 6455 §5.5.1)", 1007)
            reason = ""  # unreachable: _fail raises
        return (code, reason)


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked server frame with FIN set (RFC 6455 §5.2; a server never masks, §5.1).

    Args:
        opcode: ``OP_TEXT``, ``OP_BINARY``, ``OP_CLOSE``, ``OP_PING`` or ``OP_PONG``.
        payload: the payload bytes (text: UTF-8 encoded by the caller).

    Returns:
        The frame: 2, 4 or 10 header bytes (length < 126, < 65,536, or larger), then
        ``payload``.

    Raises:
        ValueError: an opcode that is not one of those, or a control frame over 125 bytes.
    """
    if opcode not in (1, 2, 8, 9, 10):
        raise ValueError(f"opcode must be 0x1, 0x2, 0x8, 0x9 or 0xA, got {opcode!r}")
    n = len(payload)
    if opcode >= 8 and n > 125:
        raise ValueError(f"control frame payload of {n} bytes; at most 125 (RFC 6455 §5.5)")
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return _LEN16.pack(0x80 | opcode, 126, n) + payload
    return _LEN64.pack(0x80 | opcode, 127, n) + payload


def encode_close(code: int, reason: str = "") -> bytes:
    """A server close frame with status ``code`` and ``reason`` (RFC 6455 §5.5.1).

    The reason is cut, at a character boundary, to the 123 bytes a close frame has room
    for.

    Raises:
        ValueError: ``code`` is not one an endpoint may send (§7.4).
    """
    if not _close_code_ok(code):
        raise ValueError(f"close code {code} may not be sent (RFC 6455 §7.4)")
    data = reason.encode("utf-8")
    if len(data) > 123:
        data = data[:123].decode("utf-8", "ignore").encode("utf-8")
    return encode_frame(OP_CLOSE, _CODE.pack(code) + data)
