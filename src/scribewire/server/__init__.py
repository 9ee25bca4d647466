"""The local Amazon Transcribe-compatible streaming service (``scribewire serve``).

It speaks Transcribe's WebSocket protocol (protocol.md §3-§6) on loopback or any address, so
the same client code runs against it and against AWS, and it recognises speech for real with
pocketsphinx (or replays a reference transcript, or emits placeholder words for load tests).

What it checks: the SigV4 presigned URL (algorithm, scope, expiry and clock skew, signed
headers, constant-time signature compare; 403 with a JSON body, or an
``UnrecognizedClientException`` frame), every query parameter (the client's own
``StreamParams`` rules; ``BadRequestException``), every frame (CRCs, lengths, header types;
plain AudioEvents and signed envelopes), the Call Analytics ``ConfigurationEvent``, text
frames, more than 1 s of audio per event, 15 s without audio, more than 4 h of audio, the
concurrent-stream quota (default 25) and a reused live ``session-id`` (``ConflictException``
on the older stream). Timeouts and limits are configurable; the defaults are AWS's.

What it sends: ``TranscriptEvent`` (standard and medical paths) with a stable ``ResultId``
per segment, partial updates then one final (``IsPartial`` false), item times in seconds
from stream start, ``Confidence`` on final items, ``Stable`` only with
``enable-partial-results-stabilization``, ``ChannelId`` ``ch_0``/``ch_1`` only with channel
identification (each channel recognised on its own); ``UtteranceEvent`` on the Call
Analytics path with ``ParticipantRole`` from the ``ConfigurationEvent`` and integer
millisecond offsets.

Fields left out because the local recognizer cannot compute them honestly:

- speaker diarization (``Speaker`` with ``show-speaker-label``);
- PII / PHI entities (``Entities``) and ``[PII]`` redaction;
- sentiment, ``IssuesDetected`` and ``CategoryEvent`` (Call Analytics);
- language identification (``LanguageCode``, ``LanguageIdentification``);
- custom vocabularies, vocabulary filters (``VocabularyFilterMatch`` is always false) and
  custom language models (accepted, validated, not applied);
- punctuation items (pocketsphinx emits words only);
- recognition of ``ogg-opus`` and ``flac`` audio (accepted, counted and digested; no
  results).

Other choices: the envelope signature chain is checked only with
``verify_event_signatures=True``; after any exception frame and after the end of input the
service closes with code 1000; results use the en-US model whatever ``language-code`` says.
"""

from __future__ import annotations

from ..cli.serve import build_parser, serve_main
from .recognizers import (
    RECOGNIZERS,
    DigestRecognizer,
    NullRecognizer,
    PocketsphinxRecognizer,
    Recognizer,
    ReplayRecognizer,
    ReplayScript,
    Segment,
    Word,
    recognizer_factory,
)
from .recpool import RecognizerPool
from .service import PATHS, LocalTranscribeService
from .stats import StreamStats

__all__ = [
    "PATHS",
    "RECOGNIZERS",
    "LocalTranscribeService",
    "DigestRecognizer",
    "NullRecognizer",
    "PocketsphinxRecognizer",
    "Recognizer",
    "RecognizerPool",
    "ReplayRecognizer",
    "ReplayScript",
    "Segment",
    "StreamStats",
    "Word",
    "build_parser",
    "recognizer_factory",
    "serve_main",
]
