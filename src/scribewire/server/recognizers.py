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
  ``pocketsphinx.Vad`` on a gain-normalised copy of the audio, padding around each utterance
  and a hangover so that short pauses do not split it; partial hypotheses from incremental
  decoding every ``partial_interval`` seconds; the final of each utterance decoded again as
  a whole from a reset feature state (``full_utt=True``: acoustic normalisation over the
  whole padded segment, as in batch decoding) with word times from ``seg()``. Input other
  than 16 kHz is resampled with :class:`scribewire.audio.Resampler`.
- :class:`ReplayRecognizer` (``"replay"``): emits a reference transcript (words with times)
  aligned to the audio timeline; deterministic tests of partial/final/timing/channel logic.
- :class:`NullRecognizer` (``"null"``): energy-based segments with placeholder words
  (``"speech"``), near-zero CPU; load tests.
- :class:`DigestRecognizer` (``"digest"``): one final per ``interval`` seconds of audio
  whose one word is the SHA-1 of exactly those samples; the finals tile the audio, so a
  test can check that a transcript covers a recording with no gap, no overlap and the
  right bytes in every place (scale-out tests, ``scaleout.md`` §5).
"""

from __future__ import annotations

import collections
import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from ..audio import sum_squares
from ..errors import AudioFormatError, ParameterError, SessionStateError
from ..transcribe.server_session import ResultSegment, ResultWord

__all__ = [
    "DigestRecognizer",
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


def _power(pcm: bytes) -> tuple[npt.NDArray[np.float32], float]:
    """The int16 LE samples of ``pcm`` as float32 and their mean square (int16 units
    squared; 0.0 for no samples)."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    return x, float(np.dot(x, x)) / max(1, len(x))


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
        n = len(pcm) // 2
        power = sum_squares(pcm) / n  # mean square, int16 units squared
        end = t + n / self.sample_rate
        loud = power > self._threshold
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


# --------------------------------------------------------------------------- digest


