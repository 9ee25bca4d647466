"""AssemblyAI close codes -> typed ServiceError subclasses (assemblyai.md §5)."""

from __future__ import annotations

import pickle

import pytest

from scribewire.assemblyai import errors as E
from scribewire.assemblyai.limits import CLOSE_REASONS, CloseCode
from scribewire.errors import ProtocolError, ScribewireError, ServiceError

# every code of §5.1 and the SDK tables of §5.2 / §5.3, with its class and retryability
EXPECTED: list[tuple[int, type[E.AssemblyAIServiceError], bool]] = [
    (1008, E.UnauthorizedConnection, False),
    (1013, E.TryAgainLater, True),
    (3005, E.ServerError, True),
    (3006, E.InputValidationError, False),
    (3007, E.AudioDurationViolation, False),
    (3008, E.SessionExpired, True),
    (3009, E.TooManySessions, True),
    (4000, E.InvalidSampleRate, False),
    (4001, E.NotAuthorized, False),
    (4002, E.InsufficientFunds, False),
    (4003, E.PaidFeatureRequired, False),
    (4004, E.SessionNotFound, True),
    (4008, E.SessionExpiredV2, True),
    (4010, E.SessionPreviouslyClosed, True),
    (4029, E.AudioTooFast, True),
    (4030, E.SessionTaken, False),
    (4031, E.SessionIdle, True),
    (4032, E.AudioTooShort, False),
    (4033, E.AudioTooLong, False),
    (4034, E.AudioTooSmall, False),
    (4100, E.InvalidJSONError, False),
    (4101, E.InvalidSchemaError, False),
    (4102, E.TooManyStreams, True),
    (4103, E.SessionReconnected, False),
]


def test_every_close_code_has_a_row() -> None:
    assert {c for c, _, _ in EXPECTED} == {int(c) for c in CloseCode} - {1000}


@pytest.mark.parametrize(("code", "cls", "retryable"), EXPECTED, ids=[str(c) for c, _, _ in EXPECTED])
def test_error_for_close(code: int, cls: type[E.AssemblyAIServiceError], retryable: bool) -> None:
    err = E.error_for_close(code, "the reason")
    assert type(err) is cls
    assert isinstance(err, ServiceError) and isinstance(err, ScribewireError)
    assert err.close_code == code and err.code == str(code)
    assert err.retryable is retryable and cls.retryable is retryable
    assert err.message == "the reason"
    assert str(err) == f"{code}: the reason"
    # a close without a reason carries the table text (§5.2)
    bare = E.error_for_close(code, "")
    assert bare is not None and bare.message == CLOSE_REASONS[code]


def test_normal_close_is_no_error() -> None:
    assert E.error_for_close(1000, "") is None
    assert E.error_for_close(1000, "bye") is None


def test_rate_limit_on_1008_and_3009_is_one_retryable_class() -> None:
    # §5.1 / §9: the concurrency page says 1008, the errors table 3009
    a = E.error_for_close(1008, "Unauthorized connection: Too many concurrent sessions")
    b = E.error_for_close(3009, "Unauthorized connection: Too many concurrent sessions")
    assert type(a) is type(b) is E.TooManySessions
    assert a is not None and a.close_code == 1008 and a.retryable
    assert b is not None and b.close_code == 3009
    other = E.error_for_close(1008, "Unauthorized Connection: Missing Authorization header")
    assert type(other) is E.UnauthorizedConnection and not other.retryable


def test_rate_exceeded_variant_of_3007() -> None:
    err = E.error_for_close(3007, "Audio Transmission Rate Exceeded: Received 314.9 sec. audio in 1.312326 sec")
    assert type(err) is E.AudioRateExceeded and err.retryable and err.close_code == 3007
    assert isinstance(err, E.AudioDurationViolation)
    dur = E.error_for_close(3007, "Input duration violation: 25.0 ms. Expected between 50 and 1000 ms")
    assert type(dur) is E.AudioDurationViolation and not dur.retryable


@pytest.mark.parametrize("code", [1011, 3999, 4999])
def test_unknown_code_keeps_code_and_reason(code: int) -> None:
    err = E.error_for_close(code, "")
    assert type(err) is E.AssemblyAIServiceError
    assert err.close_code == code and err.code == str(code)
    assert err.message == f"Connection closed (code={code})"  # the SDK's wording (§5.2)
    assert E.error_for_close(code, "odd").message == "odd"  # type: ignore[union-attr]
    assert not err.retryable


@pytest.mark.parametrize("code", [1008, 3007, 4999])
def test_errors_pickle(code: int) -> None:
    err = E.error_for_close(code, "why")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and back.close_code == code and back.message == "why"


def test_error_without_code() -> None:
    err = E.AssemblyAIServiceError("bare error")
    assert err.close_code is None and err.code == "AssemblyAIServiceError"
    assert str(err) == "AssemblyAIServiceError: bare error"


def test_token_errors_by_status() -> None:
    assert type(E.error_for_status(400, "x")) is E.TokenRequestRejected
    assert type(E.error_for_status(401, "x")) is E.TokenRequestRejected
    assert type(E.error_for_status(429, "x")) is E.TokenRequestThrottled
    assert type(E.error_for_status(503, "x")) is E.TokenServiceError
    err = E.error_for_status(429, "slow down", "rate_limited")
    assert err.retryable and err.status == 429 and err.error_code == "rate_limited" and err.code == "429"
    back = pickle.loads(pickle.dumps(err))
    assert (back.status, back.message, back.error_code) == (429, "slow down", "rate_limited")
    assert not E.error_for_status(401).retryable


def test_protocol_errors_are_protocol_errors() -> None:
    for cls in (E.MalformedMessage, E.InvalidMessageSchema, E.UnexpectedBinaryMessage, E.OutOfOrderMessage):
        assert issubclass(cls, ProtocolError)
