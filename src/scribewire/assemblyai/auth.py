"""Credentials, hosts and URLs of AssemblyAI Universal-Streaming v3 (assemblyai.md §1).

* An API key travels raw in ``Authorization`` (no ``Bearer``, §1.2): :func:`headers`.
* A temporary token travels either as the ``token`` query parameter (browsers, the JS
  SDK) or in ``Authorization`` (the Python SDK); :func:`url` and :func:`headers` do both.
* Tokens come from ``GET /v3/token?expires_in_seconds=N[&max_session_duration_seconds=M]``
  (§1.3): :func:`token_request` builds the request, :func:`parse_token_response` reads
  the answer. This module performs no I/O: the caller sends the request.
* Hosts (§1.1): ``default`` (nearest region), ``us`` and ``eu`` data residency.

**Secrets.** :class:`ApiKey` and :class:`TemporaryToken` (both :class:`Secret`) never show
their value in ``repr``/``str``/format, refuse pickling and compare in constant time;
``reveal()`` is the only way to the value. What this module returns for the wire must
hold the raw value, so it masks it where it can: :class:`SecretHeaders` (a ``dict``) and
:class:`SecretURL` (a ``str``) mask ``Authorization`` / ``token=`` in their ``repr``.
No error message here contains a key or a token.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
from typing import NoReturn
from urllib.parse import urlencode

from ..errors import ParameterError
from .errors import InvalidMessageSchema, MalformedMessage, error_for_status
from .limits import (
    API_VERSION,
    TOKEN_EXPIRES_MAX_SECONDS,
    TOKEN_EXPIRES_MIN_SECONDS,
    TOKEN_SESSION_MAX_SECONDS,
    TOKEN_SESSION_MIN_SECONDS,
)
from .params import StreamingParams

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_USER_AGENT",
    "EU_HOST",
    "HOSTS",
    "TOKEN_PATH",
    "US_HOST",
    "WS_PATH",
    "ApiKey",
    "Secret",
    "SecretHeaders",
    "SecretURL",
    "TemporaryToken",
    "TokenGrant",
    "TokenRequest",
    "base_url",
    "headers",
    "keys_match",
    "parse_token_response",
    "token_request",
    "url",
]

#: Routed to the nearest region: Oregon, Virginia or Ireland (§1.1, D-REGION).
DEFAULT_HOST = "streaming.assemblyai.com"
#: US data residency (§1.1).
US_HOST = "streaming.us.assemblyai.com"
#: EU data residency (§1.1).
EU_HOST = "streaming.eu.assemblyai.com"
#: Region name -> host.
HOSTS: dict[str, str] = {"default": DEFAULT_HOST, "us": US_HOST, "eu": EU_HOST}
#: The WebSocket path: always ``/v3/ws`` (§1.1).
WS_PATH = "/v3/ws"
#: The temporary-token path, same host family (§1.1, §1.3).
TOKEN_PATH = "/v3/token"
#: ``User-Agent`` sent unless the caller gives one (§1.2: clients attribute themselves).
DEFAULT_USER_AGENT = "scribewire (AssemblyAI Universal-Streaming v3)"

_MASK = "***"


class Secret:
    """A credential whose value never shows in ``repr``, ``str``, format or pickles.

    Args:
        value: the key or token (a non-empty string without whitespace or control
            characters; another ``Secret`` is unwrapped).

    Raises:
        ParameterError: empty, not a string, or holds whitespace or control characters
            (it goes into an HTTP header). The message never shows the value.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        kind = type(self).__name__
        if not isinstance(value, str):
            raise ParameterError(f"{kind} must be a string, not {type(value).__name__}")
        if not value:
            raise ParameterError(f"{kind} must not be empty")
        if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ParameterError(f"{kind} must not contain whitespace or control characters")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The raw value, for the one place that puts it on the wire."""
        value: str = object.__getattribute__(self, "_value")
        return value

    def fingerprint(self) -> str:
        """A short, non-reversible label for logs: the first 8 hex digits of SHA-256."""
        return hashlib.sha256(self.reveal().encode()).hexdigest()[:8]

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{_MASK}')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.reveal().encode(), other.reveal().encode())

    def __hash__(self) -> int:
        return hash((Secret, self.reveal()))

    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} cannot be pickled")


class ApiKey(Secret):
    """An AssemblyAI API key (§1.2)."""

    __slots__ = ()


class TemporaryToken(Secret):
    """A temporary streaming token from ``GET /v3/token``: single use (§1.3)."""

    __slots__ = ()


def keys_match(presented: str | Secret | None, expected: str | Secret) -> bool:
    """Whether a presented credential equals the expected one, in constant time
    (``hmac.compare_digest``: the time does not depend on where they differ).
    None or an empty string never matches."""
    if presented is None:
        return False
    a = presented.reveal() if isinstance(presented, Secret) else presented
    b = expected.reveal() if isinstance(expected, Secret) else expected
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


class SecretHeaders(dict[str, str]):
    """Request headers holding a credential; ``repr``/``str`` mask ``Authorization``."""

    def __repr__(self) -> str:
        shown = {k: (_MASK if k.lower() == "authorization" else v) for k, v in self.items()}
        return f"SecretHeaders({shown!r})"

    __str__ = __repr__


_SECRET_QUERY_RE = re.compile(r"(?<=[?&])(token|webhook_auth_header_value)=[^&#]*")


class SecretURL(str):
    """A URL that may carry a temporary token; ``repr`` masks ``token=`` (and
    ``webhook_auth_header_value=``). ``str()`` is the real URL, for the connect call."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"SecretURL({_SECRET_QUERY_RE.sub(lambda m: m.group(1) + '=' + _MASK, self)!r})"


