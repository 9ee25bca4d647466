"""SigV4: AWS and aws-c-auth suites, derived Transcribe presigns, event signing, verification."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import urllib.parse
from pathlib import Path

import pytest

from scribewire import eventstream
from scribewire.errors import AuthenticationError
from scribewire.transcribe import (
    Credentials,
    EventSignatureVerifier,
    EventSigner,
    StreamParams,
    default_endpoint,
    presign_url,
    sigv4,
    verify_presigned,
)

UTC = dt.timezone.utc
T0 = dt.datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
AK = "AKIDEXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"


# --------------------------------------------------------------------------- request parsing


def parse_request(raw: bytes) -> tuple[str, str, list[tuple[str, str]], list[tuple[str, str]], bytes]:
    """Parse a suite ``request.txt`` / ``.req``: method, path, query pairs, headers, body."""
    head, sep, body = raw.partition(b"\n\n")
    lines = head.decode("utf-8").split("\n")
    request_line = lines[0]
    method, rest = request_line.split(" ", 1)
    target = rest.rsplit(" ", 1)[0]
    path, _, query = target.partition("?")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, _, value = line.partition(":")
        headers.append((name, value))
    return method, path, sigv4.parse_query(query), headers, body


SUITE = "vectors/sigv4/aws-signing-test-suite/v4"


def suite_cases(shared: Path | None) -> list[str]:
    from conftest import shared_path

    base = shared_path()
    if base is None:
        return []
    return sorted(p.name for p in (base / SUITE).iterdir() if p.is_dir())


_CASES = suite_cases(None)


@pytest.mark.parametrize("case", _CASES)
def test_aws_c_auth_query_variant(shared_dir: Path, case: str) -> None:
    d = shared_dir / SUITE / case
    ctx = json.loads((d / "context.json").read_text())
    method, path, query, headers, body = parse_request((d / "request.txt").read_bytes())
    cred = ctx["credentials"]
    creds = Credentials(
        cred["access_key_id"],
        cred["secret_access_key"],
        None if ctx.get("omit_session_token") else cred.get("token"),
    )
    payload_hash = hashlib.sha256(body if ctx["sign_body"] else b"").hexdigest()
    creq, sts, sig, _ = sigv4.presign_query(
        method=method,
        path=urllib.parse.unquote(path),
        params=query,
        headers=headers,
        credentials=creds,
        region=ctx["region"],
        service=ctx["service"],
        now=dt.datetime.fromisoformat(ctx["timestamp"].replace("Z", "+00:00")),
        expires=ctx["expiration_in_seconds"],
        payload_hash=payload_hash,
        normalize=ctx["normalize"],
    )
    assert creq == (d / "query-canonical-request.txt").read_text()
    assert sts == (d / "query-string-to-sign.txt").read_text()
    assert sig == (d / "query-signature.txt").read_text().strip()


@pytest.mark.parametrize("case", _CASES)
def test_aws_c_auth_header_variant_canonical_request(shared_dir: Path, case: str) -> None:
    """The same canonicalisation reproduces the header-signing canonical requests."""
    d = shared_dir / SUITE / case
    ctx = json.loads((d / "context.json").read_text())
    method, path, query, headers, body = parse_request((d / "request.txt").read_bytes())
    date = sigv4.amz_date(dt.datetime.fromisoformat(ctx["timestamp"].replace("Z", "+00:00")))
    headers = [*headers, ("X-Amz-Date", date)]
    token = ctx["credentials"].get("token")
    if token and not ctx.get("omit_session_token"):
        headers.append(("X-Amz-Security-Token", token))
    payload_hash = hashlib.sha256(body if ctx["sign_body"] else b"").hexdigest()
    if ctx["sign_body"]:
        headers.append(("X-Amz-Content-Sha256", payload_hash))
    creq, _ = sigv4.canonical_request(
        method, urllib.parse.unquote(path), query, headers, payload_hash, normalize=ctx["normalize"]
    )
    assert creq == (d / "header-canonical-request.txt").read_text()
    scope = sigv4.credential_scope(date, ctx["region"], ctx["service"])
    sts = sigv4.string_to_sign(creq, date, scope)
    assert sts == (d / "header-string-to-sign.txt").read_text()
    key = sigv4.signing_key(ctx["credentials"]["secret_access_key"], date, ctx["region"], ctx["service"])
    assert sigv4.signature(key, sts) == (d / "header-signature.txt").read_text().strip()


def aws4_cases() -> list[str]:
    from conftest import shared_path

    base = shared_path()
    if base is None:
        return []
    root = base / "vectors/sigv4/aws4_testsuite"
    return sorted(str(p.parent.relative_to(root)) for p in root.rglob("*.req"))


@pytest.mark.parametrize("case", aws4_cases())
def test_aws4_testsuite(shared_dir: Path, case: str) -> None:
    d = shared_dir / "vectors/sigv4/aws4_testsuite" / case
    name = d.name
    method, path, query, headers, body = parse_request((d / f"{name}.req").read_bytes())
    expected_creq = (d / f"{name}.creq").read_text()
    if "x-amz-security-token:" in expected_creq and not any(
        k.lower() == "x-amz-security-token" for k, _ in headers
    ):
        headers.append(("X-Amz-Security-Token", TOKEN))  # the suite adds the token when signing
    creq, signed = sigv4.canonical_request(
        method, urllib.parse.unquote(path), query, headers, hashlib.sha256(body).hexdigest()
    )
    assert creq == expected_creq
    date = dict((k.lower(), v) for k, v in headers)["x-amz-date"]
    scope = sigv4.credential_scope(date, "us-east-1", "service")
    sts = sigv4.string_to_sign(creq, date, scope)
    assert sts == (d / f"{name}.sts").read_text()
    sig = sigv4.signature(sigv4.signing_key(SK, date, "us-east-1", "service"), sts)
    authz = (d / f"{name}.authz").read_text()
    assert authz.endswith(f"Signature={sig}")
    assert f"SignedHeaders={signed}," in authz


# --------------------------------------------------------------------------- derived presigns


def derived(shared_dir: Path) -> dict:
    return json.loads((shared_dir / "vectors/sigv4/derived/transcribe_presign_cases.json").read_text())


def test_derived_transcribe_presigns(shared_dir: Path) -> None:
    data = derived(shared_dir)
    meta = data["meta"]
    c = meta["credentials"]
    assert len(data["cases"]) == 4
    for name, case in data["cases"].items():
        creds = Credentials(c["access_key_id"], c["secret_access_key"], case["session_token"])
        url = presign_url(
            credentials=creds, region=meta["region"], path=meta["path"], query=case["params"], now=T0
        )
        assert url == case["url"], name
        creq, sts, sig, _ = sigv4.presign_query(
            method="GET",
            path=meta["path"],
            params=case["params"].items(),
            headers=[("host", meta["host_signed"])],
            credentials=creds,
            region=meta["region"],
            service="transcribe",
            now=T0,
            expires=meta["expires"],
        )
        assert (creq, sts, sig) == (case["canonical_request"], case["string_to_sign"], case["signature"])


def test_derived_presigns_verify_in_any_order(shared_dir: Path) -> None:
    data = derived(shared_dir)
    meta = data["meta"]
    c = meta["credentials"]
    for case in data["cases"].values():
        parts = urllib.parse.urlsplit(case["url"])
        shuffled = "&".join(reversed(parts.query.split("&")))
        token = case["session_token"]
        v = verify_presigned(
            path=parts.path,
            query_string=shuffled,
            host=meta["host_signed"],
            region=meta["region"],
            now=T0 + dt.timedelta(seconds=299),
            lookup_secret=lambda ak, token=token: (
                (c["secret_access_key"], token) if ak == AK else None
            ),
        )
        assert v.params == case["params"]
        assert v.access_key_id == AK
        assert v.seed_signature == case["signature"]


def botocore_presign_signature(
    params: dict[str, str], region: str, token: str | None, now: dt.datetime
) -> str:
    """The oracle: botocore's SigV4QueryAuth over the same request, its clock pinned."""
    import unittest.mock

    botocore_auth = pytest.importorskip("botocore.auth")
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    host = urllib.parse.urlsplit(default_endpoint(region)).netloc
    query = "&".join(f"{sigv4.uri_encode(k)}={sigv4.uri_encode(v)}" for k, v in params.items())
    req = AWSRequest(method="GET", url=f"https://{host}/stream-transcription-websocket?{query}")
    req.headers["Host"] = host
    auth = botocore_auth.SigV4QueryAuth(BotoCredentials(AK, SK, token), "transcribe", region, expires=300)
    with unittest.mock.patch.object(botocore_auth, "get_current_datetime", lambda: now):
        auth.add_auth(req)
    return urllib.parse.parse_qs(urllib.parse.urlsplit(req.url).query)["X-Amz-Signature"][0]


