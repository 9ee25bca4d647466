"""Stub for the native PCM kernels; the contract is ``_audio_py``'s (same names and results)."""

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, overload

from ._audio_py import SoxrStream as SoxrStream

__all__ = [  # GIL_RELEASE_NBYTES: a native-only extra
    "SoxrStream",
    "alaw_decode",
    "alaw_encode",
    "deinterleave",
    "downmix",
    "float32_to_int16",
    "int16_to_float32",
    "interleave",
    "soxr_stream",
    "sum_squares",
    "telephony_to_pcm",
    "ulaw_decode",
    "ulaw_encode",
]

Buffer = Any
W = TypeVar("W")

GIL_RELEASE_NBYTES: int

class _Stream(Protocol):
    engine: str
    def process(self, data: Buffer) -> bytes: ...
    def flush(self) -> bytes: ...
    def reset(self) -> None: ...
    def delay(self) -> float: ...

def soxr_stream(
    in_rate: int, out_rate: int, channels: int, quality: str, dtype: str
) -> _Stream: ...
def _simd(enable: bool | None = None) -> str: ...
def _bind_soxr() -> str: ...

@overload
def ulaw_encode(data: Buffer, out: None = None) -> bytes: ...
@overload
def ulaw_encode(data: Buffer, out: W) -> W: ...
@overload
def ulaw_decode(data: Buffer, out: None = None) -> bytes: ...
@overload
def ulaw_decode(data: Buffer, out: W) -> W: ...
@overload
def alaw_encode(data: Buffer, out: None = None) -> bytes: ...
@overload
def alaw_encode(data: Buffer, out: W) -> W: ...
@overload
def alaw_decode(data: Buffer, out: None = None) -> bytes: ...
@overload
def alaw_decode(data: Buffer, out: W) -> W: ...
@overload
def int16_to_float32(data: Buffer, out: None = None) -> bytes: ...
@overload
def int16_to_float32(data: Buffer, out: W) -> W: ...
@overload
def float32_to_int16(data: Buffer, out: None = None) -> bytes: ...
@overload
def float32_to_int16(data: Buffer, out: W) -> W: ...
@overload
def interleave(channels: Sequence[Buffer], *, sample_width: int = 2, out: None = None) -> bytes: ...
@overload
def interleave(channels: Sequence[Buffer], *, sample_width: int = 2, out: W) -> W: ...
def deinterleave(data: Buffer, channels: int, *, sample_width: int = 2) -> list[bytes]: ...
@overload
def downmix(data: Buffer, channels: int, *, out: None = None) -> bytes: ...
@overload
def downmix(data: Buffer, channels: int, *, out: W) -> W: ...
@overload
def telephony_to_pcm(
    data: Buffer | Sequence[Buffer],
    encoding: str = "mulaw",
    *,
    channels: int | None = None,
    out: None = None,
) -> bytes: ...
@overload
def telephony_to_pcm(
    data: Buffer | Sequence[Buffer],
    encoding: str = "mulaw",
    *,
    channels: int | None = None,
    out: W,
) -> W: ...
def sum_squares(data: Buffer) -> int: ...