class DigestRecognizer:
    """Finals that tile the audio, each naming the SHA-1 of its exact samples.

    Every ``interval`` seconds of audio received (whole frames, counted from the first
    sample) closes a segment: one final whose single word is ``"d"`` plus the first 16
    hex digits of the SHA-1 of that segment's int16 little-endian PCM, with the segment's
    start and end times (``frames / sample_rate``). Half way through each segment one
    partial of it is reported. ``finish`` closes the last, shorter segment. Near-zero
    CPU, deterministic: a transcript of finals must reproduce the recording's digests.

    Args:
        sample_rate: rate of the PCM given to ``accept``, Hz.
        interval: seconds of audio per final (> 0).

    Raises:
        ParameterError: ``interval`` not positive.
    """

    blocking: ClassVar[bool] = False

    def __init__(self, sample_rate: int, *, interval: float = 1.0) -> None:
        if not interval > 0:
            raise ParameterError(f"interval must be > 0 seconds, got {interval!r}")
        self.sample_rate = sample_rate
        self._size = max(1, round(interval * sample_rate)) * 2  # bytes per segment
        self._held = bytearray()
        self._start = 0  # frames before the segment being filled
        self._next_id = 0
        self._partial_sent = False

    def _segment(self, pcm: bytes, partial: bool) -> Segment:
        rate = self.sample_rate
        start = self._start / rate
        end = (self._start + len(pcm) // 2) / rate
        word = Word("d" + hashlib.sha1(pcm).hexdigest()[:16], start, end, 1.0)
        return Segment(self._next_id, start, end, (word,), partial)

    def _close(self, pcm: bytes) -> Segment:
        seg = self._segment(pcm, False)
        self._start += len(pcm) // 2
        self._next_id += 1
        self._partial_sent = False
        return seg

    def accept(self, pcm: bytes, t: float) -> list[Segment]:
        """See :class:`Recognizer`; ``pcm`` is int16 mono at ``sample_rate``."""
        _check_pcm(pcm)
        held = self._held
        held += pcm
        size = self._size
        out: list[Segment] = []
        while len(held) >= size:
            out.append(self._close(bytes(held[:size])))
            del held[:size]
        if not self._partial_sent and len(held) >= size // 2 and held:
            self._partial_sent = True
            out.append(self._segment(bytes(held), True))
        return out

    def finish(self) -> list[Segment]:
        """See :class:`Recognizer`."""
        held, self._held = bytes(self._held), bytearray()
        return [self._close(held)] if held else []

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
    def from_turns(
        cls, turns: Iterable[Mapping[str, Any]], channel: int | None = None
    ) -> ReplayScript:
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
        decoder = _decoder_pool.pop() if _decoder_pool else None
    if decoder is not None:
        # Feature state (cepstral means) must not leak from one stream into the next.
        decoder.reinit_feat()
        return decoder
    import pocketsphinx

    return pocketsphinx.Decoder(loglevel="FATAL")


def _release_decoder(decoder: Any) -> None:
    with _pool_lock:
        if len(_decoder_pool) < 8:
            _decoder_pool.append(decoder)


class _LevelNormaliser:
    """Per-stream gain for the copy of the audio that the voice activity detector sees.

    ``pocketsphinx.Vad`` decides on fixed thresholds, so speech recorded around -60 dBFS is
    missed or split. This tracks two levels per frame (dBFS, RMS): a noise floor (falls at
    once, rises ``floor_rise_db`` per second) and a speech level (rises fast, decays
    ``release_db`` per second, never below ``floor + min_snr_db`` so that a silent stretch
    does not amplify noise up to speech level), then applies the gain that brings the speech
    level to ``target_dbfs`` (0 dB at most ``max_gain_db``, never attenuating).
    """

    __slots__ = ("_floor", "_speech", "_rise", "_release", "_target", "_max_gain", "_min_snr")

    def __init__(
        self,
        frame_seconds: float,
        *,
        target_dbfs: float = -20.0,
        max_gain_db: float = 50.0,
        floor_rise_db: float = 1.0,
        release_db: float = 2.0,
        min_snr_db: float = 15.0,
    ) -> None:
        self._floor: float | None = None
        self._speech = -100.0
        self._rise = floor_rise_db * frame_seconds
        self._release = release_db * frame_seconds
        self._target = target_dbfs
        self._max_gain = max_gain_db
        self._min_snr = min_snr_db

    def __call__(self, frame: bytes) -> bytes:
        x, power = _power(frame)
        level = float(10.0 * np.log10(power / 1073741824.0)) if power > 0.0 else -100.0
        if self._floor is None or level < self._floor:
            self._floor = level
        else:
            self._floor += self._rise
        if level > self._speech:
            self._speech += 0.5 * (level - self._speech)
        else:
            self._speech -= self._release
        self._speech = max(self._speech, self._floor + self._min_snr)
        gain_db = min(self._max_gain, max(0.0, self._target - self._speech))
        if gain_db < 0.5:
            return frame
        # numpy's stubs type clip() with scalar bounds as Any: name the array type
        gain = 10.0 ** (gain_db / 20.0)
        y: npt.NDArray[np.floating[Any]] = np.clip(x * gain, -32768.0, 32767.0)
        return y.astype("<i2").tobytes()


class PocketsphinxRecognizer:
    """Real offline recognition with pocketsphinx 5 and its bundled en-US 16 kHz model.

    Segmentation: ``pocketsphinx.Vad`` decides speech per 30 ms frame on a level-normalised
    copy of the audio (a slow per-stream AGC, see ``agc_target_dbfs``; the decoder gets the
    audio unchanged). An utterance starts when ``start_ratio`` of the last ``start_window``
    seconds is speech and includes ``pad_before`` seconds of audio before that window; it
    ends after ``hangover`` seconds without speech (short pauses do not split it), keeping
    ``pad_after`` seconds after its last speech frame, or at the first pause after
    ``max_utterance`` seconds (hard cut at 1.25 times that).

    Partials: the utterance is decoded incrementally (live cepstral mean normalisation) and
    its hypothesis reported every ``partial_interval`` seconds of new audio. The final: the
    whole padded utterance decoded again at once with the feature state reset
    (``reinit_feat``, then ``full_utt=True`` batch normalisation), as batch decoding does.
    At end of input the open utterance, or any speech frames not yet in an utterance, are
    decoded the same way.

    Args:
        sample_rate: rate of the PCM given to ``accept``, Hz (8000..48000); anything but
            16 kHz is resampled to 16 kHz with :class:`scribewire.audio.Resampler`.
        partial_interval: seconds of new audio between partial hypotheses.
        vad_mode: ``pocketsphinx.Vad`` aggressiveness, 0 (loose) .. 3 (strict).
        start_window: seconds of frames the start decision looks at.
        start_ratio: fraction of ``start_window`` that must be speech to start.
        hangover: seconds without speech that end an utterance.
        pad_before: seconds of audio kept before the start window.
        pad_after: seconds kept after the last speech frame.
        max_utterance: seconds after which an utterance ends at the next pause.
        agc_target_dbfs: level (dBFS) the VAD copy's speech is brought to; None turns the
            normalisation off.

    Raises:
        ParameterError: ``sample_rate`` outside 8000..48000 Hz.

    ``accept`` raises :class:`~scribewire.errors.AudioFormatError` for an odd byte count;
    ``accept``/``finish`` after ``close`` raise :class:`~scribewire.errors.SessionStateError`.
    CPU: about 0.35 s per second of audio (incremental pass plus the final pass).
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
        vad_mode: int = 1,
        start_window: float = 0.3,
        start_ratio: float = 0.6,
        hangover: float = 1.2,
        pad_before: float = 0.3,
        pad_after: float = 0.4,
        max_utterance: float = 20.0,
        agc_target_dbfs: float | None = -20.0,
    ) -> None:
        import pocketsphinx

        if not 8000 <= sample_rate <= 48000:
            raise ParameterError(f"sample_rate must be 8000..48000 Hz, got {sample_rate}")
        self.sample_rate = sample_rate
        self._resampler: Any = None
        if sample_rate != self.MODEL_RATE:
            from ..audio import Resampler

            self._resampler = Resampler(sample_rate, self.MODEL_RATE, channels=1)
        self._vad = pocketsphinx.Vad(mode=vad_mode, sample_rate=self.MODEL_RATE)
        self._frame_bytes: int = self._vad.frame_bytes
        fs = self._frame_seconds = float(self._vad.frame_length)
        self._agc = (
            None if agc_target_dbfs is None else _LevelNormaliser(fs, target_dbfs=agc_target_dbfs)
        )
        self._window = max(1, round(start_window / fs))
        self._start_count = max(1, round(start_ratio * self._window))
        self._hangover = max(1, round(hangover / fs))
        self._pad_after = max(0, round(pad_after / fs))
        self._max_frames = max(self._window, round(max_utterance / fs))
        self._partial_bytes = max(1, round(partial_interval / fs)) * self._frame_bytes
        # recent frames (index, bytes, is_speech): the pre-roll of the next utterance
        self._history: collections.deque[tuple[int, bytes, bool]] = collections.deque(
            maxlen=self._window + max(0, round(pad_before / fs))
        )
        self._decisions: collections.deque[bool] = collections.deque(maxlen=self._window)
        self._decoder: Any = _acquire_decoder()
        self._pending = bytearray()
        self._index = 0  # frames seen
        self._done = 0  # frames before this index belong to a finished utterance
        self._next_id = 0
        self._utt: bytearray | None = None
        self._utt_first = 0  # frame index of the utterance's first frame
        self._silence = 0  # frames since the utterance's last speech frame
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

    def _begin(self, frames: Sequence[tuple[int, bytes, bool]]) -> None:
        self._utt = bytearray()
        self._utt_first = frames[0][0]
        self._silence = 0
        self._since_partial = 0
        self._decoder.start_utt()
        for _, frame, _speech in frames:
            self._utt += frame
            self._decoder.process_raw(frame)

    def _extend(self, frame: bytes, speech: bool, out: list[Segment]) -> None:
        assert self._utt is not None
        self._utt += frame
        self._decoder.process_raw(frame)
        self._silence = 0 if speech else self._silence + 1
        self._since_partial += len(frame)
        if self._since_partial >= self._partial_bytes:
            self._since_partial = 0
            words = self._words(self._utt_first * self._frame_seconds, False)
            if words:
                out.append(Segment(self._next_id, words[0].start, words[-1].end, words, True))

    def _end(self, out: list[Segment], tail: bytes = b"") -> None:
        assert self._utt is not None
        self._decoder.end_utt()
        # Keep pad_after frames of the trailing silence (and ``tail``, the last bytes of the
        # stream, unless it comes after a longer silence).
        trim = max(0, self._silence - self._pad_after) * self._frame_bytes
        audio = bytes(self._utt[: len(self._utt) - trim]) if trim else bytes(self._utt) + tail
        self._done = self._utt_first + (len(self._utt) - trim) // self._frame_bytes
        self._utt = None
        self._final(audio, self._utt_first * self._frame_seconds, out)

    def _final(self, audio: bytes, start: float, out: list[Segment]) -> None:
        # The final: the whole utterance decoded at once from a reset feature state (the
        # incremental pass switched cepstral mean normalisation to live mode).
        self._decoder.reinit_feat()
        self._decoder.start_utt()
        self._decoder.process_raw(audio, full_utt=True)
        self._decoder.end_utt()
        words = self._words(start, True)
        if words:
            # The result spans its words, not the padding around them.
            out.append(Segment(self._next_id, words[0].start, words[-1].end, words, False))
            self._next_id += 1

    def _frame(self, frame: bytes, out: list[Segment]) -> None:
        probe = self._agc(frame) if self._agc is not None else frame
        speech = bool(self._vad.is_speech(probe))
        index = self._index
        self._index += 1
        self._history.append((index, frame, speech))
        self._decisions.append(speech)
        if self._utt is None:
            if sum(self._decisions) >= self._start_count:
                self._begin([h for h in self._history if h[0] >= self._done])
                self._silence = 0
        else:
            self._extend(frame, speech, out)
            frames = len(self._utt) // self._frame_bytes
            if (
                self._silence >= self._hangover
                or (frames >= self._max_frames and self._silence > 0)
                or frames >= self._max_frames * 5 // 4
            ):
                self._end(out)
                self._decisions.clear()

    def _frames(self, data: bytes, out: list[Segment]) -> None:
        self._pending += data
        fb = self._frame_bytes
        n = len(self._pending) // fb * fb
        for i in range(0, n, fb):
            self._frame(bytes(self._pending[i : i + fb]), out)
        del self._pending[:n]

    def accept(self, pcm: bytes, t: float) -> list[Segment]:
        """See :class:`Recognizer`; ``pcm`` is int16 mono at ``sample_rate``."""
        _check_pcm(pcm)
        if self._closed:
            raise SessionStateError("recognizer is closed")
        out: list[Segment] = []
        if self._resampler is not None:
            pcm = self._resampler.process(pcm)
        self._frames(pcm, out)
        return out

    def finish(self) -> list[Segment]:
        """See :class:`Recognizer`: the open utterance, or leftover speech, decoded whole."""
        if self._closed:
            raise SessionStateError("recognizer is closed")
        out: list[Segment] = []
        if self._resampler is not None:
            self._frames(self._resampler.flush(), out)
        # Less than one VAD frame left: decoded with the rest, not classified (no zero
        # padding: digital silence shifts the decoder's normalisation).
        tail = bytes(self._pending)
        self._pending.clear()
        if self._utt is not None:
            self._end(out, tail)
        else:
            rest = [h for h in self._history if h[0] >= self._done]
            if any(speech for _, _, speech in rest):
                audio = b"".join(frame for _, frame, _ in rest) + tail
                self._final(audio, rest[0][0] * self._frame_seconds, out)
        self._done = self._index
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

RECOGNIZERS: tuple[str, ...] = ("pocketsphinx", "replay", "null", "digest")


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
    if name == "digest":
        return lambda rate, channel: DigestRecognizer(rate)
    if name == "pocketsphinx":
        return lambda rate, channel: PocketsphinxRecognizer(rate)
    if name == "replay":
        if replay is None:
            raise ParameterError("the replay recognizer needs a script per channel")
        scripts = dict(replay)
        return lambda rate, channel: ReplayRecognizer(rate, scripts.get(channel, ReplayScript(())))
    raise ParameterError(f"unknown recognizer {name!r}; choose one of {', '.join(RECOGNIZERS)}")