def our_signature(params: dict[str, str], region: str, token: str | None, now: dt.datetime) -> str:
    url = presign_url(
        credentials=Credentials(AK, SK, token), region=region, path=StreamParams.path,
        query=params, now=now,
    )
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Signature"][0]


def test_signer_and_botocore_agree_on_transcribe_presign() -> None:
    params = StreamParams(
        sample_rate=8000,
        language_code="en-US",
        show_speaker_label=True,
        pii_entity_types="NAME, ADDRESS",
        content_identification_type="PII",
    ).to_query()
    assert our_signature(params, "eu-west-1", TOKEN, T0) == botocore_presign_signature(
        params, "eu-west-1", TOKEN, T0
    )


# --------------------------------------------------------------------------- event signing


def test_event_signing_vector(shared_dir: Path) -> None:
    v = json.loads(
        (shared_dir / "vectors/sigv4/event-signing/amazon_transcribe_streaming_sdk_event_signer.json").read_text()
    )
    i = v["inputs"]
    assert eventstream.encode_headers({":date": eventstream.Timestamp(i["date_header_ms"])}).hex() == i[
        "date_header_block_hex"
    ]
    signer = EventSigner(
        Credentials(i["access_key_id"], i["secret_access_key"]),
        i["region"],
        i["prior_signature_bytes_utf8"].encode(),
        service=i["signing_name"],
    )
    now = dt.datetime.fromisoformat(i["utc_now"].replace("Z", "+00:00"))
    date_ms, sig = signer.sign(i["payload_utf8"].encode(), now)
    assert date_ms == i["date_header_ms"]
    assert sig.hex() == v["expected_chunk_signature_hex"]


