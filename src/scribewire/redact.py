"""Credentials taken out of every string scribewire builds from a URL, a header or a body.

A presigned Transcribe URL carries ``X-Amz-Signature``, ``X-Amz-Security-Token`` and the
access key id inside ``X-Amz-Credential``; an AssemblyAI URL may carry ``token=``; request
headers carry ``Authorization``. A hostile or buggy server can echo any of them back in a
response body or an exception message, and websockets' DEBUG logs print the request line
and headers. :func:`redact` is the one function that cleans such text; the error classes
(``HandshakeRejected``, ``ConnectionClosed``, ``ServiceError``) call it on what they keep,
and :class:`RedactingFilter` applies it to log records (messages, tracebacks and stack
text). :func:`install_log_redaction` puts one filter on websockets' and scribewire's
loggers; it is idempotent.

What is replaced by ``REDACTED`` (names matched case-insensitively):

- the value of any parameter, header or JSON/dict key whose name ends in ``token``,
  ``signature``, ``secret``, ``password``, ``passwd``, ``api_key``/``api-key``/``apikey``
  or ``authorization``, in the forms ``name=value`` (also ``name%3Dvalue``, a URL inside a
  URL), ``name: value`` (a header line, the rest of the line: at the start of a line,
  or anywhere for a header-like name such as ``X-Amz-Security-Token`` or
  ``Authorization``), ``"name": "value"`` /
  ``'name': 'value'`` and ``('name', 'value')``;
- the access key id at the head of an ``X-Amz-Credential`` (or ``Credential=``) value; the
  scope after it (date, region, service) is kept;
- the password of a ``scheme://user:password@`` URL;
- any run of exactly 64 lower-case hex digits (the shape of a SigV4 signature).

Pure functions and a ``logging.Filter``: no I/O, no state besides the installed filter.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

__all__ = [
    "DEFAULT_LOGGERS",
    "REDACTED",
    "RedactingFilter",
    "install_log_redaction",
    "mask_key_id",
    "redact",
]

#: What a secret is replaced with.
REDACTED = "REDACTED"

# a name starts after a character that cannot be part of it, or after a percent escape
# (``%26name%3D...``: a URL inside a URL)
_START = r"(?:(?<![A-Za-z0-9_.-])|(?<=%[0-9A-Fa-f]{2}))"
_NAME = (
    _START
    + r"(?:[A-Za-z0-9_.-]*?(?:token|signature|secret|password|passwd|api[_-]?key|apikey"
    r"|authorization))"
)
_FLAGS = re.IGNORECASE | re.ASCII

# name=value in a query or form body; the value ends at a separator or a quote
_QUERY = re.compile(rf"({_NAME})(=|%3D)[^&\s\"'<>\\,;)]*", _FLAGS)
# "name": "value" / 'name': 'value' (JSON, dict reprs)
_KEYED = re.compile(rf"([\"'])({_NAME})\1(\s*:\s*)([\"'])(?:\\.|(?!\4).)*\4", _FLAGS)
# ('name', 'value') (header lists)
_PAIR = re.compile(rf"([\"'])({_NAME})\1(\s*,\s*)([\"'])(?:\\.|(?!\4).)*\4", _FLAGS)
# name: value, a header line (the value is the rest of the line): any such name at the
# start of a line (after websockets' "> " / "< " debug prefix), and a header-like name
# (hyphenated, or Authorization) anywhere; prose such as "signature: ..." stays
_SUFFIXES = r"(?:token|signature|secret|password|passwd|api[_-]?key|apikey|authorization)"
_HEADER = re.compile(
    rf"((?:^|(?<=[\r\n]))[ \t]*(?:[<>][ \t]+)?[A-Za-z0-9_.-]*?{_SUFFIXES})(\s*:[ \t]*)[^\r\n]*",
    _FLAGS | re.MULTILINE,
)
_HEADER_ANY = re.compile(
    rf"({_START}(?:[A-Za-z0-9_.]*-[A-Za-z0-9_.-]*?{_SUFFIXES}|authorization))(\s*:[ \t]*)[^\r\n]*",
    _FLAGS,
)
# the access key id that opens a credential value
_CREDENTIAL = re.compile(
    _START + r"((?:x-amz-)?credential)"
    r"(=|%3D|[\"']?\s*:\s*[\"']?|[\"']\s*,\s*[\"'])[A-Za-z0-9]+",
    _FLAGS,
)
_USERINFO = re.compile(r"(://[^/\s:@]*:)[^/\s@]+@", _FLAGS)
_HEX64 = re.compile(r"(?<![0-9A-Fa-f])[0-9a-f]{64}(?![0-9A-Fa-f])", re.ASCII)


def redact(text: str) -> str:
    """``text`` with every credential it carries replaced by ``REDACTED``.

    Idempotent; text without credentials comes back unchanged. Works on URLs, request
    lines, header lines, JSON or form bodies, exception messages and log lines.
    """
    if not text:
        return text
    out = _KEYED.sub(rf"\1\2\1\3\4{REDACTED}\4", text)
    out = _PAIR.sub(rf"\1\2\1\3\4{REDACTED}\4", out)
    out = _QUERY.sub(rf"\1\2{REDACTED}", out)
    out = _HEADER.sub(rf"\1\2{REDACTED}", out)
    out = _HEADER_ANY.sub(rf"\1\2{REDACTED}", out)
    out = _CREDENTIAL.sub(rf"\1\2{REDACTED}", out)
    out = _USERINFO.sub(rf"\1{REDACTED}@", out)
    return _HEX64.sub(REDACTED, out)


def mask_key_id(access_key_id: str) -> str:
    """An access key id as logs may show it: its last four characters (``****0001``)."""
    return "****" + access_key_id[-4:] if len(access_key_id) > 8 else "****"


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record in place and lets it through.

    The message is formatted (``record.getMessage()``), redacted and stored back with no
    arguments; an exception traceback is formatted once into ``record.exc_text``,
    redacted (formatters then print that text); ``stack_info`` is redacted too.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports that itself
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


#: Loggers that can print a presigned URL, a header or a body: websockets' own (the
#: request line and headers at DEBUG), scribewire's, and asyncio's (unretrieved
#: exceptions).
DEFAULT_LOGGERS = (
    "websockets",
    "websockets.client",
    "websockets.server",
    "scribewire",
    "scribewire.server",
    "scribewire.client",
    "scribewire.transport",
    "scribewire.streaming",
    "asyncio",
)

_FILTER = RedactingFilter()


def install_log_redaction(
    loggers: Iterable[str] = (), handlers: Iterable[logging.Handler] = ()
) -> RedactingFilter:
    """Put the one :class:`RedactingFilter` on scribewire's and websockets' loggers.

    A logger's filters see only the records logged on that very logger (not those of
    its children), so the filter goes on each of ``DEFAULT_LOGGERS``, on every logger
    already created whose name starts with ``scribewire`` or ``websockets``, on
    ``loggers`` and on ``handlers`` (a handler's filters see every record it emits, from
    any logger: the CLI puts it on its own handler). Calling it again adds nothing twice.

    Returns:
        The filter (the same object every time).
    """
    names = set(DEFAULT_LOGGERS) | set(loggers)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith(("scribewire", "websockets")):
            names.add(name)
    for name in sorted(names):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for handler in handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    return _FILTER
