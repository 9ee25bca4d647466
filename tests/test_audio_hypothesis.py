"""Property tests: (de)interleave inverses, twin parity, resampler chunk invariance."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from conftest import twin_params  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from scribewire._kernels import _audio_py  # noqa: E402
from scribewire.audio import Resampler  # noqa: E402

pytestmark = pytest.mark.hypothesis
TWINS = twin_params("audio")


@pytest.mark.parametrize("k", TWINS)
@settings(max_examples=60, deadline=None)
@given(
    channels=st.integers(1, 8),
    width=st.sampled_from([1, 2, 4]),
    data=st.data(),
)
def test_interleave_inverts_deinterleave(
    k: ModuleType, channels: int, width: int, data: st.DataObject
) -> None:
    frames = data.draw(st.integers(0, 300))
    size = frames * channels * width
    buf = data.draw(st.binary(min_size=size, max_size=size))
    parts = k.deinterleave(buf, channels, sample_width=width)
    assert len(parts) == channels and all(len(p) == frames * width for p in parts)
    assert k.interleave(parts, sample_width=width) == buf
    assert parts == _audio_py.deinterleave(buf, channels, sample_width=width)


@pytest.mark.parametrize("k", TWINS)
@settings(max_examples=60, deadline=None)
@given(buf=st.binary(max_size=2000), channels=st.integers(1, 6))
def test_kernels_match_pure_twin(k: ModuleType, buf: bytes, channels: int) -> None:
    even = buf[: len(buf) & ~1]
    assert k.ulaw_encode(even) == _audio_py.ulaw_encode(even)
    assert k.alaw_encode(even) == _audio_py.alaw_encode(even)
    assert k.ulaw_decode(buf) == _audio_py.ulaw_decode(buf)
    assert k.int16_to_float32(even) == _audio_py.int16_to_float32(even)
    f32 = buf[: len(buf) & ~3]  # arbitrary bit patterns: NaNs, infs, denormals
    assert k.float32_to_int16(f32) == _audio_py.float32_to_int16(f32)
    frames = even[: len(even) - len(even) % (2 * channels)]
    assert k.downmix(frames, channels) == _audio_py.downmix(frames, channels)


@settings(max_examples=25, deadline=None)
@given(
    rates=st.sampled_from(
        [(8000, 16000), (16000, 8000), (48000, 16000), (44100, 16000), (22050, 8000)]
    ),
    channels=st.integers(1, 2),
    sizes=st.lists(st.integers(0, 4800), min_size=1, max_size=12),
    seed=st.integers(0, 2**32 - 1),
)
def test_resampler_chunk_invariance(
    rates: tuple[int, int], channels: int, sizes: list[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    total = sum(sizes)
    pcm = (rng.standard_normal((total, channels)) * 3000).astype("<i2").tobytes()
    fb = 2 * channels
    r = Resampler(*rates, channels)
    whole = r.process(pcm) + r.flush()
    pieces, pos = [], 0
    for n in sizes:
        pieces.append(r.process(pcm[pos : pos + n * fb]))
        pos += n * fb
    pieces.append(r.flush())
    assert b"".join(pieces) == whole
