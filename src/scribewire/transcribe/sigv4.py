"""AWS Signature Version 4 for Amazon Transcribe streaming (protocol.md §3.2, §4.2, §6.1).

One canonicalisation serves the signer and the verifier:

- ``presign_url`` builds the presigned WebSocket URL a client connects to (query
  signing, only ``host`` signed, payload hash = SHA-256 of the empty string, session
  token inside the signed query, ``X-Amz-Expires`` 1..300).
- ``verify_presigned`` is the server side: it re-canonicalises the received query
  exactly as the signer does and compares in constant time.
- ``EventSigner`` / ``EventSignatureVerifier`` compute and check the chained
  ``:chunk-signature`` of the HTTP/2-style signed envelope (protocol.md §4.2,
  ``AWS4-HMAC-SHA256-PAYLOAD``).

The generic pieces (``uri_encode``, ``canonical_query``, ``canonical_request``,
``string_to_sign``, ``signing_key``, ``signature``) follow the AWS SigV4 procedure and
are checked against the AWS and aws-c-auth test suites.

Nothing here reads a clock: the time is always an argument (an aware ``datetime`` or
POSIX seconds). No exception or log text ever contains a secret, a session token or an
expected signature.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .. import eventstream
from ..errors import AuthenticationError
from .credentials import Credentials

__all__ = [
    "ALGORITHM",
    "CHUNK_ALGORITHM",
    "EMPTY_SHA256",
    "MAX_EXPIRES",
    "SERVICE",
    "EventSignatureVerifier",
    "EventSigner",
    "VerifiedRequest",
    "amz_date",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "chunk_signature",
    "credential_scope",
    "default_endpoint",
    "parse_query",
    "presign_query",
    "presign_url",
    "signature",
    "signing_key",
    "string_to_sign",
    "uri_encode",
    "verify_presigned",
]

#: The SigV4 algorithm name (protocol.md §3.2).
ALGORITHM = "AWS4-HMAC-SHA256"
#: First line of an event (chunk) string to sign (protocol.md §4.2; the SDK's value).
CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"
#: The signing name of Transcribe streaming (not the host prefix ``transcribestreaming``).
SERVICE = "transcribe"
#: Hex SHA-256 of the empty string: the payload hash of a presigned WebSocket URL.
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#: Largest ``X-Amz-Expires`` Transcribe accepts, seconds (protocol.md §3.2, §5).
MAX_EXPIRES = 300
#: Port of the Transcribe WebSocket endpoints (protocol.md §3.1).
WEBSOCKET_PORT = 8443

# ASCII digits only (``\d`` would take any Unicode digit) and no trailing newline (``\Z``)
_AMZ_DATE_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z\Z")
_SIGNATURE_RE = re.compile(r"[0-9a-f]{64}\Z")
_REGION_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_DEFAULT_PORTS = {"ws": 80, "wss": 443, "http": 80, "https": 443}

# --------------------------------------------------------------------------- time


def _as_datetime(now: _dt.datetime | float | int) -> _dt.datetime:
    if isinstance(now, _dt.datetime):
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be an aware datetime (e.g. tzinfo=timezone.utc)")
        return now.astimezone(_dt.timezone.utc)
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise TypeError(f"now must be an aware datetime or POSIX seconds, got {type(now).__name__}")
    return _dt.datetime.fromtimestamp(now, _dt.timezone.utc)


def amz_date(now: _dt.datetime | float | int) -> str:
    """``YYYYMMDDTHHMMSSZ`` (UTC) for an aware datetime or POSIX seconds (protocol.md §3.2 step 1).

    Raises:
        ValueError: a naive datetime.
        TypeError: neither a datetime nor a number.
    """
    return _as_datetime(now).strftime("%Y%m%dT%H%M%SZ")


def _parse_amz_date(value: str) -> _dt.datetime:
    return _dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=_dt.timezone.utc)


# --------------------------------------------------------------------------- canonical form


def uri_encode(value: str, *, keep_slash: bool = False) -> str:
    """Percent-encode per RFC 3986 as SigV4 requires (protocol.md §3.2 step 4).

    ``A-Z a-z 0-9 - _ . ~`` stay; every other UTF-8 byte becomes ``%XX`` (upper-case hex);
    space is ``%20``, never ``+``. With ``keep_slash`` ``/`` also stays (paths).
    """
    return urllib.parse.quote(value, safe="/" if keep_slash else "", encoding="utf-8")


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """The canonical query string of decoded (name, value) pairs (protocol.md §3.2 step 4).

    Each name and value is ``uri_encode``-d, pairs are sorted by encoded name then encoded
    value (byte order, so ``X-Amz-*`` sorts before lower-case names) and joined as
    ``name=value`` with ``&``.
    """
    encoded = sorted((uri_encode(k), uri_encode(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def parse_query(query_string: str) -> list[tuple[str, str]]:
    """Split a raw query string into percent-decoded (name, value) pairs, in order.

    ``+`` is kept literally (SigV4 encodes space as ``%20``); a name without ``=`` has an
    empty value; empty segments are skipped.

    Raises:
        AuthenticationError: a name or value is not valid percent-encoded UTF-8.
    """
    pairs: list[tuple[str, str]] = []
    for part in query_string.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        try:
            pair = (
                urllib.parse.unquote(name, errors="strict"),
                urllib.parse.unquote(value, errors="strict"),
            )
            # characters that were never UTF-8 (lone surrogates from a lenient decode of
            # the raw request) cannot be canonicalised: refuse them here, not in a hash
            pair[0].encode("utf-8")
            pair[1].encode("utf-8")
        except UnicodeError:
            raise AuthenticationError(
                "query string: a parameter is not valid percent-encoded UTF-8"
            ) from None
        pairs.append(pair)
    return pairs


def _remove_dot_segments(path: str) -> str:
    out: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    result = "/" + "/".join(out)
    if out and (path.endswith("/") or path.endswith("/.") or path.endswith("/..")):
        result += "/"
    return result


def canonical_uri(path: str, *, normalize: bool = True) -> str:
    """The canonical URI of a decoded path: optionally normalised, then ``uri_encode``-d.

    With ``normalize`` (every AWS service but S3) dot segments are removed and repeated
    slashes collapsed, RFC 3986 §5.2.4 style; an empty path is ``/``.
    """
    if not path:
        path = "/"
    if normalize:
        path = _remove_dot_segments(path)
    return uri_encode(path, keep_slash=True)


def _canonical_headers(headers: Iterable[tuple[str, str]]) -> tuple[str, str]:
    merged: dict[str, list[str]] = {}
    for name, value in headers:
        key = name.strip().lower()
        merged.setdefault(key, []).append(" ".join(value.split()))
    names = sorted(merged)
    block = "".join(f"{n}:{','.join(merged[n])}\n" for n in names)
    return block, ";".join(names)


def canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    payload_hash: str = EMPTY_SHA256,
    *,
    normalize: bool = True,
) -> tuple[str, str]:
    """Build a SigV4 canonical request (protocol.md §3.2 step 5).

    Args:
        method: HTTP method, e.g. ``"GET"``.
        path: the decoded request path, e.g. ``"/stream-transcription-websocket"``.
        query: decoded (name, value) pairs, ``X-Amz-Signature`` excluded.
        headers: (name, value) pairs to sign; names are lower-cased, values trimmed with
            inner whitespace runs collapsed, repeated names joined with ``,``.
        payload_hash: hex SHA-256 of the body; the empty-string hash for WebSocket URLs.
        normalize: normalise the path (all services but S3).

    Returns:
        ``(canonical_request, signed_headers)``; ``signed_headers`` is e.g. ``"host"``.
    """
    block, signed = _canonical_headers(headers)
    creq = "\n".join(
        (
            method.upper(),
            canonical_uri(path, normalize=normalize),
            canonical_query(query),
            block,
            signed,
            payload_hash,
        )
    )
    return creq, signed


def credential_scope(date: str, region: str, service: str = SERVICE) -> str:
    """``<YYYYMMDD>/<region>/<service>/aws4_request`` (protocol.md §3.2 step 2)."""
    return f"{date[:8]}/{region}/{service}/aws4_request"


def string_to_sign(creq: str, date: str, scope: str, algorithm: str = ALGORITHM) -> str:
    """Algorithm, amz date, scope and hex SHA-256 of the canonical request (§3.2 step 7)."""
    digest = hashlib.sha256(creq.encode("utf-8")).hexdigest()
    return f"{algorithm}\n{date}\n{scope}\n{digest}"


def signing_key(secret: str, date: str, region: str, service: str = SERVICE) -> bytes:
    """The derived key: HMAC chain ``"AWS4"+secret`` > date > region > service >
    ``aws4_request`` (protocol.md §3.2 step 8). ``date`` may be the amz date or its first 8
    characters."""
    key = hmac.digest(("AWS4" + secret).encode("utf-8"), date[:8].encode("ascii"), "sha256")
    for part in (region, service, "aws4_request"):
        key = hmac.digest(key, part.encode("utf-8"), "sha256")
    return key


def signature(key: bytes, sts: str) -> str:
    """Hex HMAC-SHA256 of a string to sign with a derived key."""
    return hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- endpoints


def default_endpoint(region: str, *, fips: bool = False, dual_stack: bool = False) -> str:
    """The Transcribe streaming WebSocket base URL for a region (protocol.md §3.1).

    ``wss://transcribestreaming[-fips].<region>.amazonaws.com:8443``; dual-stack uses
    ``.api.aws``; China regions (``cn-*``) use ``.amazonaws.com.cn`` (dual-stack
    ``.api.amazonwebservices.com.cn``).

    Raises:
        ValueError: the region is not a plausible region name.
    """
    if not _REGION_RE.match(region):
        raise ValueError(f"region {region!r} is not a valid AWS region name")
    prefix = "transcribestreaming-fips" if fips else "transcribestreaming"
    china = region.startswith("cn-")
    if dual_stack:
        suffix = "api.amazonwebservices.com.cn" if china else "api.aws"
    else:
        suffix = "amazonaws.com.cn" if china else "amazonaws.com"
    return f"wss://{prefix}.{region}.{suffix}:{WEBSOCKET_PORT}"


def _split_endpoint(endpoint: str) -> tuple[str, str]:
    """``(scheme, host)`` where host is exactly what a WebSocket client sends as ``Host``."""
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"endpoint {endpoint!r} must be a ws:// or wss:// URL with a host")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"endpoint {endpoint!r} must not carry a path, query or user info")
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return parts.scheme, host


# --------------------------------------------------------------------------- presign


def _check_expires(expires: int) -> None:
    if isinstance(expires, bool) or not isinstance(expires, int):
        raise TypeError("expires must be an int (seconds)")
    if not 1 <= expires <= MAX_EXPIRES:
        raise ValueError(f"expires must be 1..{MAX_EXPIRES} seconds, got {expires}")


def _signing_pairs(
    params: Iterable[tuple[str, str]],
    credentials: Credentials,
    scope: str,
    date: str,
    expires: int,
    signed_headers: str,
) -> list[tuple[str, str]]:
    pairs = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{credentials.access_key_id}/{scope}"),
        ("X-Amz-Date", date),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", signed_headers),
    ]
    if credentials.session_token:
        pairs.append(("X-Amz-Security-Token", credentials.session_token))
    pairs.extend(params)
    return pairs


def presign_query(
    *,
    method: str,
    path: str,
    params: Iterable[tuple[str, str]],
    headers: Sequence[tuple[str, str]],
    credentials: Credentials,
    region: str,
    service: str,
    now: _dt.datetime | float | int,
    expires: int,
    payload_hash: str = EMPTY_SHA256,
    normalize: bool = True,
) -> tuple[str, str, str, str]:
    """Generic SigV4 query signing (any service, any expiry; used by the test suites).

    Returns:
        ``(canonical_request, string_to_sign, signature, query)`` where ``query`` is the
        canonical query followed by ``&X-Amz-Signature=<signature>``.
    """
    date = amz_date(now)
    scope = credential_scope(date, region, service)
    signed = ";".join(sorted({n.strip().lower() for n, _ in headers}))
    pairs = _signing_pairs(params, credentials, scope, date, expires, signed)
    creq, _ = canonical_request(method, path, pairs, headers, payload_hash, normalize=normalize)
    sts = string_to_sign(creq, date, scope)
    sig = signature(signing_key(credentials.secret_access_key, date, region, service), sts)
    return creq, sts, sig, f"{canonical_query(pairs)}&X-Amz-Signature={sig}"


def presign_url(
    *,
    credentials: Credentials,
    region: str,
    path: str,
    query: Mapping[str, str],
    now: _dt.datetime | float | int,
    expires: int = MAX_EXPIRES,
    endpoint: str | None = None,
) -> str:
    """A presigned Transcribe WebSocket URL (protocol.md §3.2).

    Args:
        credentials: the AWS credentials; a session token goes inside the signed query.
        region: AWS region, e.g. ``"us-west-2"`` (in the credential scope).
        path: the WebSocket path, e.g. ``"/stream-transcription-websocket"``.
        query: the operation parameters by wire name (``StreamParams.to_query()``); must
            not contain ``X-Amz-*`` names.
        now: signing time, an aware datetime or POSIX seconds (no clock is read).
        expires: ``X-Amz-Expires`` in seconds, 1..300.
        endpoint: base URL; None = ``default_endpoint(region)``
            (``wss://transcribestreaming.<region>.amazonaws.com:8443``); a local service
            such as ``ws://127.0.0.1:54321``. The signed ``host`` is the endpoint's host
            with its port unless the port is the scheme's default, i.e. exactly the
            ``Host`` header a WebSocket client sends.

    Returns:
        ``<endpoint><path>?<canonical query>&X-Amz-Signature=<hex>``.

    Raises:
        ValueError: bad ``expires``, region, endpoint, or an ``X-Amz-*`` parameter.
        TypeError: ``now`` or ``expires`` of the wrong type.
    """
    _check_expires(expires)
    if endpoint is None:
        endpoint = default_endpoint(region)
    elif not _REGION_RE.match(region):
        raise ValueError(f"region {region!r} is not a valid AWS region name")
    scheme, host = _split_endpoint(endpoint)
    if not path.startswith("/"):
        raise ValueError(f"path {path!r} must start with '/'")
    for name in query:
        if name.lower().startswith("x-amz-"):
            raise ValueError(f"query parameter {name!r} is reserved for the signature")
    _, _, _, signed_query = presign_query(
        method="GET",
        path=path,
        params=query.items(),
        headers=[("host", host)],
        credentials=credentials,
        region=region,
        service=SERVICE,
        now=now,
        expires=expires,
    )
    return f"{scheme}://{host}{uri_encode(path, keep_slash=True)}?{signed_query}"


# --------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class VerifiedRequest:
    """What ``verify_presigned`` established about an accepted URL.

    Attributes:
        access_key_id: the access key that signed.
        params: the decoded operation parameters (``X-Amz-*`` removed), wire names.
        signed_at: ``X-Amz-Date`` as an aware UTC datetime.
        expires: ``X-Amz-Expires`` in seconds.
        seed_signature: the URL's ``X-Amz-Signature`` (hex); the first prior signature of
            the event-signature chain (protocol.md §4.2). Public: it is in the URL.
        session_token_used: whether an ``X-Amz-Security-Token`` was present and matched.
    """

    access_key_id: str
    params: dict[str, str]
    signed_at: _dt.datetime
    expires: int
    seed_signature: str = field(repr=False)
    session_token_used: bool = False


SecretLookup = Callable[[str], "tuple[str, str | None] | None"]


def verify_presigned(
    *,
    path: str,
    query_string: str,
    host: str,
    region: str,
    now: _dt.datetime | float | int,
    lookup_secret: SecretLookup,
    max_skew: int = 300,
) -> VerifiedRequest:
    """Verify a presigned Transcribe WebSocket request (protocol.md §6.1 steps 2-4).

    Checks, in order (each failure names itself): well-formed query; algorithm
    ``AWS4-HMAC-SHA256``; ``X-Amz-Date`` format; ``X-Amz-Credential`` scope (date ==
    ``X-Amz-Date[:8]``, region, service ``transcribe``, ``aws4_request``);
    ``X-Amz-Expires`` integer 1..300; not expired (now > date + expires) and not in the
    future by more than ``max_skew``; ``X-Amz-SignedHeaders`` == ``host``; signature
    format (64 lower-case hex); known access key; session token matches; signature
    (constant-time compare).

    Args:
        path: the request path as received (percent-encoded form is decoded first).
        query_string: the raw query string (after ``?``), any parameter order.
        host: the ``Host`` header exactly as received.
        region: the region this server serves.
        now: current time, aware datetime or POSIX seconds.
        lookup_secret: ``access_key_id -> (secret, session_token_or_None)``, or None if
            the key is unknown. With a token configured the request must carry it.
        max_skew: seconds ``X-Amz-Date`` may lie in the future.

    Returns:
        ``VerifiedRequest``.

    Raises:
        AuthenticationError: naming the failed check; never the secret, the token or the
            expected signature.
    """
    pairs = parse_query(query_string)
    amz: dict[str, str] = {}
    params: dict[str, str] = {}
    signed_pairs: list[tuple[str, str]] = []
    for name, value in pairs:
        if name.startswith("X-Amz-"):
            if name in amz:
                raise AuthenticationError(f"query parameter {name} occurs twice")
            amz[name] = value
        else:
            if name in params:
                raise AuthenticationError(f"query parameter {name!r} occurs twice")
            params[name] = value
        if name != "X-Amz-Signature":
            signed_pairs.append((name, value))
    for required in (
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ):
        if required not in amz:
            raise AuthenticationError(f"missing query parameter {required}")
    if amz["X-Amz-Algorithm"] != ALGORITHM:
        raise AuthenticationError(f"X-Amz-Algorithm must be {ALGORITHM}")
    date = amz["X-Amz-Date"]
    if not _AMZ_DATE_RE.match(date):
        raise AuthenticationError("X-Amz-Date is not in YYYYMMDDTHHMMSSZ format")
    try:
        signed_at = _parse_amz_date(date)
    except ValueError:
        raise AuthenticationError("X-Amz-Date is not a valid date and time") from None
    cred = amz["X-Amz-Credential"].split("/")
    if len(cred) != 5 or not cred[0]:
        raise AuthenticationError(
            "X-Amz-Credential must be <access key>/<date>/<region>/<service>/aws4_request"
        )
    access_key_id, scope_date, scope_region, scope_service, terminator = cred
    if scope_date != date[:8]:
        raise AuthenticationError("credential scope date does not match X-Amz-Date")
    if scope_region != region:
        raise AuthenticationError(
            f"credential scope region {scope_region!r} is not this endpoint's region {region!r}"
        )
    if scope_service != SERVICE:
        raise AuthenticationError(f"credential scope service {scope_service!r} is not {SERVICE!r}")
    if terminator != "aws4_request":
        raise AuthenticationError("credential scope must end with aws4_request")
    expires_text = amz["X-Amz-Expires"]
    if not expires_text.isascii() or not expires_text.isdigit():
        raise AuthenticationError("X-Amz-Expires must be an integer number of seconds")
    # no int() of an unbounded digit string (past 4,300 digits int() itself refuses)
    significant = expires_text.lstrip("0") or "0"
    expires = int(significant) if len(significant) <= len(str(MAX_EXPIRES)) else MAX_EXPIRES + 1
    if not 1 <= expires <= MAX_EXPIRES:
        raise AuthenticationError(f"X-Amz-Expires must be 1..{MAX_EXPIRES} seconds")
    current = _as_datetime(now)
    # differences, not sums: X-Amz-Date may be 9999-12-31, where adding seconds overflows
    if current - signed_at > _dt.timedelta(seconds=expires):
        raise AuthenticationError("presigned URL has expired (X-Amz-Date + X-Amz-Expires)")
    if signed_at - current > _dt.timedelta(seconds=max_skew):
        raise AuthenticationError(
            f"X-Amz-Date is more than {max_skew} s in the future (clock skew)"
        )
    if amz["X-Amz-SignedHeaders"] != "host":
        raise AuthenticationError("X-Amz-SignedHeaders must be exactly 'host'")
    given = amz["X-Amz-Signature"]
    if not _SIGNATURE_RE.match(given):
        raise AuthenticationError("X-Amz-Signature must be 64 lower-case hex digits")
    found = lookup_secret(access_key_id)
    if found is None:
        raise AuthenticationError("unknown access key id")
    secret, token = found
    sent_token = amz.get("X-Amz-Security-Token")
    if token is not None:
        if sent_token is None:
            raise AuthenticationError("missing X-Amz-Security-Token")
        if not hmac.compare_digest(sent_token.encode("utf-8"), token.encode("utf-8")):
            raise AuthenticationError("X-Amz-Security-Token does not match")
    elif sent_token is not None:
        raise AuthenticationError("X-Amz-Security-Token given for long-term credentials")
    creq, _ = canonical_request("GET", urllib.parse.unquote(path), signed_pairs, [("host", host)])
    scope = credential_scope(date, region)
    expected = signature(signing_key(secret, date, region), string_to_sign(creq, date, scope))
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("ascii")):
        raise AuthenticationError("signature does not match")
    return VerifiedRequest(
        access_key_id=access_key_id,
        params=params,
        signed_at=signed_at,
        expires=expires,
        seed_signature=given,
        session_token_used=sent_token is not None,
    )


# --------------------------------------------------------------------------- event signing


def chunk_signature(
    key: bytes,
    date: str,
    scope: str,
    prior_signature: bytes,
    date_header_block: bytes,
    payload: bytes,
) -> bytes:
    """The 32-byte ``:chunk-signature`` of one signed envelope (protocol.md §4.2).

    String to sign: ``AWS4-HMAC-SHA256-PAYLOAD``, amz date, scope, hex of the prior
    signature, hex SHA-256 of the encoded ``:date`` header block, hex SHA-256 of the
    payload (the inner message bytes; empty for the end of stream).
    """
    sts = "\n".join(
        (
            CHUNK_ALGORITHM,
            date,
            scope,
            prior_signature.hex(),
            hashlib.sha256(date_header_block).hexdigest(),
            hashlib.sha256(payload).hexdigest(),
        )
    )
    return hmac.digest(key, sts.encode("utf-8"), "sha256")


def _date_block(date_ms: int) -> bytes:
    return eventstream.encode_headers({":date": eventstream.Timestamp(date_ms)})


class EventSigner:
    """Signs a chain of envelopes, seeded with the URL's ``X-Amz-Signature`` (§4.2).

    Args:
        credentials: the credentials that presigned the URL.
        region: the region of the credential scope.
        seed_signature: the first prior signature: hex string (the URL's signature) or
            raw bytes.
        service: signing name, default ``transcribe``.
    """

    __slots__ = ("_credentials", "_region", "_service", "_prior", "_keys")

    def __init__(
        self,
        credentials: Credentials,
        region: str,
        seed_signature: str | bytes,
        *,
        service: str = SERVICE,
    ) -> None:
        self._credentials = credentials
        self._region = region
        self._service = service
        self._prior = (
            bytes.fromhex(seed_signature) if isinstance(seed_signature, str) else seed_signature
        )
        self._keys: dict[str, bytes] = {}

    def _key(self, date: str) -> bytes:
        key = self._keys.get(date[:8])
        if key is None:
            key = signing_key(
                self._credentials.secret_access_key, date, self._region, self._service
            )
            self._keys = {date[:8]: key}
        return key

    def sign(self, payload: bytes, now: _dt.datetime | float | int) -> tuple[int, bytes]:
        """Sign the next envelope payload; returns ``(date_ms, signature)`` and advances.

        Args:
            payload: the inner message bytes (empty = end of stream).
            now: signing time (aware datetime or POSIX seconds); ``:date`` carries it in
                whole milliseconds, the string to sign in whole seconds.
        """
        when = _as_datetime(now)
        date_ms = int(when.timestamp() * 1000)
        date = when.strftime("%Y%m%dT%H%M%SZ")
        scope = credential_scope(date, self._region, self._service)
        sig = chunk_signature(
            self._key(date), date, scope, self._prior, _date_block(date_ms), payload
        )
        self._prior = sig
        return date_ms, sig


class EventSignatureVerifier:
    """Checks the envelope signature chain on the server side (protocol.md §4.2, §6.2.3).

    Args:
        secret_access_key: the secret of the URL's access key.
        region: the server's region.
        seed_signature: the URL's ``X-Amz-Signature`` (``VerifiedRequest.seed_signature``).
        max_skew: seconds a ``:date`` may differ from ``now`` (when ``now`` is given).
    """

    __slots__ = ("_secret", "_region", "_prior", "_max_skew", "_keys")

    def __init__(
        self,
        secret_access_key: str,
        region: str,
        seed_signature: str | bytes,
        *,
        max_skew: int = 300,
    ) -> None:
        self._secret = secret_access_key
        self._region = region
        self._prior = (
            bytes.fromhex(seed_signature) if isinstance(seed_signature, str) else seed_signature
        )
        self._max_skew = max_skew
        self._keys: dict[str, bytes] = {}

    def verify(
        self,
        date_ms: int,
        chunk_sig: bytes,
        payload: bytes,
        now: _dt.datetime | float | int | None = None,
    ) -> None:
        """Check one envelope and advance the chain.

        Raises:
            AuthenticationError: stale/future ``:date`` or a signature mismatch.
        """
        when = _dt.datetime.fromtimestamp(date_ms / 1000, _dt.timezone.utc)
        if now is not None:
            current = _as_datetime(now)
            if abs((current - when).total_seconds()) > self._max_skew:
                raise AuthenticationError("envelope :date is outside the allowed clock skew")
        date = when.strftime("%Y%m%dT%H%M%SZ")
        key = self._keys.get(date[:8])
        if key is None:
            key = signing_key(self._secret, date, self._region)
            self._keys = {date[:8]: key}
        scope = credential_scope(date, self._region)
        expected = chunk_signature(key, date, scope, self._prior, _date_block(date_ms), payload)
        if not hmac.compare_digest(expected, chunk_sig):
            raise AuthenticationError("envelope :chunk-signature does not match")
        self._prior = expected
