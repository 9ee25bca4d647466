"""CRC-32 (the zlib / gzip CRC, protocol.md §1.2) with hardware folding where the CPU has it.

``crc32(data, value=0)`` has the contract of ``zlib.crc32``. ``IMPLEMENTATION`` names the
code path chosen at import (e.g. ``"vpclmulqdq"``, ``"pclmulqdq"``, ``"armv8-crc"``,
``"table"``, or ``"zlib"`` for the pure twin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._kernels import _impl

if TYPE_CHECKING:
    from ._kernels._crc32_py import IMPLEMENTATION, crc32
else:
    _mod = _impl.load("crc32")
    crc32 = _mod.crc32
    IMPLEMENTATION = _mod.IMPLEMENTATION

__all__ = ["IMPLEMENTATION", "crc32"]
