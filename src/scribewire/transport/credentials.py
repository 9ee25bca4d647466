"""AWS credentials and region resolution for Transcribe streaming (reads the environment,
files and botocore's chain: I/O, so it lives in the transport layer and runs off the
event loop: :class:`CredentialCache`).

Resolution order (first complete source wins):

1. explicit arguments;
2. ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``;
3. the shared credentials file (``AWS_SHARED_CREDENTIALS_FILE``, default
   ``~/.aws/credentials``), section ``[<profile>]``;
4. the config file (``AWS_CONFIG_FILE``, default ``~/.aws/config``), section
   ``[profile <profile>]`` (or ``[default]``);
5. botocore's full default chain (SSO, web identity, container, IMDS, process...) when
   botocore is installed (extra ``aws``) and the real process environment is used.

The profile is the ``profile`` argument, else ``AWS_PROFILE``, else
``AWS_DEFAULT_PROFILE``, else ``default``. Region: argument, ``AWS_REGION``,
``AWS_DEFAULT_REGION``, the profile's ``region`` in the config file.

``CredentialProvider`` re-resolves on every call, so a client asks it at every connect
and expiring temporary credentials keep working.

Secrets never appear in ``repr``, ``str``, log records or exception messages.
"""

from __future__ import annotations

import asyncio
import configparser
import datetime as _dt
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import CredentialsError
from ..redact import mask_key_id
from ..transcribe.credentials import Credentials

__all__ = [
    "CredentialCache",
    "CredentialProvider",
    "Credentials",
    "resolve_credentials",
    "resolve_region",
]

logger = logging.getLogger(__name__)


def _profile_name(profile: str | None, env: Mapping[str, str]) -> str:
    return profile or env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"


def _home(env: Mapping[str, str], real: bool) -> Path | None:
    home = env.get("HOME")
    if home:
        return Path(home)
    if real:
        try:
            return Path.home()
        except RuntimeError:
            return None
    return None


def _file(env: Mapping[str, str], var: str, default: str, real: bool) -> Path | None:
    value = env.get(var)
    if value:
        return Path(value).expanduser() if real else Path(value)
    home = _home(env, real)
    return home / ".aws" / default if home else None


def _read_ini(path: Path | None) -> configparser.RawConfigParser | None:
    if path is None or not path.is_file():
        return None
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"cannot parse AWS file {path}: {type(exc).__name__}") from None
    return parser


def _section(
    parser: configparser.RawConfigParser | None, names: tuple[str, ...]
) -> dict[str, str] | None:
    if parser is None:
        return None
    for name in names:
        if parser.has_section(name):
            return {k.lower(): v.strip() for k, v in parser.items(name)}
    return None


def _from_section(section: dict[str, str] | None) -> Credentials | None:
    if not section:
        return None
    ak = section.get("aws_access_key_id")
    sk = section.get("aws_secret_access_key")
    if not ak or not sk:
        return None
    return Credentials(ak, sk, section.get("aws_session_token") or None)


def _config_sections(profile: str) -> tuple[str, ...]:
    return ("default", "profile default") if profile == "default" else (f"profile {profile}",)


def _botocore_credentials(profile: str | None) -> tuple[Any, str]:
    """botocore's credentials for ``profile`` (None if it found none), and why not."""
    try:
        import botocore.session
    except ImportError:
        return (
            None,
            "botocore default chain (botocore not installed: pip install 'scribewire[aws]')",
        )
    try:
        session = botocore.session.Session(profile=profile)
        return session.get_credentials(), "botocore default chain (found nothing)"
    except Exception as exc:  # botocore raises many unrelated types here (SSO, IMDS, ...)
        # the message of botocore's own errors names the profile or the expired token,
        # never a secret
        logger.debug("botocore credential chain failed: %s", type(exc).__name__)
        return None, f"botocore default chain ({type(exc).__name__}: {exc})"


def _freeze(botocreds: Any) -> Credentials:
    """botocore's current credentials, frozen (an SSO or STS refresh may run here).

    Raises:
        CredentialsError: the refresh failed (an expired SSO token, a role that cannot be
            assumed...): botocore's message, which names the profile, never a secret.
    """
    try:
        frozen = botocreds.get_frozen_credentials()
    except Exception as exc:  # botocore raises many unrelated types (SSO, STS, IMDS...)
        raise CredentialsError(
            f"botocore could not get credentials ({type(exc).__name__}: {exc})"
        ) from None
    expiry = getattr(botocreds, "_expiry_time", None)
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token or None, expiry)


