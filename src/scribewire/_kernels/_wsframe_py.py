"""Pure-Python twin of the WebSocket client frame kernel (native twin: ``_wsframe_c``).

A client sends every WebSocket frame masked (RFC 6455 §5.1). The frame written here is
one unfragmented binary message (RFC 6455 §5.2, §5.6): ``0x82`` (FIN, opcode 0x2), the
MASK bit with the payload length (7 bits; or 126 and a 16-bit length; or 127 and a
64-bit length, network byte order), the 4-byte masking key, then the payload with octet
``i`` XORed with key octet ``i % 4`` (§5.3).

Masking keys must be unpredictable, drawn from a strong source of entropy (RFC 6455
§5.3, §10.3). :class:`ClientFramer` draws them from ``os.urandom`` in blocks of
:data:`KEY_POOL_NBYTES` bytes (1,024 keys per system call) instead of one call per
frame, and never uses a key twice.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator

import numpy as np

from ._buffers import contiguous_bytes
from ._eventstream_py import encode_audio_events

__all__ = ["KEY_POOL_NBYTES", "ClientFramer", "encode_binary_frame"]

#: Bytes of entropy drawn at a time for masking keys (1,024 keys of 4 bytes).
KEY_POOL_NBYTES = 4096

_LEN16 = struct.Struct("!BBH")
_LEN64 = struct.Struct("!BBQ")


def _contiguous(payload: object) -> memoryview:
    return contiguous_bytes(payload, "payload")


def _frame(m: memoryview, key: bytes) -> bytes:
    n = m.nbytes
    if n < 126:
        head = bytes((0x82, 0x80 | n))
    elif n < 65536:
        head = _LEN16.pack(0x82, 0x80 | 126, n)
    else:
        head = _LEN64.pack(0x82, 0x80 | 127, n)
    return head + key + xor_mask(m, key)


def xor_mask(data: bytes | memoryview, key: bytes) -> bytes:
    """``data`` with octet ``i`` XORed with ``key[i % 4]`` (RFC 6455 §5.3: masking and
    unmasking are the same operation)."""
    # four octets at a time (payload octet i meets key octet i % 4), then the tail
    words = len(data) // 4
    body: bytes = (
        np.frombuffer(data, np.uint32, count=words) ^ np.frombuffer(key, np.uint32)[0]
    ).tobytes()
    tail = data[4 * words :]
    if tail:
        body += bytes(b ^ k for b, k in zip(tail, key[: len(tail)], strict=True))
    return body


def encode_binary_frame(payload: object, mask_key: object) -> bytes:
    """One masked client frame holding ``payload`` as a whole binary message.

    Args:
        payload: any C-contiguous buffer; its raw bytes are the message (any length,
            empty allowed).
        mask_key: the 4-byte masking key (RFC 6455 §5.3: it must be unpredictable; use
            :class:`ClientFramer` to draw keys).

    Returns:
        The frame: 6, 8 or 14 header bytes (length < 126, < 65,536, or larger), then the
        masked payload.

    Raises:
        TypeError: ``payload`` or ``mask_key`` is not a bytes-like object, or ``payload``
            is not C-contiguous.
        ValueError: ``mask_key`` is not exactly 4 bytes.
    """
    m = _contiguous(payload)
    key = bytes(_contiguous(mask_key))
    if len(key) != 4:
        raise ValueError(f"mask_key must be 4 bytes, not {len(key)}")
    return _frame(m, key)


class ClientFramer:
    """Frames client binary messages, each with a fresh masking key.

    Keys are consecutive 4-byte pieces of ``urandom(KEY_POOL_NBYTES)`` blocks; a new
    block is drawn when one is used up. One framer may serve many connections: a key is
    never handed out twice.

    Args:
        urandom: the entropy source, called as ``urandom(nbytes)`` and returning that
            many bytes; ``os.urandom`` unless a test needs known keys.
    """

    __slots__ = ("_keys", "_urandom")

    def __init__(self, urandom: Callable[[int], bytes] = os.urandom) -> None:
        self._urandom = urandom
        self._keys: Iterator[bytes] = iter(())

    def _draw(self) -> Iterator[bytes]:
        block = self._urandom(KEY_POOL_NBYTES)
        if not isinstance(block, bytes):
            raise TypeError(f"urandom() must return bytes, not {type(block).__name__}")
        if len(block) != KEY_POOL_NBYTES:
            raise ValueError(f"urandom({KEY_POOL_NBYTES}) returned {len(block)} bytes")
        return iter([block[i : i + 4] for i in range(0, KEY_POOL_NBYTES, 4)])

    def audio_event_frames(self, audio: object, nbytes: int) -> list[bytes]:
        """Frame audio as consecutive AudioEvents of ``nbytes`` each, every one in its
        own masked client frame: ``binary_frame(m)`` for each ``m`` of
        ``eventstream.encode_audio_events(audio, nbytes)`` (the native twin writes both
        framings in one pass per frame).

        Args:
            audio: any C-contiguous buffer of audio in the stream's media encoding (for
                ``pcm``: int16 little-endian, channels interleaved). Empty gives ``[]``.
            nbytes: audio bytes per AudioEvent, >= 1; the last event holds the remainder.

        Returns:
            One frame per AudioEvent (104 bytes of event-stream overhead and 8 bytes of
            WebSocket header per event for events under 65,416 audio bytes).

        Raises:
            TypeError: ``audio`` is not a C-contiguous bytes-like object.
            ValueError: ``nbytes`` < 1, or a bad entropy source (see ``binary_frame``).
            MessageTooLarge: an event would carry more than 24 MiB.
        """
        if nbytes < 1:
            raise ValueError(f"nbytes must be >= 1, got {nbytes}")
        return [self.binary_frame(m) for m in encode_audio_events(_contiguous(audio), nbytes)]

    def binary_frame(self, payload: object) -> bytes:
        """One masked client frame holding ``payload`` as a whole binary message.

        Args:
            payload: any C-contiguous buffer (any length, empty allowed).

        Returns:
            The frame, as :func:`encode_binary_frame` with the next key.

        Raises:
            TypeError: ``payload`` is not a C-contiguous bytes-like object, or the
                entropy source returned something other than ``bytes``.
            ValueError: the entropy source returned other than ``KEY_POOL_NBYTES`` bytes.
        """
        m = _contiguous(payload)
        # next() on a list iterator is atomic under the GIL: threads never share a key
        key = next(self._keys, None)
        if key is None:
            self._keys = self._draw()
            key = next(self._keys)
        return _frame(m, key)