def test_event_signature_chain_verifies_and_rejects_tampering() -> None:
    creds = Credentials(AK, SK)
    seed = "ab" * 32
    signer = EventSigner(creds, "us-west-2", seed)
    sigs = []
    for k, payload in enumerate([b"one", b"two", b""]):
        sigs.append((*signer.sign(payload, T0.timestamp() + k), payload))
    verifier = EventSignatureVerifier(SK, "us-west-2", seed)
    for date_ms, sig, payload in sigs:
        verifier.verify(date_ms, sig, payload, now=T0)
    # out of order / altered payload / wrong seed
    v2 = EventSignatureVerifier(SK, "us-west-2", seed)
    with pytest.raises(AuthenticationError, match="chunk-signature"):
        v2.verify(sigs[1][0], sigs[1][1], sigs[1][2])
    v3 = EventSignatureVerifier(SK, "us-west-2", seed)
    with pytest.raises(AuthenticationError, match="chunk-signature"):
        v3.verify(sigs[0][0], sigs[0][1], b"One")
    v4 = EventSignatureVerifier(SK, "us-west-2", seed)
    with pytest.raises(AuthenticationError, match="skew"):
        v4.verify(sigs[0][0], sigs[0][1], sigs[0][2], now=T0 + dt.timedelta(hours=1))


# --------------------------------------------------------------------------- verify: each check


REGION = "us-west-2"
HOST = "transcribestreaming.us-west-2.amazonaws.com:8443"
QUERY = {"language-code": "en-US", "media-encoding": "pcm", "sample-rate": "16000"}


def make(token: str | None = None, **kw: object) -> tuple[str, str]:
    args: dict = {"credentials": Credentials(AK, SK, token), "region": REGION,
                  "path": "/stream-transcription-websocket", "query": QUERY, "now": T0}
    args.update(kw)
    parts = urllib.parse.urlsplit(presign_url(**args))
    return parts.path, parts.query


def verify(path: str, qs: str, *, token: str | None = None, now: dt.datetime = T0,
           host: str = HOST, region: str = REGION) -> sigv4.VerifiedRequest:
    return verify_presigned(
        path=path, query_string=qs, host=host, region=region, now=now,
        lookup_secret=lambda ak: (SK, token) if ak == AK else None,
    )


def replace_param(qs: str, name: str, value: str | None) -> str:
    pairs = [p for p in qs.split("&") if not p.startswith(name + "=")]
    if value is not None:
        pairs.append(f"{name}={value}")
    return "&".join(pairs)


def resign(path: str, qs: str, **changes: str | None) -> str:
    """Apply changes, then re-sign correctly, so only the targeted check can fail."""
    pairs = [(k, v) for k, v in sigv4.parse_query(qs) if k != "X-Amz-Signature"]
    d = dict(pairs)
    for k, v in changes.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    creq, _ = sigv4.canonical_request("GET", path, d.items(), [("host", HOST)])
    date = d.get("X-Amz-Date", "20150830T123600Z")
    sts = sigv4.string_to_sign(creq, date, sigv4.credential_scope(date, REGION))
    sig = sigv4.signature(sigv4.signing_key(SK, date, REGION), sts)
    return sigv4.canonical_query(d.items()) + "&X-Amz-Signature=" + sig


