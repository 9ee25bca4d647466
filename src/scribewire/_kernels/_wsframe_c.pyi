"""Type stub for the native WebSocket client frame kernel (same API as ``_wsframe_py``)."""

from collections.abc import Callable
from typing import final

from typing_extensions import Buffer

__all__ = ["KEY_POOL_NBYTES", "ClientFramer", "encode_binary_frame"]

KEY_POOL_NBYTES: int

def encode_binary_frame(payload: Buffer, mask_key: Buffer) -> bytes: ...
@final
class ClientFramer:
    def __init__(self, urandom: Callable[[int], bytes] = ...) -> None: ...
    def audio_event_frames(self, audio: Buffer, nbytes: int) -> list[bytes]: ...
    def binary_frame(self, payload: Buffer) -> bytes: ...
