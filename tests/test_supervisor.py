"""The sans-I/O supervisor: which failures reconnect, the budget that cannot reset
forever, backoff, rollover and the absolute end deadline. Plain numbers for time."""

from __future__ import annotations

import math

import pytest

from scribewire.errors import (
    ConnectionClosed,
    CredentialsError,
    HandshakeRejected,
    ParameterError,
    ProtocolError,
)
from scribewire.streaming.supervisor import Finish, GiveUp, Reconnect, Supervisor, is_retryable
from scribewire.transcribe.errors import (
    BadRequestException,
    InternalFailureException,
    LimitExceededException,
    ServiceUnavailableException,
)

LOST = ConnectionClosed(None, "connection lost")


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (LOST, True),
        (ConnectionClosed(1011, "internal"), True),
        (ConnectionClosed(None, "end() timed out", retryable=False), False),
        (InternalFailureException("x"), True),
        (ServiceUnavailableException("x"), True),
        (LimitExceededException("x"), True),
        (BadRequestException("x"), False),
        (HandshakeRejected(429), True),
        (HandshakeRejected(503), True),
        (HandshakeRejected(403), False),
        (ProtocolError("bad crc"), False),
        (CredentialsError("none"), False),
        (ValueError("?"), False),
    ],
)
def test_what_is_retryable(error: BaseException, retry: bool) -> None:
    assert is_retryable(error) is retry
    sup = Supervisor(reconnect_attempts=3)
    sup.opened(0.0)
    action = sup.connection_ended(1.0, error)
    assert isinstance(action, Reconnect if retry else GiveUp)
    if not retry:
        assert action.error is error  # type: ignore[union-attr]


def test_normal_end_and_rollover() -> None:
    sup = Supervisor(rollover_after=100.0)
    sup.opened(0.0)
    assert not sup.rollover_due(99.9) and sup.rollover_due(100.0)
    assert sup.connection_ended(5.0, None, rolled=True) == Reconnect(5.0, rollover=True)
    assert sup.connection_ended(6.0, None) == Finish()


def test_backoff_doubles_and_is_capped() -> None:
    sup = Supervisor(reconnect_attempts=10, backoff_first=0.25, backoff_max=1.0, window=1e9)
    sup.opened(0.0)
    delays = []
    now = 10.0
    for _ in range(5):
        action = sup.connection_ended(now, LOST)
        assert isinstance(action, Reconnect)
        delays.append(action.at - now)
        sup.opened(action.at)
        now = action.at + 0.1
    assert delays == [0.25, 0.5, 1.0, 1.0, 1.0]


def test_a_peer_that_fails_after_one_event_is_given_up_on() -> None:
    """The old rule (reset on any event) reconnected forever: 326 connections in 100 s."""
    sup = Supervisor(reconnect_attempts=3, window=60.0, healthy_after=10.0)
    now = 0.0
    sup.opened(now)
    connections = 1
    while True:
        now += 0.5  # an event arrives and even moves the ack point, then the peer fails
        sup.acknowledged()
        action = sup.connection_ended(now, InternalFailureException("boom"))
        if isinstance(action, GiveUp):
            break
        assert isinstance(action, Reconnect)
        now = action.at
        sup.opened(now)
        connections += 1
    assert connections == 4 and isinstance(action.error, InternalFailureException)


def test_budget_resets_only_after_a_healthy_acknowledging_connection() -> None:
    sup = Supervisor(reconnect_attempts=2, window=1e9, healthy_after=10.0)
    sup.opened(0.0)
    for _ in range(2):
        action = sup.connection_ended(sup._opened_at + 1.0, LOST)  # noqa: SLF001
        assert isinstance(action, Reconnect)
        sup.opened(action.at)
    # long-lived but never acknowledging: no reset
    assert isinstance(sup.connection_ended(sup._opened_at + 100.0, LOST), GiveUp)  # noqa: SLF001
    sup2 = Supervisor(reconnect_attempts=2, window=1e9, healthy_after=10.0)
    sup2.opened(0.0)
    for _ in range(10):  # each connection stays up 20 s and acknowledges: forever fine
        sup2.acknowledged()
        action = sup2.connection_ended(sup2._opened_at + 20.0, LOST)  # noqa: SLF001
        assert isinstance(action, Reconnect)
        sup2.opened(action.at)


def test_attempts_are_counted_over_a_window() -> None:
    sup = Supervisor(reconnect_attempts=2, window=60.0, healthy_after=1e9)
    sup.opened(0.0)
    t = 0.0
    for _ in range(2):
        action = sup.connection_ended(t, LOST)
        assert isinstance(action, Reconnect)
        t = action.at
        sup.opened(t)
    assert isinstance(sup.connect_failed(t + 1, LOST), GiveUp)
    # an hour later the old attempts have left the window
    assert isinstance(sup.connect_failed(t + 3600, LOST), Reconnect)


def test_connect_failures_use_the_same_budget() -> None:
    sup = Supervisor(reconnect_attempts=2, window=1e9)
    sup.opened(0.0)
    assert isinstance(sup.connection_ended(1.0, LOST), Reconnect)
    assert isinstance(sup.connect_failed(2.0, HandshakeRejected(503)), Reconnect)
    assert isinstance(sup.connect_failed(3.0, HandshakeRejected(503)), GiveUp)
    assert isinstance(sup.connect_failed(3.0, HandshakeRejected(403)), GiveUp)
    assert sup.reconnects == 2 and sup.connections == 1


def test_zero_attempts_never_reconnect() -> None:
    sup = Supervisor(reconnect_attempts=0)
    sup.opened(0.0)
    assert isinstance(sup.connection_ended(1.0, LOST), GiveUp)


def test_end_deadline_is_set_once_from_the_first_call() -> None:
    sup = Supervisor(end_timeout=30.0)
    assert sup.end_deadline(100.0) == 130.0
    assert sup.end_deadline(125.0) == 130.0  # messages or calls later never move it


@pytest.mark.parametrize(
    "kw",
    [
        {"reconnect_attempts": -1},
        {"reconnect_attempts": True},
        {"window": 0},
        {"window": math.inf},
        {"healthy_after": -1},
        {"backoff_first": math.nan},
        {"rollover_after": 0},
        {"end_timeout": "soon"},
    ],
)
def test_bad_arguments(kw: dict[str, object]) -> None:
    with pytest.raises(ParameterError):
        Supervisor(**kw)  # type: ignore[arg-type]
