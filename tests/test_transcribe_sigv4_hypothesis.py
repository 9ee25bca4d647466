"""Property tests: our presign against botocore's SigV4QueryAuth; verify accepts our presigns."""

from __future__ import annotations

import datetime as dt
import urllib.parse

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_transcribe_sigv4 import AK, SK, botocore_presign_signature, our_signature  # noqa: E402

from scribewire.transcribe import Credentials, presign_url, verify_presigned  # noqa: E402

pytestmark = pytest.mark.hypothesis

UTC = dt.timezone.utc
names = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x2FF, exclude_characters="&="), min_size=1, max_size=12
).filter(lambda n: not n.lower().startswith("x-amz-"))
values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF), max_size=20)
params = st.dictionaries(names, values, max_size=6)
times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=0))
regions = st.sampled_from(["us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2", "cn-north-1"])
tokens = st.one_of(st.none(), st.text(alphabet="ABCDEFabcdef0123456789/+=", min_size=1, max_size=40))


@settings(max_examples=60, deadline=None)
@given(params=params, region=regions, token=tokens, now=times)
def test_matches_botocore(params: dict[str, str], region: str, token: str | None, now: dt.datetime) -> None:
    assert our_signature(params, region, token, now) == botocore_presign_signature(params, region, token, now)


@settings(max_examples=60, deadline=None)
@given(params=params, region=regions, token=tokens, now=times, expires=st.integers(1, 300))
def test_verify_accepts_every_presign(
    params: dict[str, str], region: str, token: str | None, now: dt.datetime, expires: int
) -> None:
    url = presign_url(credentials=Credentials(AK, SK, token), region=region,
                      path="/stream-transcription-websocket", query=params, now=now, expires=expires)
    parts = urllib.parse.urlsplit(url)
    v = verify_presigned(path=parts.path, query_string=parts.query, host=parts.netloc, region=region,
                         now=now + dt.timedelta(seconds=expires), lookup_secret=lambda ak: (SK, token))
    assert v.params == params
