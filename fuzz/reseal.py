"""Recompute event-stream CRCs so that byte mutations reach the deeper checks.

Shared by the atheris harness (``fuzz_eventstream.py``) and the hypothesis version of
the same rule in the test suite. Standard library only.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["reseal"]


def reseal(data: bytes | bytearray) -> bytes:
    """``data`` with the CRCs of each message its lengths announce recomputed.

    Walks the stream message by message: each prelude CRC is recomputed, and each
    message CRC too when ``16 <= total_length`` and the message fits in ``data``; the
    walk stops at the first message that does not (protocol.md §1.1 layout).
    """
    out = bytearray(data)
    pos = 0
    while len(out) - pos >= 12:
        total = struct.unpack_from(">I", out, pos)[0]
        struct.pack_into(">I", out, pos + 8, zlib.crc32(out[pos : pos + 8]))
        if total < 16 or pos + total > len(out):
            break
        struct.pack_into(">I", out, pos + total - 4, zlib.crc32(out[pos : pos + total - 4]))
        pos += total
    return bytes(out)
