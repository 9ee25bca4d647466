"""Credentials and region resolution (temp files, ``environ=``), and the canary-secret test."""

from __future__ import annotations

import datetime as dt
import logging
import urllib.parse
from pathlib import Path

import pytest

from scribewire.errors import AuthenticationError, CredentialsError
from scribewire.transcribe import (
    Credentials,
    StreamParams,
    TranscribeSession,
    verify_presigned,
)
from scribewire.transport.credentials import CredentialProvider, resolve_credentials, resolve_region

CANARY_SECRET = "CanarySecret/9f8e7d6c5b4a39281706+zz"
CANARY_TOKEN = "CanaryToken+abcdef0123456789//=="


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write(tmp_path / ".aws/credentials",
          "[default]\naws_access_key_id = AKFILEDEFAULT\naws_secret_access_key = s-file-default\n\n"
          "[work]\naws_access_key_id = AKFILEWORK\naws_secret_access_key = s-file-work\n"
          "aws_session_token = t-file-work\n")
    write(tmp_path / ".aws/config",
          "[default]\nregion = eu-west-1\n\n[profile cfgonly]\naws_access_key_id = AKCONFIG\n"
          "aws_secret_access_key = s-config\nregion = ap-south-1\n")
    return tmp_path


def test_explicit_arguments_win(home: Path) -> None:
    env = {"HOME": str(home), "AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "s-env"}
    c = resolve_credentials(access_key_id="AKARG", secret_access_key="s-arg", session_token="t", environ=env)
    assert (c.access_key_id, c.secret_access_key, c.session_token) == ("AKARG", "s-arg", "t")
    with pytest.raises(CredentialsError, match="both"):
        resolve_credentials(access_key_id="AKARG", environ=env)


def test_environment_before_files(home: Path) -> None:
    env = {"HOME": str(home), "AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "s-env",
           "AWS_SESSION_TOKEN": "t-env"}
    c = resolve_credentials(environ=env)
    assert (c.access_key_id, c.session_token) == ("AKENV", "t-env")
    # only one of the pair: falls through to the files
    assert resolve_credentials(environ={"HOME": str(home), "AWS_ACCESS_KEY_ID": "AKENV"}).access_key_id == "AKFILEDEFAULT"


def test_shared_credentials_file_profiles(home: Path) -> None:
    env = {"HOME": str(home)}
    assert resolve_credentials(environ=env).access_key_id == "AKFILEDEFAULT"
    c = resolve_credentials(environ={**env, "AWS_PROFILE": "work"})
    assert (c.access_key_id, c.session_token) == ("AKFILEWORK", "t-file-work")
    assert resolve_credentials(profile="work", environ={**env, "AWS_PROFILE": "other"}).access_key_id == "AKFILEWORK"
    assert resolve_credentials(environ={**env, "AWS_DEFAULT_PROFILE": "work"}).access_key_id == "AKFILEWORK"


def test_config_file_and_custom_paths(home: Path, tmp_path: Path) -> None:
    env = {"HOME": str(home)}
    assert resolve_credentials(profile="cfgonly", environ=env).access_key_id == "AKCONFIG"
    creds = write(tmp_path / "elsewhere/creds", "[default]\naws_access_key_id=AKCUSTOM\naws_secret_access_key=x\n")
    conf = write(tmp_path / "elsewhere/conf", "[profile p]\nregion = sa-east-1\n")
    env2 = {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_CONFIG_FILE": str(conf)}
    assert resolve_credentials(environ=env2).access_key_id == "AKCUSTOM"
    assert resolve_region(profile="p", environ=env2) == "sa-east-1"


def test_missing_credentials_say_where_they_looked(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError) as info:
        resolve_credentials(profile="nope", environ={"HOME": str(tmp_path)})
    text = str(info.value)
    for where in ("arguments", "AWS_ACCESS_KEY_ID", "shared credentials file", "config file", "nope"):
        assert where in text
    with pytest.raises(CredentialsError, match="cannot parse"):
        write(tmp_path / ".aws/credentials", "no section header\n")
        resolve_credentials(environ={"HOME": str(tmp_path)})


def test_region_order(home: Path) -> None:
    env = {"HOME": str(home)}
    assert resolve_region(region="us-east-2", environ={**env, "AWS_REGION": "x"}) == "us-east-2"
    assert resolve_region(environ={**env, "AWS_REGION": "r1", "AWS_DEFAULT_REGION": "r2"}) == "r1"
    assert resolve_region(environ={**env, "AWS_DEFAULT_REGION": "r2"}) == "r2"
    assert resolve_region(environ=env) == "eu-west-1"
    assert resolve_region(profile="cfgonly", environ=env) == "ap-south-1"
    with pytest.raises(CredentialsError, match="AWS_DEFAULT_REGION"):
        resolve_region(profile="work", environ=env)


def test_provider_re_resolves_every_call(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    provider = CredentialProvider(environ=env)
    with pytest.raises(CredentialsError):
        provider()
    path = write(tmp_path / ".aws/credentials", "[default]\naws_access_key_id=AK1\naws_secret_access_key=s1\n")
    assert provider().access_key_id == "AK1"
    path.write_text("[default]\naws_access_key_id=AK2\naws_secret_access_key=s2\naws_session_token=t2\n")
    assert provider().access_key_id == "AK2"
    assert "s2" not in repr(provider)


def test_credentials_value_checks() -> None:
    with pytest.raises(CredentialsError):
        Credentials("", "x")
    with pytest.raises(CredentialsError):
        Credentials("AK", "")
    with pytest.raises(CredentialsError):
        Credentials("A/K", "x")
    assert Credentials("AK", "x", "").session_token is None
    c = Credentials("AK", "x", expiry=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
    assert "2030-01-01" in repr(c)
    with pytest.raises(AttributeError):
        c.access_key_id = "other"  # type: ignore[misc]


def test_canary_secrets_never_leak(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    env = {"HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": "AKCANARY", "AWS_SECRET_ACCESS_KEY": CANARY_SECRET,
           "AWS_SESSION_TOKEN": CANARY_TOKEN}
    creds = resolve_credentials(environ=env)
    texts += [repr(creds), str(creds), f"{creds}", repr(CredentialProvider(environ=env)), str([creds])]
    assert CredentialProvider(environ=env)().secret_access_key == CANARY_SECRET
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    session = TranscribeSession(StreamParams(sample_rate=16000, language_code="en-US"))
    url = session.request_url(creds, t0, region="us-east-1")
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc
    failures = [
        dict(lookup_secret=lambda ak: (CANARY_SECRET, "wrong-token")),
        dict(lookup_secret=lambda ak: (CANARY_SECRET, None)),
        dict(lookup_secret=lambda ak: ("other", CANARY_TOKEN)),
        dict(lookup_secret=lambda ak: (CANARY_SECRET, CANARY_TOKEN), now=t0 + dt.timedelta(hours=1)),
    ]
    for kw in failures:
        args = dict(path=parts.path, query_string=parts.query, host=host, region="us-east-1", now=t0)
        args.update(kw)
        with pytest.raises(AuthenticationError) as info:
            verify_presigned(**args)  # type: ignore[arg-type]
        texts += [str(info.value), repr(info.value)]
    # a tampered URL: the expected signature must not be disclosed either
    tampered = parts.query.replace("sample-rate=16000", "sample-rate=8000")
    with pytest.raises(AuthenticationError) as info:
        verify_presigned(path=parts.path, query_string=tampered, host=host, region="us-east-1", now=t0,
                         lookup_secret=lambda ak: (CANARY_SECRET, CANARY_TOKEN))
    texts.append(str(info.value))
    with pytest.raises(CredentialsError) as info2:
        resolve_credentials(access_key_id="AK", secret_access_key="", environ=env)
    texts.append(str(info2.value))
    texts += [r.getMessage() for r in caplog.records]
    texts += [str(r.args) for r in caplog.records]
    assert any("AKCANARY" in t for t in texts)  # the searched texts are the real ones
    encoded = [CANARY_SECRET, CANARY_TOKEN, urllib.parse.quote(CANARY_SECRET, safe=""),
               urllib.parse.quote(CANARY_TOKEN, safe="")]
    for t in texts:
        for needle in encoded:
            assert needle not in t