def _credential(value: str | Secret, cls: type[Secret]) -> str:
    return (value if isinstance(value, Secret) else cls(value)).reveal()


def base_url(host: str = DEFAULT_HOST, *, scheme: str = "wss") -> str:
    """``scheme://host`` for a host name, a region name (``default``, ``us``, ``eu``) or
    a base URL that already has a scheme (kept as given, as the SDK does for ``ws://``
    and ``wss://``, §7.1). No trailing slash.

    Raises:
        ParameterError: an empty host.
    """
    if not host:
        raise ParameterError("host must not be empty")
    host = HOSTS.get(host, host)
    if "://" in host:
        return host.rstrip("/")
    return f"{scheme}://{host.rstrip('/')}"


def url(
    params: StreamingParams,
    *,
    host: str = DEFAULT_HOST,
    token: TemporaryToken | str | None = None,
) -> SecretURL:
    """The WebSocket URL of a session: ``wss://<host>/v3/ws?<params>[&token=<tok>]``.

    Args:
        params: the session's parameters (``to_query()``, URL-encoded as the SDK does:
            spaces as ``+``).
        host: host name, region name or base URL (see :func:`base_url`).
        token: a temporary token to send as the ``token`` query parameter (browser
            style, §1.2); None when the credential goes in ``Authorization``.
    """
    query = params.to_query()
    if token is not None:
        query["token"] = _credential(token, TemporaryToken)
    return SecretURL(f"{base_url(host)}{WS_PATH}?{urlencode(query)}")


def headers(
    credential: ApiKey | TemporaryToken | str | None,
    *,
    user_agent: str | None = DEFAULT_USER_AGENT,
    version: str | None = API_VERSION,
) -> SecretHeaders:
    """Upgrade request headers (§1.2).

    Args:
        credential: an API key or a temporary token, put raw in ``Authorization`` (as
            the Python SDK does for both); None when a token travels in the URL instead.
            A plain string is taken as an API key.
        user_agent: ``User-Agent``; None leaves it to the WebSocket library.
        version: ``AssemblyAI-Version`` (the SDK pins ``2025-05-12``); None for the latest.
    """
    out = SecretHeaders()
    if credential is not None:
        out["Authorization"] = _credential(credential, ApiKey)
    if user_agent is not None:
        out["User-Agent"] = user_agent
    if version is not None:
        out["AssemblyAI-Version"] = version
    return out


# --------------------------------------------------------------------------- temporary tokens


@dataclasses.dataclass(frozen=True)
class TokenRequest:
    """An HTTP request to mint a temporary token; send it with any HTTP client.

    Attributes:
        method: ``"GET"``.
        url: the full URL, query included (no secret in it).
        path: ``/v3/token``.
        query: ``expires_in_seconds`` and, if given, ``max_session_duration_seconds``.
        headers: ``Authorization`` (the API key; masked in ``repr``) and ``User-Agent``.
    """

    method: str
    url: str
    path: str
    query: dict[str, str]
    headers: SecretHeaders


