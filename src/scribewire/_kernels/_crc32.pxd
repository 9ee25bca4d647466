# Declarations of the hand-written CRC32 kernel (csrc/crc32.h), shared by the
# native modules that link csrc/crc32.c (_crc32_c, _eventstream_c).

from libc.stdint cimport uint8_t, uint32_t


cdef extern from "crc32.h" nogil:
    enum:
        SW_CRC32_AUTO
        SW_CRC32_TABLE
        SW_CRC32_PCLMUL
        SW_CRC32_VPCLMUL
        SW_CRC32_ARMV8
        SW_CRC32_NPATHS
    void sw_crc32_init()
    uint32_t sw_crc32(uint32_t crc, const uint8_t *p, size_t n)
    const char *sw_crc32_impl_name()
    const char *sw_crc32_path_name(int path)
    int sw_crc32_path_available(int path)
    int sw_crc32_force_path(int path)
    uint32_t sw_crc32_with(int path, uint32_t crc, const uint8_t *p, size_t n)


cdef inline int crc32_setup() except -1:
    """Detect the CPU, then honour ``SCRIBEWIRE_CRC32_PATH`` (a path name, or "auto")."""
    import os

    sw_crc32_init()
    wanted = os.environ.get("SCRIBEWIRE_CRC32_PATH", "").strip().lower()
    if not wanted:
        return 0
    cdef int path
    for path in range(SW_CRC32_NPATHS):
        if sw_crc32_path_name(path).decode() == wanted:
            if sw_crc32_force_path(path) != 0:
                raise ValueError(
                    f"SCRIBEWIRE_CRC32_PATH={wanted!r}: this CPU cannot run that CRC32 path"
                )
            return 0
    names = []
    for path in range(SW_CRC32_NPATHS):
        names.append(sw_crc32_path_name(path).decode())
    raise ValueError(f"SCRIBEWIRE_CRC32_PATH={wanted!r} is not one of: {', '.join(names)}")
