"""The digest recognizer: finals that tile the audio, each the SHA-1 of its samples."""

from __future__ import annotations

import hashlib

import pytest

from scribewire.errors import ParameterError
from scribewire.server import DigestRecognizer
from scribewire.server.recognizers import recognizer_factory


def test_finals_tile_the_audio_whatever_the_chunking() -> None:
    pcm = bytes(range(256)) * 250  # 64,000 bytes: 4 s at 8 kHz
    rec = DigestRecognizer(8000, interval=1.5)
    out = []
    for i in range(0, len(pcm), 777 * 2):  # chunks that never fall on a boundary
        out += rec.accept(pcm[i : i + 777 * 2], i / 16000)
    out += rec.finish()
    finals = [s for s in out if not s.is_partial]
    assert [(s.start, s.end) for s in finals] == [(0.0, 1.5), (1.5, 3.0), (3.0, 4.0)]
    for s in finals:
        a, b = round(s.start * 16000), round(s.end * 16000)
        assert s.words[0].content == "d" + hashlib.sha1(pcm[a:b]).hexdigest()[:16]
    assert [s.segment_id for s in finals] == [0, 1, 2]
    partials = [s for s in out if s.is_partial]
    assert [s.segment_id for s in partials] == [0, 1, 2]  # one half way through each
    assert rec.finish() == []


def test_registered_and_checked() -> None:
    assert isinstance(recognizer_factory("digest")(16000, 0), DigestRecognizer)
    with pytest.raises(ParameterError):
        DigestRecognizer(8000, interval=0)
