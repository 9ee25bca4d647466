"""Recognizers: null (energy), replay (reference), pocketsphinx (real ASR, 16 and 8 kHz)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scribewire.audio import open_audio
from scribewire.errors import AudioFormatError, ParameterError, SessionStateError
from scribewire.server.recognizers import (
    NullRecognizer,
    PocketsphinxRecognizer,
    ReplayRecognizer,
    ReplayScript,
    Segment,
    recognizer_factory,
)


def feed(rec, pcm: bytes, rate: int, chunk_s: float = 0.1) -> list[Segment]:
    n = int(rate * chunk_s) * 2
    out: list[Segment] = []
    for i in range(0, len(pcm), n):
        out += rec.accept(pcm[i : i + n], i / 2 / rate)
    out += rec.finish()
    rec.close()
    return out


def tone(seconds: float, rate: int, amp: int = 3000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


def check_contract(segs: list[Segment]) -> None:
    """Partials then exactly one final per segment id, times ordered."""
    finals: set[int] = set()
    for s in segs:
        assert s.segment_id not in finals, "update after the final"
        assert s.start <= s.end
        if not s.is_partial:
            finals.add(s.segment_id)
        for w in s.words:
            assert s.start - 1e-6 <= w.start <= w.end <= s.end + 1e-6
    assert {s.segment_id for s in segs} == finals


def test_null_segments_follow_energy() -> None:
    rate = 8000
    pcm = tone(0.0, rate) + b"\0" * 8000 + tone(1.2, rate) + b"\0" * 16000 + tone(0.6, rate)
    segs = feed(NullRecognizer(rate), pcm, rate)
    check_contract(segs)
    finals = [s for s in segs if not s.is_partial]
    assert [(s.start, s.end) for s in finals] == [(0.5, 1.7), (2.7, 3.3)]
    assert all(w.content == "speech" for s in finals for w in s.words)
    assert NullRecognizer(rate).finish() == []


def test_null_rejects_odd_bytes() -> None:
    with pytest.raises(AudioFormatError):
        NullRecognizer(16000).accept(b"\0\0\0", 0.0)


def test_replay_from_turns_and_partial_at_finish() -> None:
    turns = [
        {"start_s": 0.0, "end_s": 1.0, "text": "aa bbbb", "channel": 0},
        {"start_s": 1.5, "end_s": 2.0, "text": "cc", "channel": 1},
        {"start_s": 2.0, "end_s": 3.0, "text": "dd ee", "channel": 0},
    ]
    script = ReplayScript.from_turns(turns, channel=0)
    assert [[(w.content, w.start, w.end) for w in s] for s in script.segments] == [
        [("aa", 0.0, 0.333), ("bbbb", 0.333, 1.0)],
        [("dd", 2.0, 2.5), ("ee", 2.5, 3.0)],
    ]
    segs = feed(ReplayRecognizer(16000, script), b"\0" * 2 * 16000 * 2 + b"\0" * 2 * 8000, 16000)
    check_contract(segs)
    assert [(s.segment_id, s.is_partial, len(s.words)) for s in segs] == [
        (0, True, 1),
        (0, False, 2),
        (1, True, 1),
        (1, False, 1),
    ]
    with pytest.raises(ParameterError):
        ReplayScript.from_turns([{"start_s": 2, "end_s": 1, "text": "x"}])


def test_factory_names() -> None:
    assert isinstance(recognizer_factory("null")(8000, 0), NullRecognizer)
    with pytest.raises(ParameterError):
        recognizer_factory("replay")
    with pytest.raises(ParameterError):
        recognizer_factory("whisper")


@pytest.mark.parametrize(
    ("stem", "rate", "seconds", "min_common"),
    [("ps_goforward.16k", 16000, None, 4), ("osr_us_000_0034_8k", 8000, 7.5, 6)],
)
def test_pocketsphinx_recognises_speech(
    shared_dir: Path, stem: str, rate: int, seconds: float | None, min_common: int
) -> None:
    with open_audio(shared_dir / "audio" / f"{stem}.wav") as src:
        pcm = src.read(sample_rate=rate, channels=1)
    if seconds is not None:
        pcm = pcm[: int(seconds * rate) * 2]
    pcm = b"\0" * rate + pcm + b"\0" * rate  # 0.5 s of silence each side
    segs = feed(PocketsphinxRecognizer(rate), pcm, rate)
    check_contract(segs)
    finals = [s for s in segs if not s.is_partial]
    heard = [w.content for s in finals for w in s.words]
    ref = (shared_dir / "audio" / f"{stem.split('.')[0]}.txt").read_text().lower()
    said = {w.strip(".,") for w in ref.split()}
    assert len(set(heard) & said) >= min_common, (heard, said)
    assert finals[0].start >= 0.3 and finals[-1].end <= len(pcm) / 2 / rate
    assert all(w.confidence is not None and 0 <= w.confidence <= 1 for s in finals for w in s.words)
    assert any(s.is_partial for s in segs)


# --------------------------------------------------------------------------- pocketsphinx streaming


def _gf(shared_dir: Path) -> bytes:
    with open_audio(shared_dir / "audio" / "ps_goforward.16k.wav") as src:
        return src.read(sample_rate=16000, channels=1)


GF_WORDS = ["go", "forward", "ten", "meters"]


def test_pocketsphinx_short_pause_does_not_split(shared_dir: Path) -> None:
    """A 0.6 s pause stays inside one utterance; 1.5 s of silence ends it (hangover 1.2 s)."""
    gf = _gf(shared_dir)
    pcm = gf + bytes(int(0.6 * 16000) * 2) + gf + bytes(int(1.5 * 16000) * 2)
    rec = PocketsphinxRecognizer(16000)
    n = 3200
    during: list[Segment] = []
    for i in range(0, len(pcm), n):
        during += rec.accept(pcm[i : i + n], i / 32000)
    at_end = rec.finish()
    rec.close()
    check_contract(during + at_end)
    (final,) = [s for s in during if not s.is_partial]
    assert at_end == []
    assert [w.content for w in final.words] == GF_WORDS * 2
    # partials came while the utterance was open, before its final
    assert any(s.is_partial for s in during[: during.index(final)])
    assert final.start == final.words[0].start and final.end == final.words[-1].end
    assert final.end < len(gf) * 2 / 32000 + 0.6


def test_pocketsphinx_quiet_speech_and_end_of_stream(shared_dir: Path) -> None:
    """Speech 40 dB down after 1 s of faint noise: found whole (the VAD sees a gain-normalised
    copy), starts after the noise, and is finalised by ``finish`` (input ends mid-utterance)."""
    gf = np.frombuffer(_gf(shared_dir), "<i2") * 0.01  # -40 dB: peak about -54 dBFS
    noise = np.random.default_rng(0).standard_normal(16000) * 32768 * 10 ** (-85 / 20)
    pcm = np.concatenate([noise, gf]).astype("<i2").tobytes()
    rec = PocketsphinxRecognizer(16000)
    during: list[Segment] = []
    for i in range(0, len(pcm), 3200):
        during += rec.accept(pcm[i : i + 3200], i / 32000)
    assert not any(not s.is_partial for s in during)
    (final,) = rec.finish()
    rec.close()
    check_contract(during + [final])
    assert [w.content for w in final.words] == GF_WORDS
    # the result hugs its words: after the noise, inside the audio
    assert 1.0 <= final.start == final.words[0].start and final.end <= len(pcm) / 32000


def test_pooled_decoders_start_clean(shared_dir: Path) -> None:
    """A decoder back from the pool carries no cepstral means from the last stream."""
    from scribewire.server import recognizers as mod

    d = mod._acquire_decoder()
    initial = d.get_cmn()
    d.start_utt()
    d.process_raw(_gf(shared_dir))
    d.end_utt()
    assert d.get_cmn() != initial
    mod._release_decoder(d)
    again = mod._acquire_decoder()
    assert again is d and again.get_cmn() == initial
    mod._release_decoder(again)


def test_pocketsphinx_misuse() -> None:
    with pytest.raises(ParameterError):
        PocketsphinxRecognizer(4000)
    rec = PocketsphinxRecognizer(8000)
    with pytest.raises(AudioFormatError):
        rec.accept(b"\0\0\0", 0.0)
    rec.close()
    rec.close()
    with pytest.raises(SessionStateError):
        rec.accept(b"\0\0", 0.0)
    with pytest.raises(SessionStateError):
        rec.finish()