def test_verify_accepts_own_presign_with_and_without_token() -> None:
    path, qs = make()
    assert verify(path, qs).params == QUERY
    path, qs = make(TOKEN)
    v = verify(path, qs, token=TOKEN)
    assert v.session_token_used and v.expires == 300


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"X-Amz-Algorithm": "AWS4-HMAC-SHA1"}, "X-Amz-Algorithm"),
        ({"X-Amz-Algorithm": None}, "missing query parameter X-Amz-Algorithm"),
        ({"X-Amz-Date": "2015-08-30T12:36:00Z"}, "YYYYMMDDTHHMMSSZ"),
        ({"X-Amz-Date": "20151340T123600Z"}, "not a valid date"),
        ({"X-Amz-Credential": f"{AK}/20150831/{REGION}/transcribe/aws4_request"}, "scope date"),
        ({"X-Amz-Credential": f"{AK}/20150830/eu-west-1/transcribe/aws4_request"}, "region"),
        ({"X-Amz-Credential": f"{AK}/20150830/{REGION}/transcribestreaming/aws4_request"}, "service"),
        ({"X-Amz-Credential": f"{AK}/20150830/{REGION}/transcribe/aws4_x"}, "aws4_request"),
        ({"X-Amz-Credential": f"{AK}/20150830/{REGION}"}, "X-Amz-Credential must be"),
        ({"X-Amz-Expires": "301"}, "X-Amz-Expires must be 1..300"),
        ({"X-Amz-Expires": "0"}, "X-Amz-Expires must be 1..300"),
        ({"X-Amz-Expires": "1e2"}, "integer"),
        ({"X-Amz-SignedHeaders": "host;x-amz-date"}, "SignedHeaders"),
        ({"X-Amz-Credential": f"AKIDOTHER/20150830/{REGION}/transcribe/aws4_request"}, "unknown access key"),
        ({"X-Amz-Security-Token": TOKEN}, "long-term"),
    ],
)
def test_verify_rejects_each_check(change: dict, message: str) -> None:
    path, qs = make()
    bad = resign(path, qs, **change)
    with pytest.raises(AuthenticationError, match=re.escape(message)) as info:
        verify(path, bad)
    assert SK not in str(info.value)


# Values a hostile client sends to make the verifier itself fail (issue 13, item 3): each
# was a ValueError/OverflowError/UnicodeEncodeError (HTTP 500 and a traceback) before.
_UNICODE_DATE = "\u0662\u0660\u0661\u0665\u0660\u0668\u0663\u0660T123600Z"  # Arabic-Indic


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"X-Amz-Expires": "1" * 5000}, "X-Amz-Expires must be 1..300"),
        ({"X-Amz-Expires": "0" * 5000}, "X-Amz-Expires must be 1..300"),
        ({"X-Amz-Expires": "\u0663\u0660\u0660"}, "integer"),
        ({"X-Amz-Date": "99991231T235959Z",
          "X-Amz-Credential": f"{AK}/99991231/{REGION}/transcribe/aws4_request"}, "future"),
        ({"X-Amz-Date": "00010101T000000Z",
          "X-Amz-Credential": f"{AK}/00010101/{REGION}/transcribe/aws4_request"}, "expired"),
        ({"X-Amz-Date": _UNICODE_DATE,
          "X-Amz-Credential": f"{AK}/{_UNICODE_DATE[:8]}/{REGION}/transcribe/aws4_request"},
         "YYYYMMDDTHHMMSSZ"),
        ({"X-Amz-Date": "20150830T123600Z\n"}, "YYYYMMDDTHHMMSSZ"),
    ],
)
def test_verify_hostile_values_are_authentication_errors(change: dict, message: str) -> None:
    path, qs = make()
    try:
        bad = resign(path, qs, **change)
    except UnicodeEncodeError:  # no signer can use a non-ASCII date: any signature will do
        bad = sigv4.canonical_query({**dict(sigv4.parse_query(qs)), **change}.items())
    with pytest.raises(AuthenticationError, match=re.escape(message)):
        verify(path, bad)


def test_verify_leading_zeros_and_signature_newline() -> None:
    path, qs = make()
    assert verify(path, resign(path, qs, **{"X-Amz-Expires": "0" * 4999 + "300"})).expires == 300
    sig = dict(sigv4.parse_query(qs))["X-Amz-Signature"]
    with pytest.raises(AuthenticationError, match="64 lower-case hex"):
        verify(path, replace_param(qs, "X-Amz-Signature", sig + "%0A"))


