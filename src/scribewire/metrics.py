"""What long-running scribewire processes count, and an optional Prometheus exporter.

The client library takes an **observer** (``TranscribeClient(..., observer=...)``); each
of its streams tells it when it opens and closes, reconnects, meets a service error and
when a final result moves its acknowledgement point (with the latency from the moment
the stream accepted the audio the final covers to the moment the final arrived). With no
observer (the default) a stream pays one ``is None`` check at those moments and nothing
per audio message: the totals (audio seconds sent, acknowledged, dropped; ring bytes)
are read from the live streams' ledgers when a scrape asks, never pushed.

::

    from scribewire.metrics import PrometheusObserver
    observer = PrometheusObserver()
    observer.serve(9464)                     # GET http://HOST:9464/metrics
    client = TranscribeClient(region="us-east-1", observer=observer)

The worker pool (``scribewire.pool``) adds the per-call autoscaling signals of
``scaleout.md`` §4 (lag: audio in Redis not read yet; unacknowledged window: audio read
but not covered by a published final) through :meth:`PrometheusObserver.watch_calls`,
and the front door (``scribewire.ingest``) counts frames and refusals with
:meth:`StreamObserver.frontdoor_frames` / :meth:`StreamObserver.frontdoor_refused`.

Metric names (``scribewire_`` prefix, seconds and bytes as Prometheus wants units):

===========================================  ====================================================
``streams_open``                             gauge: streams opened and not yet closed
``streams_opened_total``                     counter
``audio_sent_seconds_total``                 counter: audio handed to connections (replays once)
``audio_acknowledged_seconds_total``         counter: audio covered by final results
``audio_replayed_seconds_total``             counter: audio sent again after a reconnect
``audio_dropped_seconds_total``              counter: unacknowledged audio that left the ring
``reconnects_total{cause}``                  counter: by the exception type that ended the
                                             connection (``rollover`` for the planned one)
``service_errors_total{type}``               counter: service exceptions and protocol errors
``final_latency_seconds``                    histogram: audio accepted -> final arrived
``ring_bytes``                               gauge: replay memory of the live streams
``call_lag_seconds{call}``                   gauge (pool): audio in Redis not read yet
``call_unacknowledged_seconds{call}``        gauge (pool): read, not covered by a final
``calls_owned``                              gauge (pool): calls this worker holds
``lag_seconds_max`` / ``unacknowledged_...`` gauges (pool): the largest over the calls
``frontdoor_frames_total{protocol}``         counter (front door): media frames parsed
``frontdoor_refusals_total{protocol,reason}`` counter (front door): calls or frames refused
===========================================  ====================================================

``prometheus_client`` is the optional extra ``scribewire[metrics]``; importing this
module never needs it, constructing a :class:`PrometheusObserver` does.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ParameterError, ScribewireError

if TYPE_CHECKING:
    from .transport.stream import Stream

__all__ = [
    "CallSignals",
    "LATENCY_BUCKETS",
    "NullObserver",
    "PrometheusObserver",
    "StreamObserver",
]

#: Buckets of ``final_latency_seconds`` (s): a final typically follows its audio by
#: 0.5-3 s; replays and stuck segments reach further.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)

#: ``(call_id, lag_seconds, unacknowledged_seconds)`` of one call a worker holds.
CallSignals = tuple[str, float, float]


class StreamObserver(Protocol):
    """What streams, workers and front doors report (every method returns at once)."""

    def stream_opened(self, stream: Stream) -> None:
        """A stream's first connection is up (``stream.ledger`` is readable from now)."""
        ...

    def stream_closed(self, stream: Stream) -> None:
        """The stream finished, failed or was closed (called once per opened stream)."""
        ...

    def reconnected(self, stream: Stream, cause: str, replayed_seconds: float) -> None:
        """A new connection replaced the old one: ``cause`` names what ended the old
        one (an exception type, or ``"rollover"``); ``replayed_seconds`` of audio were
        sent again on the new one."""
        ...

    def service_error(self, stream: Stream, kind: str) -> None:
        """A connection ended with a service exception or protocol error (type name)."""
        ...

    def final_latency(self, stream: Stream, seconds: float) -> None:
        """A final moved the acknowledgement point; the audio at the new point was
        accepted by the stream ``seconds`` ago."""
        ...

    def frontdoor_frames(self, protocol: str, count: int = 1) -> None:
        """A front door parsed ``count`` media frames of ``protocol``."""
        ...

    def frontdoor_refused(self, protocol: str, reason: str) -> None:
        """A front door refused a call or a frame (``reason``: a short fixed word, such
        as ``"capacity"`` or ``"oom"``: never a call id)."""
        ...


