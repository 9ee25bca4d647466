"""PCM kernels, streaming resampler and audio files (public API).

Kernels (G.711 μ-law/A-law, int16 <-> float32, interleave/deinterleave, downmix, sum of
squares, the fused telephony path) come from the native twin (``_audio_c``) unless
``SCRIBEWIRE_NO_EXTENSIONS`` is set or it is unavailable, then from the pure twin
(``_audio_py``); ``IMPLEMENTATION`` says which (``"c"`` or ``"py"``). Both are bit-exact
with each other and with ``audioop``.

PCM means signed 16-bit little-endian, channels interleaved: Amazon Transcribe's ``pcm``
media encoding (protocol.md §3.3). ``Resampler`` (soxr engine) converts rates in a stream;
``open_audio`` reads files and yields chunks in the format a stream asks for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._kernels import _impl
from .media.files import ENCODINGS, AudioSource, RawFormat, is_headerless, open_audio
from .media.resample import QUALITIES, Resampler

if TYPE_CHECKING:
    from ._kernels._audio_py import (
        alaw_decode,
        alaw_encode,
        deinterleave,
        downmix,
        float32_to_int16,
        int16_to_float32,
        interleave,
        sum_squares,
        telephony_to_pcm,
        ulaw_decode,
        ulaw_encode,
    )

    IMPLEMENTATION: str
else:
    _mod = _impl.load("audio")
    alaw_decode = _mod.alaw_decode
    alaw_encode = _mod.alaw_encode
    deinterleave = _mod.deinterleave
    downmix = _mod.downmix
    float32_to_int16 = _mod.float32_to_int16
    int16_to_float32 = _mod.int16_to_float32
    interleave = _mod.interleave
    sum_squares = _mod.sum_squares
    telephony_to_pcm = _mod.telephony_to_pcm
    ulaw_decode = _mod.ulaw_decode
    ulaw_encode = _mod.ulaw_encode
    IMPLEMENTATION = "c" if _mod.__name__.endswith("_c") else "py"

__all__ = [
    "ENCODINGS",
    "IMPLEMENTATION",
    "QUALITIES",
    "AudioSource",
    "RawFormat",
    "Resampler",
    "alaw_decode",
    "alaw_encode",
    "deinterleave",
    "downmix",
    "float32_to_int16",
    "int16_to_float32",
    "interleave",
    "is_headerless",
    "open_audio",
    "sum_squares",
    "telephony_to_pcm",
    "ulaw_decode",
    "ulaw_encode",
]
