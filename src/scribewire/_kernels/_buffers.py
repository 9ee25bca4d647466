"""Flat byte views of caller buffers, checked once where audio enters the package.

Every public call that takes audio (the pure kernel twins, the resampler, the session and
the client) accepts any object exporting the buffer protocol (``bytes``, ``bytearray``,
``memoryview``, ``array.array``, numpy arrays) and works on a flat, C-contiguous,
unsigned-byte ``memoryview`` of it: zero copies, one format/layout check at the edge.
"""

from __future__ import annotations

from ..errors import AudioFormatError, AudioTypeError

__all__ = [
    "BYTE_FORMATS",
    "FLOAT32_FORMATS",
    "INT16_FORMATS",
    "acquire",
    "byte_view",
    "contiguous_bytes",
    "flat_bytes",
]

#: struct item formats of one-byte items: always accepted (the buffer is raw bytes)
BYTE_FORMATS = frozenset({"B", "b", "c"})
#: struct item formats of int16 samples (native-endian or explicitly little-endian)
INT16_FORMATS = frozenset({"h", "<h", "=h", "@h"})
#: struct item formats of float32 samples
FLOAT32_FORMATS = frozenset({"f", "<f", "=f", "@f"})


def acquire(data: object, name: str, what: str) -> memoryview:
    """A ``memoryview`` of ``data``, any shape and layout.

    Args:
        data: an object exporting the buffer protocol (``str`` does not).
        name: the argument's name, for the message (``"data"``, ``"audio"``).
        what: what it should hold, for the message (``"int16 PCM"``).

    Raises:
        AudioTypeError: ``data`` does not export the buffer protocol.
    """
    try:
        return memoryview(data)  # type: ignore[arg-type]  # any object: checked here
    except TypeError:
        raise AudioTypeError(
            f"{name} must be a bytes-like object ({what}), not {type(data).__name__}"
        ) from None


def flat_bytes(m: memoryview) -> memoryview:
    """A 1-D unsigned-byte view of the C-contiguous ``m`` (``m`` itself if it is one).

    Zero-size views of any shape give an empty view (``memoryview.cast`` refuses shapes
    with a zero in them).
    """
    if m.ndim == 1 and m.format == "B":
        return m
    if m.nbytes == 0:
        return memoryview(b"")
    return m.cast("B")


def contiguous_bytes(data: object, name: str) -> memoryview:
    """A flat unsigned-byte view of any C-contiguous buffer, for the protocol kernels.

    The pure event-stream and WebSocket twins take payloads through this; their native
    twins (``_bufview.pxd``) raise the same errors. A zero-size buffer of any shape is an
    empty payload.

    Raises:
        TypeError: ``data`` is not a buffer, or not C-contiguous.
    """
    m = memoryview(data)  # type: ignore[arg-type]  # TypeError: not a buffer
    if not m.c_contiguous:
        raise TypeError(f"{name} must be a C-contiguous buffer")
    return flat_bytes(m)


def byte_view(
    data: object,
    name: str,
    what: str,
    *,
    formats: frozenset[str] | None = None,
    layout_error: type[AudioFormatError] = AudioFormatError,
) -> memoryview:
    """A flat unsigned-byte view of ``data``, checked in this order: a buffer, its item
    format, C-contiguous.

    Args:
        data: an object exporting the buffer protocol.
        name: the argument's name, for messages.
        what: what it should hold, for messages (``"int16 PCM"``).
        formats: item formats accepted besides :data:`BYTE_FORMATS` (e.g. ``{"h", "<h"}``
            for int16); None accepts any item format.
        layout_error: the class raised for a non-contiguous buffer (AudioFormatError, or
            its subclass AudioTypeError where an API documents that).

    Returns:
        A 1-D ``"B"`` view of all ``nbytes`` of ``data`` (no copy).

    Raises:
        AudioTypeError: not a buffer, or an item format outside ``formats``.
        AudioFormatError: (``layout_error``) the buffer is not C-contiguous.
    """
    m = acquire(data, name, what)
    if formats is not None and m.format not in BYTE_FORMATS and m.format not in formats:
        raise AudioTypeError(f"{name} has item format {m.format!r}; expected {what} or bytes")
    if not m.c_contiguous:
        raise layout_error(f"{name} must be C-contiguous")
    return flat_bytes(m)
