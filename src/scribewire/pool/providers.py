"""What a pool worker needs from a speech provider: a stream for a call, and its finals.

The worker itself never branches on the provider: for each call it asks the provider
named in the call's ledger (field ``provider``, default ``transcribe``) for a
:class:`~scribewire.transport.stream.Stream` with the call's parameters, and for the
finals each event carries (channel, start and end in stream seconds, text):

- ``transcribe``: Amazon Transcribe (or the local service), mono or two channels
  (channel identification); finals are the non-partial results.
- ``assemblyai``: AssemblyAI Universal-Streaming v3 (or the local service), mono calls
  (a v3 session has one channel, assemblyai.md §2.3), sessions without
  ``format_turns``: the one end-of-turn ``Turn`` of each turn is its final (the ack
  rule's, assemblyai.md §4.7), from the first word's start to the last word's end.

Client options are shared (``speed``, ``chunk_duration``, ``reconnect_attempts``,
``max_replay_nbytes``) or the provider's own: ``region``, ``profile``, ``endpoint`` for
Transcribe, ``assemblyai_endpoint`` (and the ``ASSEMBLYAI_API_KEY`` environment) for
AssemblyAI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from ..assemblyai.events import Turn
from ..assemblyai.params import StreamingParams
from ..clients import AssemblyAIClient, TranscribeClient
from ..errors import ParameterError
from ..metrics import StreamObserver
from ..streaming.replay import Refetch
from ..transcribe.events import TranscriptEvent
from ..transcribe.params import StreamParams
from ..transport.stream import Stream

__all__ = ["AssemblyAIProvider", "CallProvider", "Final", "TranscribeProvider", "provider_for"]

_SHARED = ("speed", "chunk_duration", "reconnect_attempts", "max_replay_nbytes")
_TRANSCRIBE = ("region", "profile", "endpoint", "credentials")


class Final(NamedTuple):
    """One final result: ``channel`` (``"0"``, ``"1"``), times in stream seconds, text."""

    channel: str
    start: float
    end: float
    text: str


class CallProvider(Protocol):
    """One provider's side of the pool."""

    def stream(self, call: Mapping[str, str], session: str, refetch: Refetch) -> Stream:
        """A stream (``track_acks`` on) for a call whose ledger fields are ``call``
        (``rate``, ``channels``, ``language``...); ``session`` is a UUID unique to the
        call and epoch.

        Raises:
            ParameterError: the call's parameters are not valid for the provider.
        """
        ...

    def finals(self, event: Any) -> list[Final]:
        """The finals ``event`` carries (none for partials and other events)."""
        ...


class TranscribeProvider:
    """Amazon Transcribe (or the local service) through one :class:`TranscribeClient`.

    Args:
        options: keyword arguments of :class:`TranscribeClient`.
        observer: the client's observer.
    """

    def __init__(self, options: Mapping[str, Any], observer: StreamObserver | None) -> None:
        # no keepalive silence: a stream's positions must stay the call's positions
        # (silence the stream made up would shift every final and the trim point); a
        # call whose audio pauses past the service's idle limit reconnects instead
        kw = {k: v for k, v in options.items() if k in _SHARED + _TRANSCRIBE}
        self.client = TranscribeClient(**kw, observer=observer, keepalive_after=None)

    def stream(self, call: Mapping[str, str], session: str, refetch: Refetch) -> Stream:
        channels = int(call.get("channels", "1"))
        params = StreamParams(
            language_code=call.get("language", "en-US"),
            sample_rate=int(call.get("rate", "8000")),
            enable_channel_identification=channels == 2,
            number_of_channels=2 if channels == 2 else None,
            session_id=session,
        )
        return self.client.stream(params, refetch=refetch, track_acks=True)

    def finals(self, event: Any) -> list[Final]:
        if type(event) is not TranscriptEvent:
            return []
        out = []
        for r in event.transcript.results:
            if r.is_partial:
                continue
            cid = r.channel_id
            ch = cid[3:] if cid and cid.startswith("ch_") else "0"
            text = r.alternatives[0].transcript if r.alternatives else ""
            out.append(Final(ch, r.start_time, r.end_time, text))
        return out


class AssemblyAIProvider:
    """AssemblyAI v3 (or the local service) through one :class:`AssemblyAIClient`.

    Args:
        options: the shared client options, plus ``assemblyai_endpoint`` (a base URL;
            None: AssemblyAI's own host) and ``assemblyai_api_key`` (None: the
            ``ASSEMBLYAI_API_KEY`` environment).
        observer: the client's observer.
    """

    def __init__(self, options: Mapping[str, Any], observer: StreamObserver | None) -> None:
        kw = {k: v for k, v in options.items() if k in _SHARED}
        # no keepalive silence, as for Transcribe: stream positions stay call positions
        self.client = AssemblyAIClient(
            endpoint=options.get("assemblyai_endpoint"),
            api_key=options.get("assemblyai_api_key"),
            observer=observer,
            keepalive_after=None,
            **kw,
        )

    def stream(self, call: Mapping[str, str], session: str, refetch: Refetch) -> Stream:
        if int(call.get("channels", "1")) != 1:
            raise ParameterError(
                "an AssemblyAI session carries one channel (assemblyai.md §2.3): a stereo "
                "call needs the transcribe provider, or one call per channel"
            )
        params = StreamingParams(sample_rate=int(call.get("rate", "8000")), encoding="pcm_s16le")
        return self.client.stream(params, refetch=refetch, track_acks=True)

    def finals(self, event: Any) -> list[Final]:
        if type(event) is not Turn or not event.end_of_turn or not event.words:
            return []
        w = event.words
        return [Final("0", w[0].start / 1000, w[-1].end / 1000, event.transcript)]


def provider_for(
    name: str, options: Mapping[str, Any], observer: StreamObserver | None
) -> CallProvider:
    """The provider ``name`` (``"transcribe"`` or ``"assemblyai"``).

    Raises:
        ParameterError: an unknown provider.
    """
    if name == "transcribe":
        return TranscribeProvider(options, observer)
    if name == "assemblyai":
        return AssemblyAIProvider(options, observer)
    raise ParameterError(f"unknown provider {name!r} (the pool speaks: transcribe, assemblyai)")