def token_request(
    api_key: ApiKey | str,
    expires_in_seconds: int,
    max_session_duration_seconds: int | None = None,
    *,
    host: str = DEFAULT_HOST,
    user_agent: str | None = DEFAULT_USER_AGENT,
) -> TokenRequest:
    """Build ``GET /v3/token`` (§1.3).

    Args:
        api_key: the key that mints (and is billed for) the token.
        expires_in_seconds: redemption window, 1-600 s: the WebSocket must open within it.
        max_session_duration_seconds: cap of the session opened with the token,
            60-10800 s (service default 10800).
        host: host name, region name or base URL; ``https://`` unless the base URL says
            otherwise (``ws://`` becomes ``http://``, ``wss://`` ``https://``).
        user_agent: ``User-Agent``, or None.

    Raises:
        ParameterError: a value outside its range (names parameter, value and rule).
    """
    query: dict[str, str] = {}
    for name, value, lo, hi in (
        ("expires_in_seconds", expires_in_seconds, TOKEN_EXPIRES_MIN_SECONDS,
         TOKEN_EXPIRES_MAX_SECONDS),
        ("max_session_duration_seconds", max_session_duration_seconds,
         TOKEN_SESSION_MIN_SECONDS, TOKEN_SESSION_MAX_SECONDS),
    ):  # fmt: skip
        if value is None and name == "max_session_duration_seconds":
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise _token_fail(name, value, "must be an integer")
        if not lo <= value <= hi:
            raise _token_fail(name, value, f"must be {lo}..{hi} seconds")
        query[name] = str(value)
    base = base_url(host, scheme="https")
    base = re.sub(r"^ws(s?)://", r"http\1://", base)
    hdrs = headers(api_key, user_agent=user_agent, version=None)
    return TokenRequest("GET", f"{base}{TOKEN_PATH}?{urlencode(query)}", TOKEN_PATH, query, hdrs)


def _token_fail(name: str, value: object, rule: str) -> ParameterError:
    err = ParameterError(f"parameter {name!r} = {value!r}: {rule} (assemblyai.md §1.3)")
    err.parameter = name  # type: ignore[attr-defined]
    err.value = value  # type: ignore[attr-defined]
    err.rule = rule  # type: ignore[attr-defined]
    return err


@dataclasses.dataclass(frozen=True)
class TokenGrant:
    """A minted token: the token (masked in ``repr``) and its redemption window, seconds."""

    token: TemporaryToken
    expires_in_seconds: int | None


def parse_token_response(status: int, body: bytes | str) -> TokenGrant:
    """Read the answer to :func:`token_request` (§1.3).

    Args:
        status: the HTTP status.
        body: the response body (JSON).

    Returns:
        The grant, for a 2xx ``{"token": str, "expires_in_seconds": int}``.

    Raises:
        TokenRequestError subclass: a non-2xx status (``TokenRequestRejected`` for 400,
            401 and other 4xx; ``TokenRequestThrottled`` for 429; ``TokenServiceError``
            for 5xx), with the body's ``error`` and ``code``.
        MalformedMessage: a 2xx body that is not a JSON object (``remote=True``).
        InvalidMessageSchema: a 2xx object without a usable ``token`` (``remote=True``).
    """
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if not 200 <= status < 300:
        if isinstance(doc, dict) and isinstance(doc.get("error"), str):
            code = doc.get("code")
            raise error_for_status(status, doc["error"], code if isinstance(code, str) else None)
        raise error_for_status(status, f"HTTP {status} without a JSON error body")
    if not isinstance(doc, dict):
        err: MalformedMessage | InvalidMessageSchema = MalformedMessage(
            "token response is not a JSON object"
        )
        err.remote = True
        raise err
    token = doc.get("token")
    expires = doc.get("expires_in_seconds")
    if not isinstance(token, str) or not token:
        err = InvalidMessageSchema("token response has no token string")
        err.remote = True
        raise err
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int)):
        err = InvalidMessageSchema("token response expires_in_seconds is not an integer")
        err.remote = True
        raise err
    try:
        grant = TemporaryToken(token)
    except ParameterError:
        err = InvalidMessageSchema("token response token holds whitespace or control characters")
        err.remote = True
        raise err from None
    return TokenGrant(grant, expires)
