"""scribewire._kernels._buffers: the one place caller buffers become flat byte views."""

from __future__ import annotations

import array

import numpy as np
import pytest

from scribewire._kernels._buffers import (
    BYTE_FORMATS,
    FLOAT32_FORMATS,
    INT16_FORMATS,
    acquire,
    byte_view,
    flat_bytes,
)
from scribewire.errors import AudioFormatError, AudioTypeError

PCM = np.arange(-6, 6, dtype="<i2")


@pytest.mark.parametrize(
    "data",
    [
        PCM.tobytes(),
        bytearray(PCM.tobytes()),
        memoryview(PCM.tobytes()),
        PCM,
        PCM.reshape(-1, 2),  # interleaved stereo as a 2-D array
        array.array("h", PCM.tolist()),
        np.frombuffer(PCM.tobytes(), dtype=np.int8),
    ],
    ids=["bytes", "bytearray", "memoryview", "int16", "int16-2d", "array", "int8"],
)
def test_byte_view_is_flat_bytes_without_copy(data: object) -> None:
    m = byte_view(data, "data", "int16 PCM", formats=INT16_FORMATS)
    assert (m.ndim, m.format, m.nbytes) == (1, "B", 24)
    assert m.tobytes() == PCM.tobytes()
    if isinstance(data, np.ndarray):
        assert np.shares_memory(np.frombuffer(m, dtype=np.uint8), data)


@pytest.mark.parametrize("shape", [(0,), (0, 2), (2, 0), (0, 0, 3)])
def test_empty_arrays_of_any_shape(shape: tuple[int, ...]) -> None:
    # memoryview.cast refuses shapes with a zero; the view is empty instead
    m = byte_view(np.zeros(shape, dtype=np.int16), "audio", "int16 PCM")
    assert (m.ndim, m.format, m.nbytes) == (1, "B", 0)


def test_flat_bytes_returns_a_flat_view_itself() -> None:
    m = memoryview(b"abc")
    assert flat_bytes(m) is m
    assert flat_bytes(memoryview(PCM)).tobytes() == PCM.tobytes()


@pytest.mark.parametrize("data", ["text", None, 5, 1.5, [1, 2]], ids=repr)
def test_not_a_buffer(data: object) -> None:
    with pytest.raises(AudioTypeError, match=r"^audio must be a bytes-like object \(int16 PCM\)"):
        byte_view(data, "audio", "int16 PCM")
    with pytest.raises(TypeError):  # AudioTypeError is a TypeError as well
        acquire(data, "audio", "int16 PCM")


@pytest.mark.parametrize(
    ("data", "formats"),
    [
        (np.zeros(4, np.float32), INT16_FORMATS),
        (np.zeros(4, np.uint16), INT16_FORMATS),
        (np.zeros(4, np.int16), FLOAT32_FORMATS),
        (np.zeros(4, np.float64), FLOAT32_FORMATS),
    ],
)
def test_item_format_checked(data: np.ndarray, formats: frozenset[str]) -> None:
    with pytest.raises(AudioTypeError, match="item format"):
        byte_view(data, "data", "samples", formats=formats)
    # formats=None takes any item format
    assert byte_view(data, "data", "samples").nbytes == data.nbytes


def test_byte_formats_always_accepted() -> None:
    for fmt in BYTE_FORMATS:
        assert (
            byte_view(memoryview(b"\x01\x02").cast(fmt), "d", "x", formats=frozenset()).nbytes == 2
        )


def test_layout_error_class() -> None:
    strided = np.zeros(8, np.int16)[::2]
    with pytest.raises(AudioFormatError, match="^data must be C-contiguous$") as info:
        byte_view(strided, "data", "int16 PCM", formats=INT16_FORMATS)
    assert type(info.value) is AudioFormatError
    with pytest.raises(AudioTypeError, match="^audio must be C-contiguous$"):
        byte_view(strided, "audio", "int16 PCM", layout_error=AudioTypeError)
    # an item format problem is reported before the layout
    with pytest.raises(AudioTypeError, match="item format"):
        byte_view(np.zeros(8, np.float32)[::2], "data", "int16 PCM", formats=INT16_FORMATS)
