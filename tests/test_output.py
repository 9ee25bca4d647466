"""Transcript formatters over typed events decoded from service-shaped JSON."""

from __future__ import annotations

import io
import json

import msgspec
import pytest

from scribewire.cli.output import FORMATS, Segment, format_timestamp, make_formatter, segments
from scribewire.transcribe import MedicalTranscriptEvent, TranscriptEvent, UtteranceEvent


def transcript_event(results: list[dict[str, object]]) -> TranscriptEvent:
    payload = json.dumps({"Transcript": {"Results": results}}).encode()
    return msgspec.json.decode(payload, type=TranscriptEvent)


EVENT = transcript_event(
    [
        {"ResultId": "r2", "StartTime": 3.5, "EndTime": 4.25, "IsPartial": False, "ChannelId": "ch_1",
         "Alternatives": [{"Transcript": "second <one> & more", "Items": []}]},
        {"ResultId": "r1", "StartTime": 0.0, "EndTime": 1.2, "IsPartial": False, "ChannelId": "ch_0",
         "Alternatives": [{"Transcript": "first", "Items": []}]},
        {"ResultId": "r3", "StartTime": 5.0, "EndTime": 5.5, "IsPartial": True,
         "Alternatives": [{"Transcript": "still talking", "Items": []}]},
        {"ResultId": "r4", "StartTime": 6.0, "EndTime": 6.5, "IsPartial": False, "Alternatives": []},
    ]
)


def test_segments_from_transcript_event() -> None:
    segs = segments(EVENT, "a.wav")
    assert [s.segment_id for s in segs] == ["r2", "r1", "r3"]  # no alternatives: skipped
    assert segs[0] == Segment("r2", 3.5, 4.25, "second <one> & more", False, "ch_1", "a.wav")
    assert segs[2].is_partial and segs[2].label == ""


def test_segments_speaker_label_medical_and_utterance() -> None:
    spk = transcript_event([{"ResultId": "x", "StartTime": 1, "EndTime": 2, "IsPartial": False,
                             "Alternatives": [{"Transcript": "hi", "Items": [{"Content": "hi", "Speaker": "1"}]}]}])
    assert segments(spk)[0].label == "spk_1"
    med = msgspec.json.decode(
        b'{"Transcript":{"Results":[{"ResultId":"m","StartTime":0.5,"EndTime":1,"IsPartial":false,'
        b'"Alternatives":[{"Transcript":"aspirin"}]}]}}',
        type=MedicalTranscriptEvent,
    )
    assert segments(med)[0].text == "aspirin"
    utt = msgspec.json.decode(
        b'{"UtteranceId":"u","IsPartial":false,"ParticipantRole":"AGENT","BeginOffsetMillis":1500,'
        b'"EndOffsetMillis":2750,"Transcript":"hello"}',
        type=UtteranceEvent,
    )
    (seg,) = segments(utt)
    assert (seg.start, seg.end, seg.label, seg.text) == (1.5, 2.75, "AGENT", "hello")
    assert segments(object()) == []


@pytest.mark.parametrize(
    ("seconds", "sep", "text"),
    [(0, ".", "00:00:00.000"), (3723.4567, ",", "01:02:03,457"), (-1, ".", "00:00:00.000"), (59.9996, ".", "00:01:00.000")],
)
def test_format_timestamp(seconds: float, sep: str, text: str) -> None:
    assert format_timestamp(seconds, sep) == text


def render(name: str, show_source: bool = False) -> str:
    buf = io.StringIO()
    fmt = make_formatter(name, buf, show_source=show_source)
    fmt.begin("a.wav")
    fmt.write_all(segments(EVENT, "a.wav"))
    fmt.end("a.wav")
    fmt.close()
    return buf.getvalue()


def test_text_and_jsonl_skip_partials_and_keep_arrival_order() -> None:
    assert render("text") == (
        "[00:00:03.500 --> 00:00:04.250] ch_1: second <one> & more\n"
        "[00:00:00.000 --> 00:00:01.200] ch_0: first\n"
    )
    assert render("text", show_source=True).startswith("a.wav [00:00:03.500")
    rows = [json.loads(line) for line in render("jsonl").splitlines()]
    assert rows == [
        {"source": "a.wav", "id": "r2", "start": 3.5, "end": 4.25, "label": "ch_1", "text": "second <one> & more"},
        {"source": "a.wav", "id": "r1", "start": 0.0, "end": 1.2, "label": "ch_0", "text": "first"},
    ]


def test_srt_sorted_numbered_cues() -> None:
    assert render("srt") == (
        "1\n00:00:00,000 --> 00:00:01,200\n[ch_0] first\n\n"
        "2\n00:00:03,500 --> 00:00:04,250\n[ch_1] second <one> & more\n\n"
    )


def test_vtt_header_voice_spans_and_escaping() -> None:
    assert render("vtt") == (
        "WEBVTT\n\n"
        "1\n00:00:00.000 --> 00:00:01.200\n<v ch_0>first\n\n"
        "2\n00:00:03.500 --> 00:00:04.250\n<v ch_1>second &lt;one&gt; &amp; more\n\n"
    )
    assert "NOTE a.wav" in render("vtt", show_source=True)


def test_unknown_format() -> None:
    assert FORMATS == ("text", "jsonl", "srt", "vtt")
    with pytest.raises(ValueError, match="unknown output format"):
        make_formatter("docx", io.StringIO())
