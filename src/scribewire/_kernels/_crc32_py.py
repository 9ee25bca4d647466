"""Pure-Python twin of the CRC32 kernel: ``zlib.crc32`` (CRC-32/ISO-HDLC, protocol.md §1.2)."""

from __future__ import annotations

import zlib

__all__ = ["crc32", "IMPLEMENTATION"]

#: Which CRC32 code path this module runs.
IMPLEMENTATION = "zlib"


def crc32(data: object, value: int = 0) -> int:
    """CRC-32 of ``data`` continuing from ``value``; same contract as ``zlib.crc32``.

    Args:
        data: any contiguous buffer (bytes, bytearray, memoryview, numpy array).
        value: the running CRC of the bytes before ``data`` (0 to start).

    Returns:
        The unsigned 32-bit CRC.
    """
    return zlib.crc32(data, value)  # type: ignore[arg-type]
