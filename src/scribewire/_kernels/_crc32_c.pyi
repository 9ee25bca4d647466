"""Type stub for the native CRC32 kernel (see ``_crc32_py`` for the pure twin)."""

from typing_extensions import Buffer

__all__ = ["IMPLEMENTATION", "crc32"]  # PATHS, GIL_RELEASE_NBYTES: native-only extras

IMPLEMENTATION: str
PATHS: tuple[str, ...]
GIL_RELEASE_NBYTES: int

def crc32(data: Buffer, value: int = 0) -> int: ...
def _crc32_with(path: str, data: Buffer, value: int = 0) -> int: ...