def _resolve(
    access_key_id: str | None,
    secret_access_key: str | None,
    session_token: str | None,
    profile: str | None,
    environ: Mapping[str, str] | None,
    use_botocore: bool | None,
) -> tuple[Credentials | None, str, list[str], Any]:
    real = environ is None
    env: Mapping[str, str] = os.environ if environ is None else environ
    looked: list[str] = []
    if access_key_id is not None or secret_access_key is not None:
        if not access_key_id or not secret_access_key:
            raise CredentialsError(
                "explicit credentials need both access_key_id and secret_access_key"
            )
        return (
            Credentials(access_key_id, secret_access_key, session_token),
            "arguments",
            looked,
            None,
        )
    looked.append("arguments")
    ak, sk = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if ak and sk:
        token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN") or None
        return Credentials(ak, sk, token), "environment", looked, None
    looked.append("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
    name = _profile_name(profile, env)
    cred_path = _file(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials", real)
    found = _from_section(_section(_read_ini(cred_path), (name,)))
    if found:
        return found, f"shared credentials file {cred_path} [{name}]", looked, None
    looked.append(f"shared credentials file {cred_path or '(no home directory)'} [{name}]")
    conf_path = _file(env, "AWS_CONFIG_FILE", "config", real)
    found = _from_section(_section(_read_ini(conf_path), _config_sections(name)))
    if found:
        return found, f"config file {conf_path} [{name}]", looked, None
    looked.append(f"config file {conf_path or '(no home directory)'} profile {name!r}")
    if use_botocore is None:
        use_botocore = real
    if use_botocore:
        botocreds, why = _botocore_credentials(profile)
        if botocreds is not None:
            return _freeze(botocreds), f"botocore ({botocreds.method})", looked, botocreds
        looked.append(why)
    return None, "", looked, None


def resolve_credentials(
    *,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    use_botocore: bool | None = None,
) -> Credentials:
    """Resolve AWS credentials in the order of the module docstring.

    Args:
        access_key_id, secret_access_key, session_token: explicit credentials (both of
            the first two, or neither).
        profile: profile name; default from ``AWS_PROFILE`` / ``AWS_DEFAULT_PROFILE``.
        environ: environment mapping to read instead of ``os.environ`` (then ``HOME``
            is taken only from it and botocore is not consulted unless
            ``use_botocore=True``).
        use_botocore: consult botocore's default chain last; default: only when
            ``environ`` is None.

    Raises:
        CredentialsError: nothing found; the message lists every place looked at.
    """
    return CredentialProvider(
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        session_token=session_token,
        profile=profile,
        environ=environ,
        use_botocore=use_botocore,
    )()


def resolve_region(
    *,
    region: str | None = None,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Resolve the AWS region: argument, ``AWS_REGION``, ``AWS_DEFAULT_REGION``, then the
    profile's ``region`` in the config file.

    Raises:
        CredentialsError: no region found; the message lists every place looked at.
    """
    if region:
        return region
    real = environ is None
    env: Mapping[str, str] = os.environ if environ is None else environ
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if env.get(var):
            return env[var]
    name = _profile_name(profile, env)
    conf_path = _file(env, "AWS_CONFIG_FILE", "config", real)
    section = _section(_read_ini(conf_path), _config_sections(name))
    if section and section.get("region"):
        return section["region"]
    raise CredentialsError(
        "no AWS region found; looked at: argument; AWS_REGION; AWS_DEFAULT_REGION; "
        f"config file {conf_path or '(no home directory)'} profile {name!r}"
    )


class CredentialProvider:
    """Re-resolves credentials at every call (use one per client; call it per connect).

    Takes the arguments of ``resolve_credentials``. A botocore refreshable credential
    object, once found, is kept and asked again each time (it refreshes itself before
    expiry), so temporary credentials keep working across reconnects.
    """

    __slots__ = ("_kwargs", "_botocreds")

    def __init__(
        self,
        *,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
        environ: Mapping[str, str] | None = None,
        use_botocore: bool | None = None,
    ) -> None:
        self._kwargs = (
            access_key_id,
            secret_access_key,
            session_token,
            profile,
            environ,
            use_botocore,
        )
        self._botocreds: Any = None

    def __repr__(self) -> str:
        return f"CredentialProvider(profile={self._kwargs[3]!r})"

    def __call__(self) -> Credentials:
        """The current credentials.

        Raises:
            CredentialsError: nothing found (message lists every place looked at).
        """
        if self._botocreds is not None:
            return _freeze(self._botocreds)
        creds, source, looked, botocreds = _resolve(*self._kwargs)
        if creds is None:
            raise CredentialsError("no AWS credentials found; looked at: " + "; ".join(looked))
        self._botocreds = botocreds
        logger.debug("AWS credentials for %s from %s", mask_key_id(creds.access_key_id), source)
        return creds


class CredentialCache:
    """Credentials for a client's connects, resolved off the event loop and kept until
    shortly before they expire.

    Resolving may read files, run an SSO refresh or ask the instance metadata service:
    never on the event loop. The first caller runs ``source`` in a worker thread
    (``asyncio.to_thread``); callers meanwhile wait for the same result, so a reconnect
    storm of thousands of streams resolves once. Credentials with an ``expiry`` are
    resolved again ``refresh_before`` seconds ahead of it; credentials without one are
    resolved again after ``max_age`` seconds (a rotated key file is picked up).

    Args:
        source: returns the credentials (a :class:`CredentialProvider`, or any callable).
        refresh_before: seconds before ``expiry`` at which to resolve again.
        max_age: seconds to keep credentials that carry no expiry.
    """

    __slots__ = ("_source", "_refresh_before", "_max_age", "_value", "_until", "_lock")

    def __init__(
        self,
        source: Callable[[], Credentials],
        *,
        refresh_before: float = 300.0,
        max_age: float = 300.0,
    ) -> None:
        self._source = source
        self._refresh_before = refresh_before
        self._max_age = max_age
        self._value: Credentials | None = None
        self._until = 0.0
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"CredentialCache({self._source!r})"

    async def get(self) -> Credentials:
        """Current credentials.

        Raises:
            CredentialsError: none could be resolved (the message says where it looked).
        """
        loop = asyncio.get_running_loop()
        if self._value is not None and loop.time() < self._until:
            return self._value
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._value is not None and loop.time() < self._until:
                return self._value
            value = await asyncio.to_thread(self._source)
            if not isinstance(value, Credentials):
                raise CredentialsError(
                    f"the credentials callable returned {type(value).__name__}, not Credentials"
                )
            keep = self._max_age
            if value.expiry is not None:
                left = (value.expiry - _dt.datetime.now(_dt.timezone.utc)).total_seconds()
                keep = max(0.0, min(keep, left - self._refresh_before))
            self._value = value
            self._until = loop.time() + keep
            return value
