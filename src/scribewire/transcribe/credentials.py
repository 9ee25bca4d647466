"""AWS credentials as SigV4 signs with them (protocol.md §2): a frozen value, no look-ups.

Resolving them (environment, shared files, botocore's chain) is I/O and lives in
``scribewire.transport.credentials``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from ..errors import CredentialsError

__all__ = ["Credentials"]


@dataclass(frozen=True)
class Credentials:
    """AWS credentials (frozen). ``repr``/``str`` show only the access key id.

    Attributes:
        access_key_id: e.g. ``AKIDEXAMPLE``.
        secret_access_key: the secret (never printed).
        session_token: the STS session token of temporary credentials, or None (never
            printed).
        expiry: when temporary credentials expire (aware datetime), or None.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expiry: _dt.datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.access_key_id, str) or not self.access_key_id:
            raise CredentialsError("access_key_id must be a non-empty string")
        if "/" in self.access_key_id:
            raise CredentialsError("access_key_id must not contain '/'")
        if not isinstance(self.secret_access_key, str) or not self.secret_access_key:
            raise CredentialsError("secret_access_key must be a non-empty string")
        if self.session_token is not None and not isinstance(self.session_token, str):
            raise CredentialsError("session_token must be a string or None")
        if self.session_token == "":
            object.__setattr__(self, "session_token", None)

    def __repr__(self) -> str:
        token = ", session_token=***" if self.session_token else ""
        expiry = f", expiry={self.expiry.isoformat()}" if self.expiry else ""
        return (
            f"Credentials(access_key_id={self.access_key_id!r}, "
            f"secret_access_key=***{token}{expiry})"
        )

    __str__ = __repr__
