"""Speech recognizers behind the local service (one instance per audio channel).

A recognizer turns one channel of audio into *segments*: stretches of speech with words and
times. The service calls, in order::

    rec.accept(pcm, t)   # any number of times; pcm is int16 mono at rec.sample_rate
    rec.finish()         # once, at end of input: finals for whatever is still open

Both return a list of :class:`Segment`. A segment is reported as partial (``is_partial``
True) any number of times, then exactly once as final, always with the same ``segment_id``
(the service maps it to one ``ResultId``, protocol.md §4.3). Times are seconds from the start
of the stream (the first sample of the first ``accept`` is 0.0).

Recognizers:

- :class:`PocketsphinxRecognizer` (``"pocketsphinx"``, the default): real offline ASR with the
  en-US model shipped in the ``pocketsphinx`` 5.x wheel. Voice activity segmentation with
  ``pocketsphinx.Endpointer``; partial hypotheses from incremental decoding every
  ``partial_interval`` seconds of new speech; the final of each utterance decoded again as a
  whole (``full_utt=True``, fresh utterance, so acoustic normalisation uses the whole segment)
  with word times from ``seg()``. Input other than 16 kHz is resampled with
  :class:`scribewire.audio.Resampler`.
- :class:`ReplayRecognizer` (``"replay"``): emits a reference transcript (words with times)
  aligned to the audio timeline; deterministic tests of partial/final/timing/channel logic.
- :class:`NullRecognizer` (``"null"``): energy-based segments with placeholder words
  (``"speech"``), near-zero CPU; load tests.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

import msgspec
import numpy as np

from ..errors import AudioFormatError, ParameterError
from ..transcribe.server_session import ResultSegment, ResultWord

__all__ = [
    "NullRecognizer",
    "PocketsphinxRecognizer",
    "RECOGNIZERS",
    "Recognizer",
    "RecognizerFactory",
    "ReplayRecognizer",
    "ReplayScript",
    "Segment",
    "Word",
    "recognizer_factory",
]


#: One recognised word: ``content``, ``start``/``end`` (seconds from stream start) and
#: ``confidence`` (0..1, or None when the recognizer has no honest value).
Word = ResultWord
#: A stretch of speech on one channel, partial or final (see the module docstring).
Segment = ResultSegment


class Recognizer(Protocol):
    """The per-channel recognizer interface used by the service."""

    #: Whether calls are CPU-heavy (the service then runs them in a worker thread).
    blocking: ClassVar[bool]
    #: Rate (Hz) of the int16 mono PCM passed to ``accept``.
    sample_rate: int

    def accept(self, pcm: bytes, t: float) -> list[Segment]:
        """Take int16 little-endian mono PCM starting at stream time ``t`` (seconds)."""
        ...

    def finish(self) -> list[Segment]:
        """End of input: return the finals of every open segment."""
        ...

    def close(self) -> None:
        """Release resources (idempotent)."""
        ...


#: ``factory(sample_rate, channel) -> Recognizer``; ``channel`` is 0 or 1.
RecognizerFactory = Callable[[int, int], Recognizer]


def _check_pcm(pcm: bytes) -> None:
    if len(pcm) % 2:
        raise AudioFormatError(f"int16 PCM must have an even byte count, got {len(pcm)} bytes")


# --------------------------------------------------------------------------- null


class NullRecognizer:
    """Energy-based segmentation with placeholder words (load tests; near-zero CPU).

    Speech is any ``accept`` chunk whose RMS level is above ``threshold_dbfs``; a segment
    ends after ``hangover`` seconds below it. Each segment holds one placeholder word
    ``"speech"`` per started ``word_seconds`` of speech. One partial is reported per chunk
    that extends a segment by at least ``partial_interval`` seconds.

    Args:
        sample_rate: rate of the PCM given to ``accept``, Hz.
        threshold_dbfs: speech threshold, dB relative to int16 full scale.
        hangover: silence (seconds) that closes a segment.
        word_seconds: seconds of speech per placeholder word.
        partial_interval: seconds between partial updates.
    """

    blocking: ClassVar[bool] = False

    def __init__(
        self,
        sample_rate: int,
        *,
        threshold_dbfs: float = -75.0,
        hangover: float = 0.5,
        word_seconds: float = 0.5,
        partial_interval: float = 0.5,
    ) -> None:
        self.sample_rate = sample_rate
        self._threshold = (10 ** (threshold_dbfs / 20) * 32768.0) ** 2
        self._hangover = hangover
        self._word_seconds = word_seconds
        self._partial_interval = partial_interval
        self._next_id = 0
        self._seg_start: float | None = None
        self._last_voice = 0.0
        self._last_partial = 0.0

    def _segment(self, partial: bool) -> Segment:
        assert self._seg_start is not None
        start, end = self._seg_start, self._last_voice
        n = max(1, int(-(-(end - start) // self._word_seconds)))
        step = (end - start) / n
        words = tuple(
            Word("speech", round(start + i * step, 3), round(start + (i + 1) * step, 3))
            for i in range(n)
        )
        return Segment(self._next_id, round(start, 3), round(end, 3), words, partial)

    def _close(self) -> Segment:
        seg = self._segment(False)
        self._next_id += 1
        self._seg_start = None
        return seg

    def accept(self, pcm: bytes, t: float) -> list[Segment]:
        """See :class:`Recognizer`; ``pcm`` is int16 mono at ``sample_rate``."""
        _check_pcm(pcm)
        if not pcm:
            return []
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
        end = t + len(samples) / self.sample_rate
        loud = float(np.dot(samples, samples)) / len(samples) > self._threshold
        out: list[Segment] = []
        if loud:
            if self._seg_start is None:
                self._seg_start = t
                self._last_partial = t
            self._last_voice = end
            if end - self._last_partial >= self._partial_interval:
                self._last_partial = end
                out.append(self._segment(True))
        elif self._seg_start is not None and end - self._last_voice >= self._hangover:
            out.append(self._close())
        return out

    def finish(self) -> list[Segment]:
        """See :class:`Recognizer`."""
        return [self._close()] if self._seg_start is not None else []

    def close(self) -> None:
        """Nothing to release."""


# --------------------------------------------------------------------------- replay


class ReplayScript(msgspec.Struct, frozen=True):
    """A reference transcript for one channel: segments of timed words.

    Attributes:
        segments: each segment is a tuple of :class:`Word` in time order (times in seconds
            from stream start).
    """

    segments: tuple[tuple[Word, ...], ...]

    @classmethod
    def from_turns(cls, turns: Iterable[Mapping[str, Any]], channel: int | None = None) -> ReplayScript:
        """Build a script from turns ``{"start_s", "end_s", "text"[, "channel"]}``.

        This is the shape of the ``turns`` list in the shared audio ``MANIFEST.json``. Each
        turn becomes one segment; its words share the turn's span in proportion to their
        length in characters. Only turns of ``channel`` are kept when it is given.

        Raises:
            ParameterError: a turn without times or text, or with end before start.
        """
        segments: list[tuple[Word, ...]] = []
        for turn in turns:
            if channel is not None and int(turn.get("channel", 0)) != channel:
                continue
            try:
                start, end, text = float(turn["start_s"]), float(turn["end_s"]), str(turn["text"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ParameterError(f"replay turn {turn!r} lacks start_s/end_s/text") from exc
            if end < start:
                raise ParameterError(f"replay turn ends before it starts: {start} > {end}")
            tokens = text.split()
            if not tokens:
                continue
            total = sum(len(w) for w in tokens)
            words = []
            pos = start
            for tok in tokens:
                span = (end - start) * len(tok) / total
                words.append(Word(tok, round(pos, 3), round(pos + span, 3), 1.0))
                pos += span
            segments.append(tuple(words))
        return cls(tuple(segments))


class ReplayRecognizer:
    """Emits a reference transcript aligned to the audio timeline (deterministic).

    A word is *heard* once the audio received reaches its end time. A segment is reported
    partial whenever an ``accept`` call adds heard words to it, and final once the audio
    reaches its last word's end. ``finish`` reports as final every started segment, with the
    words heard so far; segments beyond the audio are never reported.

    Args:
        sample_rate: rate of the PCM given to ``accept``, Hz.
        script: the words to emit.
    """

    blocking: ClassVar[bool] = False

    def __init__(self, sample_rate: int, script: ReplayScript) -> None:
        self.sample_rate = sample_rate
        self._segments = [s for s in script.segments if s]
        self._index = 0  # first segment not yet final
        self._heard = 0  # words of segment _index already reported

    def _report(self, words: Sequence[Word], partial: bool) -> Segment:
        return Segment(self._index, words[0].start, words[-1].end, tuple(words), partial)

    def accept(self, pcm: bytes, t: float) -> list[Segment]:
        """See :class:`Recognizer`; ``pcm`` is int16 mono at ``sample_rate``."""
        _check_pcm(pcm)
        now = t + len(pcm) / 2 / self.sample_rate
        out: list[Segment] = []
        while self._index < len(self._segments):
            seg = self._segments[self._index]
            heard = sum(1 for w in seg if w.end <= now + 1e-9)
            if heard == len(seg):
                out.append(self._report(seg, False))
                self._index += 1
                self._heard = 0
                continue
            if heard > self._heard:
                self._heard = heard
                out.append(self._report(seg[:heard], True))
            break
        return out

    def finish(self) -> list[Segment]:
        """See :class:`Recognizer`."""
        out: list[Segment] = []
        if self._index < len(self._segments) and self._heard:
            out.append(self._report(self._segments[self._index][: self._heard], False))
        self._index = len(self._segments)
        return out

    def close(self) -> None:
        """Nothing to release."""


# --------------------------------------------------------------------------- pocketsphinx

_FILLER = re.compile(r"^(<s>|</s>|<sil>|\[.*\]|\+\+.*\+\+)$")
_ALT = re.compile(r"\(\d+\)$")

_decoder_pool: list[Any] = []
_pool_lock = threading.Lock()


def _acquire_decoder() -> Any:
    """A pocketsphinx Decoder with the default en-US model (pooled: loading takes ~0.4 s)."""
    with _pool_lock:
        if _decoder_pool:
            return _decoder_pool.pop()
    import pocketsphinx

    return pocketsphinx.Decoder(loglevel="FATAL")


def _release_decoder(decoder: Any) -> None:
    with _pool_lock:
        if len(_decoder_pool) < 8:
            _decoder_pool.append(decoder)


class PocketsphinxRecognizer:
    """Real offline recognition with pocketsphinx 5 and its bundled en-US 16 kHz model.

    Args:
        sample_rate: rate of the PCM given to ``accept``, Hz (8000..48000); anything but
            16 kHz is resampled to 16 kHz with :class:`scribewire.audio.Resampler`.
        partial_interval: seconds of new speech between partial hypotheses.
        vad_window: endpointer decision window, seconds (``pocketsphinx.Endpointer``).
        vad_ratio: fraction of the window that must agree to switch speech/non-speech.
    """

    blocking: ClassVar[bool] = True
    MODEL_RATE: ClassVar[int] = 16_000
    #: pocketsphinx's default frame rate (frames per second) for ``seg()`` frame numbers.
    FRAME_RATE: ClassVar[int] = 100

    def __init__(
        self,
        sample_rate: int,
        *,
        partial_interval: float = 0.5,
        vad_window: float = 0.3,
        vad_ratio: float = 0.9,
    ) -> None:
        import pocketsphinx

        self.sample_rate = sample_rate
        self._resampler: Any = None
        if sample_rate != self.MODEL_RATE:
            from ..audio import Resampler

            self._resampler = Resampler(sample_rate, self.MODEL_RATE, channels=1)
        self._ep = pocketsphinx.Endpointer(
            window=vad_window, ratio=vad_ratio, sample_rate=self.MODEL_RATE
        )
        self._frame_bytes: int = self._ep.frame_bytes
        self._frame_seconds: float = self._ep.frame_length
        self._decoder: Any = _acquire_decoder()
        self._pending = bytearray()
        self._partial_interval = partial_interval
        self._next_id = 0
        self._utt: bytearray | None = None
        self._utt_start = 0.0
        self._since_partial = 0
        self._closed = False

    def _words(self, offset: float, with_confidence: bool) -> tuple[Word, ...]:
        words = []
        for s in self._decoder.seg():
            if _FILLER.match(s.word):
                continue
            words.append(
                Word(
                    _ALT.sub("", s.word),
                    round(offset + s.start_frame / self.FRAME_RATE, 3),
                    round(offset + (s.end_frame + 1) / self.FRAME_RATE, 3),
                    round(min(1.0, max(0.0, float(s.prob))), 4) if with_confidence else None,
                )
            )
        return tuple(words)

    def _begin(self) -> None:
        self._utt = bytearray()
        self._utt_start = float(self._ep.speech_start)
        self._since_partial = 0
        self._decoder.start_utt()

    def _speech(self, frame: bytes, out: list[Segment]) -> None:
        assert self._utt is not None
        self._utt += frame
        self._decoder.process_raw(frame)
        self._since_partial += len(frame)
        if self._since_partial >= self._partial_interval * self.MODEL_RATE * 2:
            self._since_partial = 0
            words = self._words(self._utt_start, False)
            if words:
                end = self._utt_start + len(self._utt) / 2 / self.MODEL_RATE
                out.append(Segment(self._next_id, round(self._utt_start, 3), round(end, 3), words, True))

    def _end(self, out: list[Segment]) -> None:
        assert self._utt is not None
        self._decoder.end_utt()
        # The final: the whole utterance decoded again at once (acoustic normalisation over
        # the whole segment).
        self._decoder.start_utt()
        self._decoder.process_raw(bytes(self._utt), full_utt=True)
        self._decoder.end_utt()
        words = self._words(self._utt_start, True)
        end = self._utt_start + len(self._utt) / 2 / self.MODEL_RATE
        if words:
            out.append(Segment(self._next_id, round(self._utt_start, 3), round(end, 3), words, False))
            self._next_id += 1
        self._utt = None

    def _frames(self, data: bytes, out: list[Segment]) -> None:
        self._pending += data
        fb = self._frame_bytes
        n = len(self._pending) // fb * fb
        for i in range(0, n, fb):
            was_speech = self._ep.in_speech
            speech = self._ep.process(bytes(self._pending[i : i + fb]))
            if speech is None:
                continue
            if not was_speech:
                self._begin()
            self._speech(speech, out)
            if not self._ep.in_speech:
                self._end(out)
        del self._pending[:n]

    def accept(self, pcm: bytes, t: float) -> list[Segment]:
        """See :class:`Recognizer`; ``pcm`` is int16 mono at ``sample_rate``."""
        _check_pcm(pcm)
        out: list[Segment] = []
        if self._resampler is not None:
            pcm = self._resampler.process(pcm)
        self._frames(pcm, out)
        return out

    def finish(self) -> list[Segment]:
        """See :class:`Recognizer`."""
        out: list[Segment] = []
        if self._resampler is not None:
            self._frames(self._resampler.flush(), out)
        if self._ep.in_speech:
            tail = bytes(self._pending).ljust(self._frame_bytes, b"\0")
            self._pending.clear()
            speech = self._ep.end_stream(tail)
            if self._utt is None:
                self._begin()
            if speech:
                self._speech(speech, [])
        if self._utt is not None:
            self._end(out)
        return out

    def close(self) -> None:
        """Return the decoder to the pool (idempotent)."""
        if not self._closed:
            self._closed = True
            if self._utt is not None:
                self._decoder.end_utt()
                self._utt = None
            _release_decoder(self._decoder)


# --------------------------------------------------------------------------- registry

RECOGNIZERS: tuple[str, ...] = ("pocketsphinx", "replay", "null")


def recognizer_factory(
    name: str, *, replay: Mapping[int, ReplayScript] | None = None
) -> RecognizerFactory:
    """The factory ``(sample_rate, channel) -> Recognizer`` for a recognizer name.

    Args:
        name: one of :data:`RECOGNIZERS`.
        replay: channel -> script, required for ``"replay"`` (a missing channel replays
            nothing).

    Raises:
        ParameterError: unknown name, or ``"replay"`` without scripts.
    """
    if name == "null":
        return lambda rate, channel: NullRecognizer(rate)
    if name == "pocketsphinx":
        return lambda rate, channel: PocketsphinxRecognizer(rate)
    if name == "replay":
        if replay is None:
            raise ParameterError("the replay recognizer needs a script per channel")
        scripts = dict(replay)
        return lambda rate, channel: ReplayRecognizer(rate, scripts.get(channel, ReplayScript(())))
    raise ParameterError(f"unknown recognizer {name!r}; choose one of {', '.join(RECOGNIZERS)}")