def test_verify_rejects_lone_surrogates() -> None:
    # a lenient caller may hand over a query decoded with surrogateescape
    path, qs = make()
    with pytest.raises(AuthenticationError, match="UTF-8"):
        verify(path, qs + "&x=\udcff")


def test_verify_expiry_and_future_skew() -> None:
    path, qs = make(expires=60)
    verify(path, qs, now=T0 + dt.timedelta(seconds=60))
    with pytest.raises(AuthenticationError, match="expired"):
        verify(path, qs, now=T0 + dt.timedelta(seconds=61))
    verify(path, qs, now=T0 - dt.timedelta(seconds=300))
    with pytest.raises(AuthenticationError, match="future"):
        verify(path, qs, now=T0 - dt.timedelta(seconds=301))


def test_verify_rejects_tampered_signature_values_host_path_region() -> None:
    path, qs = make()
    sig = dict(sigv4.parse_query(qs))["X-Amz-Signature"]
    with pytest.raises(AuthenticationError, match="64 lower-case hex"):
        verify(path, replace_param(qs, "X-Amz-Signature", sig.upper()))
    with pytest.raises(AuthenticationError, match="64 lower-case hex"):
        verify(path, replace_param(qs, "X-Amz-Signature", sig[:-1]))
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    with pytest.raises(AuthenticationError, match="signature does not match") as info:
        verify(path, replace_param(qs, "X-Amz-Signature", flipped))
    assert sig not in str(info.value)
    with pytest.raises(AuthenticationError, match="signature does not match"):
        verify(path, replace_param(qs, "sample-rate", "8000"))
    with pytest.raises(AuthenticationError, match="signature does not match"):
        verify(path, qs + "&vocabulary-name=extra")
    with pytest.raises(AuthenticationError, match="signature does not match"):
        verify(path, qs, host="transcribestreaming.us-west-2.amazonaws.com")
    with pytest.raises(AuthenticationError, match="signature does not match"):
        verify("/medical-stream-transcription-websocket", qs)
    with pytest.raises(AuthenticationError, match="region"):
        verify(path, qs, region="us-east-1")


def test_verify_token_checks() -> None:
    path, qs = make()
    with pytest.raises(AuthenticationError, match="missing X-Amz-Security-Token"):
        verify(path, qs, token=TOKEN)
    path, qs = make("other-token")
    with pytest.raises(AuthenticationError, match="does not match") as info:
        verify(path, qs, token=TOKEN)
    assert TOKEN not in str(info.value) and "other-token" not in str(info.value)


def test_verify_rejects_duplicates_and_bad_encoding() -> None:
    path, qs = make()
    with pytest.raises(AuthenticationError, match="twice"):
        verify(path, qs + "&X-Amz-Expires=300")
    with pytest.raises(AuthenticationError, match="twice"):
        verify(path, qs + "&sample-rate=16000")
    with pytest.raises(AuthenticationError, match="UTF-8"):
        verify(path, qs + "&x=%ff")


def test_presign_argument_checks() -> None:
    creds = Credentials(AK, SK)
    base = {"credentials": creds, "region": REGION, "path": "/p", "query": {}, "now": T0}
    for bad in (0, 301):
        with pytest.raises(ValueError, match="expires"):
            presign_url(**base, expires=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aware"):
        presign_url(**{**base, "now": T0.replace(tzinfo=None)})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reserved"):
        presign_url(**{**base, "query": {"X-Amz-Date": "x"}})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ws://"):
        presign_url(**base, endpoint="https://x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="region"):
        presign_url(**{**base, "region": "US WEST"})  # type: ignore[arg-type]


def test_endpoints_and_local_host() -> None:
    assert default_endpoint("us-east-1") == "wss://transcribestreaming.us-east-1.amazonaws.com:8443"
    assert default_endpoint("us-east-1", fips=True).startswith("wss://transcribestreaming-fips.us-east-1.")
    assert default_endpoint("us-east-1", dual_stack=True) == "wss://transcribestreaming.us-east-1.api.aws:8443"
    assert default_endpoint("cn-north-1").endswith(".amazonaws.com.cn:8443")
    url = presign_url(credentials=Credentials(AK, SK), region=REGION, path="/stream-transcription-websocket",
                      query=QUERY, now=T0.timestamp(), endpoint="ws://127.0.0.1:54321")
    parts = urllib.parse.urlsplit(url)
    assert parts.netloc == "127.0.0.1:54321"
    verify(parts.path, parts.query, host="127.0.0.1:54321")
    url = presign_url(credentials=Credentials(AK, SK), region=REGION, path="/p", query={}, now=T0,
                      endpoint="wss://example.com:443")
    assert urllib.parse.urlsplit(url).netloc == "example.com"