class NullObserver:
    """An observer that counts nothing (for code that wants an object, not None)."""

    def stream_opened(self, stream: Stream) -> None:
        pass

    def stream_closed(self, stream: Stream) -> None:
        pass

    def reconnected(self, stream: Stream, cause: str, replayed_seconds: float) -> None:
        pass

    def service_error(self, stream: Stream, kind: str) -> None:
        pass

    def final_latency(self, stream: Stream, seconds: float) -> None:
        pass

    def frontdoor_frames(self, protocol: str, count: int = 1) -> None:
        pass

    def frontdoor_refused(self, protocol: str, reason: str) -> None:
        pass


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise ScribewireError(
            "metrics need prometheus_client: pip install 'scribewire[metrics]'"
        ) from None
    return prometheus_client


class PrometheusObserver:
    """Counters and gauges in a Prometheus registry of their own, served over HTTP.

    Args:
        registry: a ``prometheus_client.CollectorRegistry``; None makes a new one (so
            several observers in one process never collide).

    Raises:
        ScribewireError: ``prometheus_client`` is not installed.
    """

    def __init__(self, registry: Any = None) -> None:
        pc = _prometheus()
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        self._pc = pc
        self.registry = pc.CollectorRegistry(auto_describe=True) if registry is None else registry
        self._lock = threading.Lock()  # scrapes run in the HTTP server's thread
        self._live: weakref.WeakSet[Stream] = weakref.WeakSet()
        # totals of closed streams (live ones are read from their ledgers at scrape)
        self._closed_sent = 0.0
        self._closed_acked = 0.0
        self._closed_dropped = 0.0
        self._calls: list[Callable[[], Iterable[CallSignals]]] = []
        r = self.registry
        self._opened = pc.Counter("scribewire_streams_opened", "Streams opened.", registry=r)
        self._replayed = pc.Counter(
            "scribewire_audio_replayed_seconds",
            "Audio sent again on a new connection after a reconnect, seconds.",
            registry=r,
        )
        self._reconnects = pc.Counter(
            "scribewire_reconnects",
            "Reconnects, by what ended the previous connection.",
            ["cause"],
            registry=r,
        )
        self._errors = pc.Counter(
            "scribewire_service_errors",
            "Connections ended by a service exception or protocol error, by type.",
            ["type"],
            registry=r,
        )
        self._latency = pc.Histogram(
            "scribewire_final_latency_seconds",
            "From the stream accepting audio to the final covering it, seconds.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._frames = pc.Counter(
            "scribewire_frontdoor_frames",
            "Media frames parsed by the front door.",
            ["protocol"],
            registry=r,
        )
        self._refusals = pc.Counter(
            "scribewire_frontdoor_refusals",
            "Calls or frames the front door refused.",
            ["protocol", "reason"],
            registry=r,
        )
        observer = self

        class _Live:
            """The totals that come from live streams' ledgers (read at scrape)."""

            def describe(self) -> list[Any]:
                return []

            def collect(self) -> Iterable[Any]:
                return observer._collect(CounterMetricFamily, GaugeMetricFamily)

        r.register(_Live())
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ observer

    def stream_opened(self, stream: Stream) -> None:
        with self._lock:
            self._live.add(stream)
        self._opened.inc()

    def stream_closed(self, stream: Stream) -> None:
        ledger = stream.ledger
        with self._lock:
            if stream not in self._live:
                return
            self._live.discard(stream)
            self._closed_sent += stream.audio_seconds_sent
            self._closed_acked += ledger.acknowledged_seconds
            self._closed_dropped += ledger.dropped_seconds

    def reconnected(self, stream: Stream, cause: str, replayed_seconds: float) -> None:
        self._reconnects.labels(cause).inc()
        if replayed_seconds > 0:
            self._replayed.inc(replayed_seconds)

    def service_error(self, stream: Stream, kind: str) -> None:
        self._errors.labels(kind).inc()

    def final_latency(self, stream: Stream, seconds: float) -> None:
        self._latency.observe(max(0.0, seconds))

    def frontdoor_frames(self, protocol: str, count: int = 1) -> None:
        self._frames.labels(protocol).inc(count)

    def frontdoor_refused(self, protocol: str, reason: str) -> None:
        self._refusals.labels(protocol, reason).inc()

    # ------------------------------------------------------------------ pool

    def watch_calls(self, signals: Callable[[], Iterable[CallSignals]]) -> None:
        """Report per-call lag and unacknowledged window at each scrape: ``signals()``
        (called in the scrape thread; it must only read) yields ``(call_id,
        lag_seconds, unacknowledged_seconds)`` for each call held now."""
        with self._lock:
            self._calls.append(signals)

    # ------------------------------------------------------------------ exposition

    def _collect(self, counter: Any, gauge: Any) -> Iterable[Any]:
        with self._lock:
            live = list(self._live)
            sent, acked, dropped = self._closed_sent, self._closed_acked, self._closed_dropped
            sources = list(self._calls)
        ring = 0
        for s in live:
            ledger = s.ledger
            sent += s.audio_seconds_sent
            acked += ledger.acknowledged_seconds
            dropped += ledger.dropped_seconds
            ring += ledger.memory_nbytes
        yield gauge("scribewire_streams_open", "Streams open now.", value=len(live))
        yield counter(
            "scribewire_audio_sent_seconds",
            "Audio written to connections, seconds (a replay counted once).",
            value=sent,
        )
        yield counter(
            "scribewire_audio_acknowledged_seconds",
            "Audio covered by final results, seconds.",
            value=acked,
        )
        yield counter(
            "scribewire_audio_dropped_seconds",
            "Unacknowledged audio that left the replay ring with no way to replay it, seconds.",
            value=dropped,
        )
        yield gauge(
            "scribewire_ring_bytes", "Replay memory held by the live streams, bytes.", value=ring
        )
        if not sources:
            return
        lag = gauge(
            "scribewire_call_lag_seconds",
            "Audio of the call in Redis not read by its worker yet, seconds.",
            labels=["call"],
        )
        unacked = gauge(
            "scribewire_call_unacknowledged_seconds",
            "Audio of the call read but not covered by a published final, seconds.",
            labels=["call"],
        )
        n = 0
        lag_max = unacked_max = 0.0
        for source in sources:
            for call, call_lag, call_unacked in source():
                n += 1
                lag.add_metric([call], call_lag)
                unacked.add_metric([call], call_unacked)
                lag_max = max(lag_max, call_lag)
                unacked_max = max(unacked_max, call_unacked)
        yield lag
        yield unacked
        yield gauge("scribewire_calls_owned", "Calls this worker holds now.", value=n)
        yield gauge("scribewire_lag_seconds_max", "The largest call lag, seconds.", value=lag_max)
        yield gauge(
            "scribewire_unacknowledged_seconds_max",
            "The largest unacknowledged window of a call, seconds.",
            value=unacked_max,
        )

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (what a scrape returns)."""
        data: bytes = self._pc.generate_latest(self.registry)
        return data

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``GET /metrics`` on ``host:port`` from a daemon thread; returns the port
        (``port=0`` picks a free one).

        Raises:
            ParameterError: the port is out of range.
            OSError: the address is taken.
        """
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ParameterError(f"metrics port must be an int in 0..65535, not {port!r}")
        if self._server is not None:
            raise ParameterError("this observer already serves its metrics")
        from http.server import ThreadingHTTPServer

        handler = self._pc.MetricsHandler.factory(self.registry)
        server = ThreadingHTTPServer((host, port), handler)
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, name="scribewire-metrics", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return int(server.server_address[1])

    def close(self) -> None:
        """Stop serving (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(5)
