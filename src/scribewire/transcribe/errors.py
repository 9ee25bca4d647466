"""Amazon Transcribe's service exceptions, by the names the service gives them.

The service ends a stream with an ``exception`` message whose ``:exception-type`` header
names one of these (protocol.md §4.5, §6); the HTTP equivalents are in each docstring.
The root classes (``ServiceError`` and the rest of the tree) are in ``scribewire.errors``.
::

    ServiceError
    ├── BadRequestException
    ├── LimitExceededException             retryable
    ├── InternalFailureException           retryable
    ├── ConflictException
    ├── ServiceUnavailableException        retryable
    └── UnrecognizedClientException
"""

from __future__ import annotations

from ..errors import ServiceError

__all__ = [
    "BadRequestException",
    "ConflictException",
    "InternalFailureException",
    "LimitExceededException",
    "ServiceUnavailableException",
    "UnrecognizedClientException",
    "service_error",
]


class BadRequestException(ServiceError):
    """Invalid parameters, or a client error while streaming (HTTP 400 equivalent)."""

    code = "BadRequestException"


class LimitExceededException(ServiceError):
    """Stream quota, 4 h duration, or ramp rate exceeded (HTTP 429); retry with backoff."""

    code = "LimitExceededException"
    retryable = True


class InternalFailureException(ServiceError):
    """Service-side processing failure (HTTP 500); retryable."""

    code = "InternalFailureException"
    retryable = True


class ConflictException(ServiceError):
    """A newer stream took this stream's ``session-id`` (HTTP 409)."""

    code = "ConflictException"


class ServiceUnavailableException(ServiceError):
    """The service is unavailable (HTTP 503); retryable."""

    code = "ServiceUnavailableException"
    retryable = True


class UnrecognizedClientException(ServiceError):
    """The upgrade request's signature or credentials were not accepted."""

    code = "UnrecognizedClientException"


_SERVICE_ERRORS: dict[str, type[ServiceError]] = {
    cls.code: cls
    for cls in (
        BadRequestException,
        LimitExceededException,
        InternalFailureException,
        ConflictException,
        ServiceUnavailableException,
        UnrecognizedClientException,
    )
}


def service_error(code: str, message: str) -> ServiceError:
    """The ``ServiceError`` subclass for a service's exception name (unknown names kept)."""
    cls = _SERVICE_ERRORS.get(code)
    if cls is None:
        return ServiceError(message, code=code)
    return cls(message)
