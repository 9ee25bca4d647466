"""scribewire.metrics: the observer a client's streams report to, scraped over real HTTP.

Streams run against the local service on loopback; the Prometheus exposition is read
with a real HTTP GET from the observer's own server and parsed with prometheus_client's
parser (the oracle for the text format).
"""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path
from typing import Any

import pytest

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from scribewire import TranscribeClient  # noqa: E402
from scribewire.audio import open_audio  # noqa: E402
from scribewire.metrics import NullObserver, PrometheusObserver  # noqa: E402
from scribewire.server import LocalTranscribeService  # noqa: E402
from scribewire.transcribe import StreamParams  # noqa: E402
from scribewire.transcribe.errors import LimitExceededException  # noqa: E402

CLIP = "vosk_digits_10001_90210_01803.wav"  # 8.3 s, 16 kHz, pauses between digit groups
PARAMS = StreamParams(language_code="en-US", sample_rate=16_000)
BPS = 32_000


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics over loopback: sample (name, labels) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def load(shared: Path) -> bytes:
    with open_audio(shared / "audio" / CLIP) as src:
        return src.read(sample_rate=16_000, channels=1)


@pytest.fixture
def observer() -> Any:
    obs = PrometheusObserver()
    yield obs
    obs.close()


def test_streams_report_sent_acknowledged_reconnects_and_latency(
    shared_dir: Path, observer: PrometheusObserver
) -> None:
    pcm = load(shared_dir) * 3  # 24.9 s
    port = observer.serve(0)
    during: dict[Any, float] = {}

    async def main() -> None:
        # a final every second whatever the audio: little is ever held unacknowledged
        async with LocalTranscribeService(recognizer="digest") as svc:
            client = TranscribeClient(
                endpoint=svc.url,
                region=svc.region,
                credentials=svc.credentials,
                speed=20.0,
                rollover_after=11.0,  # two planned reconnects
                max_replay_nbytes=320_000,  # 10 s
                buffer_duration=0.5,
                observer=observer,
            )
            async with client.stream(PARAMS) as stream:
                for i in range(0, len(pcm), 8_000):
                    await stream.send(pcm[i : i + 8_000])
                    if i == 64_000:  # scrape from another thread while the stream is live
                        during.update(await asyncio.to_thread(scrape, port))
                await stream.end()
            assert stream.connections >= 3
            assert stream.ledger.dropped_nbytes == 0

    asyncio.run(asyncio.wait_for(main(), 60))
    after = scrape(port)
    assert value(during, "scribewire_streams_open") == 1
    assert value(during, "scribewire_ring_bytes") > 0
    assert value(after, "scribewire_streams_open") == 0
    assert value(after, "scribewire_ring_bytes") == 0
    assert value(after, "scribewire_streams_opened_total") == 1
    assert value(after, "scribewire_audio_sent_seconds_total") == pytest.approx(len(pcm) / BPS)
    acked = value(after, "scribewire_audio_acknowledged_seconds_total")
    assert 0.5 * len(pcm) / BPS < acked <= len(pcm) / BPS
    assert value(after, "scribewire_audio_dropped_seconds_total") == 0
    assert value(after, "scribewire_reconnects_total", cause="rollover") >= 2
    assert value(after, "scribewire_audio_replayed_seconds_total") >= 0
    n = value(after, "scribewire_final_latency_seconds_count")
    assert n >= 3
    assert value(after, "scribewire_final_latency_seconds_bucket", le="+Inf") == n
    assert value(after, "scribewire_final_latency_seconds_sum") >= 0


def test_service_errors_are_counted_by_type(shared_dir: Path, observer: PrometheusObserver) -> None:
    pcm = load(shared_dir)
    port = observer.serve(0)

    async def main() -> None:
        # the service's 2 s limit per stream and no rollover: LimitExceededException
        async with LocalTranscribeService(recognizer="null", max_audio_seconds=2.0) as svc:
            client = TranscribeClient(
                endpoint=svc.url,
                region=svc.region,
                credentials=svc.credentials,
                speed=20.0,
                reconnect_attempts=0,
                observer=observer,
            )
            with pytest.raises(LimitExceededException):
                async with client.stream(PARAMS) as stream:
                    for i in range(0, len(pcm), 8_000):
                        await stream.send(pcm[i : i + 8_000])
                    await stream.end()

    asyncio.run(asyncio.wait_for(main(), 60))
    after = scrape(port)
    assert value(after, "scribewire_service_errors_total", type="LimitExceededException") == 1
    assert value(after, "scribewire_streams_open") == 0


def test_pool_and_front_door_signals(observer: PrometheusObserver) -> None:
    calls = {"c1": (0.5, 2.0), "c2": (3.25, 7.5)}
    observer.watch_calls(lambda: [(c, lag, un) for c, (lag, un) in calls.items()])
    observer.frontdoor_frames("twilio", 50)
    observer.frontdoor_frames("twilio")
    observer.frontdoor_refused("audiohook", "capacity")
    port = observer.serve(0)
    s = scrape(port)
    assert value(s, "scribewire_call_lag_seconds", call="c2") == 3.25
    assert value(s, "scribewire_call_unacknowledged_seconds", call="c1") == 2.0
    assert value(s, "scribewire_calls_owned") == 2
    assert value(s, "scribewire_lag_seconds_max") == 3.25
    assert value(s, "scribewire_unacknowledged_seconds_max") == 7.5
    assert value(s, "scribewire_frontdoor_frames_total", protocol="twilio") == 51
    assert (
        value(s, "scribewire_frontdoor_refusals_total", protocol="audiohook", reason="capacity")
        == 1
    )
    del calls["c1"]  # a call that ended leaves the exposition
    s = scrape(port)
    assert ("scribewire_call_lag_seconds", (("call", "c1"),)) not in s
    assert value(s, "scribewire_calls_owned") == 1


def test_without_an_observer_a_stream_keeps_no_marks() -> None:
    client = TranscribeClient(endpoint="ws://127.0.0.1:9", region="us-east-1")
    assert client.stream(PARAMS)._marks is None
    watched = TranscribeClient(
        endpoint="ws://127.0.0.1:9", region="us-east-1", observer=NullObserver()
    )
    assert watched.stream(PARAMS)._marks is not None


def test_two_observers_do_not_collide_and_ports_are_checked() -> None:
    a, b = PrometheusObserver(), PrometheusObserver()
    a.frontdoor_frames("generic", 3)
    assert b'scribewire_frontdoor_frames_total{protocol="generic"} 3.0' in a.exposition()
    assert b"generic" not in b.exposition()
    from scribewire.errors import ParameterError

    with pytest.raises(ParameterError):
        a.serve(70_000)
