"""Value types shared by both event-stream twins (protocol.md §1.3).

Header values decode to Python objects whose type says the wire type, so that a
decoded message re-encodes to the same bytes:

=========  ==========================  ==========================
type byte  wire                        Python
=========  ==========================  ==========================
0 / 1      bool true / false           ``bool``
2          byte (int8)                 ``Byte`` (an ``int``)
3          short (int16 BE)            ``Short`` (an ``int``)
4          integer (int32 BE)          ``Integer`` (an ``int``)
5          long (int64 BE)             ``Long`` (an ``int``)
6          byte_array (u16 len)        ``bytes``
7          string (u16 len, UTF-8)     ``str``
8          timestamp (int64 ms)        ``Timestamp`` (an ``int``, milliseconds since the epoch)
9          uuid (16 bytes)             ``uuid.UUID``
=========  ==========================  ==========================

A plain ``int`` encodes as integer (type 4) when it fits in int32, else as long (type 5).
"""

from __future__ import annotations

import enum
import uuid

import msgspec

__all__ = [
    "Byte",
    "HeaderType",
    "HeaderValue",
    "Integer",
    "Long",
    "Message",
    "Short",
    "Timestamp",
    "DEFAULT_MAX_HEADERS_LENGTH",
    "DEFAULT_MAX_PAYLOAD_LENGTH",
    "PRELUDE_LENGTH",
    "MIN_MESSAGE_LENGTH",
    "MAX_HEADER_VALUE_LENGTH",
]

#: Bytes of total_length + headers_length + prelude CRC (protocol.md §1.1).
PRELUDE_LENGTH = 12
#: The smallest legal message: prelude + message CRC (protocol.md §1.1).
MIN_MESSAGE_LENGTH = 16
#: Headers section limit, 128 KiB (SPEC, protocol.md §1.4).
DEFAULT_MAX_HEADERS_LENGTH = 131_072
#: Payload limit, 24 MiB (SPEC, protocol.md §1.4).
DEFAULT_MAX_PAYLOAD_LENGTH = 25_165_824
#: Longest string / byte-array value an encoder may emit (protocol.md §1.3).
MAX_HEADER_VALUE_LENGTH = 32_767


class HeaderType(enum.IntEnum):
    """Header value type bytes (protocol.md §1.3, Smithy event-stream spec)."""

    BOOL_TRUE = 0
    BOOL_FALSE = 1
    BYTE = 2
    SHORT = 3
    INTEGER = 4
    LONG = 5
    BYTE_ARRAY = 6
    STRING = 7
    TIMESTAMP = 8
    UUID = 9


class _Sized(int):
    bits = 64
    type_byte = HeaderType.LONG

    def __new__(cls, value: int = 0) -> _Sized:
        value = int(value)
        lo = -(1 << (cls.bits - 1))
        hi = (1 << (cls.bits - 1)) - 1
        if not lo <= value <= hi:
            raise OverflowError(f"{cls.__name__} value {value} outside {lo}..{hi}")
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({int(self)})"


class Byte(_Sized):
    """A signed 8-bit header value (type 2)."""

    bits = 8
    type_byte = HeaderType.BYTE


class Short(_Sized):
    """A signed 16-bit header value (type 3)."""

    bits = 16
    type_byte = HeaderType.SHORT


class Integer(_Sized):
    """A signed 32-bit header value (type 4)."""

    bits = 32
    type_byte = HeaderType.INTEGER


class Long(_Sized):
    """A signed 64-bit header value (type 5)."""

    bits = 64
    type_byte = HeaderType.LONG


class Timestamp(_Sized):
    """A timestamp header value (type 8): signed int64 **milliseconds** since 1970-01-01 UTC."""

    bits = 64
    type_byte = HeaderType.TIMESTAMP


HeaderValue = bool | Byte | Short | Integer | Long | int | bytes | str | Timestamp | uuid.UUID


class Message(msgspec.Struct, frozen=True):
    """One decoded event-stream message.

    Attributes:
        headers: header name -> value, in wire order (see the module table for types).
        payload: the payload bytes (may be empty).
    """

    headers: dict[str, HeaderValue]
    payload: bytes
