"""The built-in alert sinks: console, JSON Lines file, webhook and e-mail.

Every sink sends :func:`core.alerts.alert_payload`, validates its options when it is built
(a :class:`~core.errors.ConfigError` at start-up beats a failure at the first alert) and
raises :class:`~core.alerts.DeliveryError` when an alert did not get through, so the caller
keeps it and retries later. Unknown options are rejected, so a typo is not silently ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
import sys
import time
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TextIO
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console
from rich.text import Text

from core.alerts import Alert, AlertSink, DeliveryError, alert_payload
from core.errors import ConfigError

if TYPE_CHECKING:
    import httpx

SIGNATURE_HEADER = "X-Suite-Signature"
TIMESTAMP_HEADER = "X-Suite-Timestamp"
MAX_BACKOFF_S = 30.0

# --------------------------------------------------------------------------------------
# Option checks shared by the sinks: one-line ConfigErrors that name sink and option.
# --------------------------------------------------------------------------------------


def _config_error(sink: str, message: str) -> ConfigError:
    return ConfigError(f"alert sink '{sink}': {message}")


def _check_known(sink: str, options: dict[str, Any], known: Iterable[str]) -> None:
    known = sorted(known)
    for key in options:
        if key not in known:
            raise _config_error(sink, f"unknown option '{key}' (known: {', '.join(known)})")


def _required_str(sink: str, options: dict[str, Any], key: str) -> str:
    value = options.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _config_error(sink, f"option '{key}' is required")
    if not isinstance(value, str):
        raise _config_error(sink, f"option '{key}' must be a string")
    return value.strip()


def _optional_str(sink: str, options: dict[str, Any], key: str) -> str | None:
    if options.get(key) in (None, ""):
        return None
    return _required_str(sink, options, key)


def _number(
    sink: str, options: dict[str, Any], key: str, default: float, *, positive: bool = False
) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _config_error(sink, f"option '{key}' must be a number, got {value!r}")
    if value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise _config_error(sink, f"option '{key}' must be {bound}, got {value!r}")
    return float(value)


def _count(sink: str, options: dict[str, Any], key: str, default: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _config_error(sink, f"option '{key}' must be an integer >= 0, got {value!r}")
    return value


def _flag(sink: str, options: dict[str, Any], key: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise _config_error(sink, f"option '{key}' must be true or false, got {value!r}")
    return value


def _from_env(sink: str, key: str, variable: str) -> str:
    """Secrets live in the environment, not in configuration files that get committed."""
    value = os.environ.get(variable)
    if not value:
        raise _config_error(
            sink, f"environment variable '{variable}' (option '{key}') is not set"
        )
    return value


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


# --------------------------------------------------------------------------------------
# Console
# --------------------------------------------------------------------------------------

SEVERITY_STYLES = {
    "critical": "bold white on red",
    "high": "bold red",
    "error": "bold red",
    "medium": "yellow",
    "warning": "yellow",
    "low": "cyan",
    "info": "cyan",
}


class ConsoleSink(AlertSink):
    """Prints one line per alert to stderr: for watching a job in a terminal.

    The line holds severity, title, source and the integer counts found in ``evidence``
    (``negative=42 total=60``), enough to decide whether to look closer. Stderr keeps
    stdout free for a command's own output. Option ``stream`` (a file object) is for tests.
    """

    name: ClassVar[str] = "console"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        _check_known(self.name, options, ["stream"])
        stream: TextIO = options.get("stream") or sys.stderr
        self.console = Console(file=stream, highlight=False, soft_wrap=True)

    def deliver(self, alert: Alert) -> None:
        self.console.print(self.format(alert), soft_wrap=True)

    @staticmethod
    def format(alert: Alert) -> Text:
        severity = alert.severity.lower()
        line = Text.assemble(
            (f"[{alert.severity.upper()}]", SEVERITY_STYLES.get(severity, "bold")),
            " ",
            (_one_line(alert.title), "bold"),
            (f"  ({alert.source})", "dim"),
        )
        counts = key_counts(alert.evidence)
        if counts:
            line.append("  " + " ".join(f"{k}={v}" for k, v in counts.items()))
        return line


def key_counts(evidence: dict[str, Any], limit: int = 6) -> dict[str, int]:
    """The integer values of ``evidence`` (the counts that make an alert), at most ``limit``."""
    counts = {
        str(k): v for k, v in evidence.items() if isinstance(v, int) and not isinstance(v, bool)
    }
    return dict(list(counts.items())[:limit])


# --------------------------------------------------------------------------------------
# JSON Lines file
# --------------------------------------------------------------------------------------


class JsonlSink(AlertSink):
    """Appends one JSON line per alert to option ``path``: an audit trail other tools can tail.

    Each line is written with a single ``write`` on a file opened for appending, then
    flushed and fsynced before ``deliver`` returns, so a crash never leaves half a line
    and a delivered alert is on disk. A line already in the file is not written again (the
    monitor re-sends a delivery it could not mark as done before a crash). Parent folders are
    created as needed.
    """

    name: ClassVar[str] = "jsonl"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        _check_known(self.name, options, ["path"])
        raw = options.get("path")
        if isinstance(raw, os.PathLike):
            raw = os.fspath(raw)
        self.path = Path(_required_str(self.name, {"path": raw}, "path")).expanduser()
        self._written: set[str] | None = None

    def deliver(self, alert: Alert) -> None:
        line = json.dumps(alert_payload(alert), ensure_ascii=False) + "\n"
        try:
            if self._written is None:  # the lines already there, read once
                self._written = set(self.path.read_text(encoding="utf-8").splitlines(keepends=True)) if self.path.exists() else set()
            if line in self._written:
                return  # sent again after a crash between writing it and recording that: written once
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _append_durably(self.path, line.encode("utf-8"))
            self._written.add(line)
        except OSError as exc:
            raise DeliveryError(
                f"alert sink 'jsonl': cannot append to {self.path}: {_one_line(exc)}"
            ) from exc


def _append_durably(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"short write ({written} of {len(data)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------
# Webhook
# --------------------------------------------------------------------------------------


def sign(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """The ``X-Suite-Signature`` value: ``sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">``."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str,
    timestamp: int | str,
    body: bytes | str,
    header: str,
    *,
    max_age_s: float | None = 300.0,
    now: float | None = None,
) -> bool:
    """Check a webhook request as a receiver would: the signature matches and is recent.

    ``timestamp`` is the ``X-Suite-Timestamp`` header, ``body`` the raw request body (the
    exact bytes, before any JSON parsing), ``header`` the ``X-Suite-Signature`` header.
    Requests older (or further in the future) than ``max_age_s`` are refused so a captured
    request cannot be replayed later; pass ``max_age_s=None`` to skip that check.
    """
    try:
        sent_at = int(str(timestamp).strip())
    except ValueError:
        return False
    if max_age_s is not None:
        current = time.time() if now is None else now
        if abs(current - sent_at) > max_age_s:
            return False
    expected = sign(secret, sent_at, body)
    return hmac.compare_digest(expected.encode(), str(header).strip().encode())


class WebhookSink(AlertSink):
    """POSTs each alert as JSON to option ``url``: the way into chat, paging and ticket tools.

    Options: ``timeout`` (seconds per request, default 5), ``retries`` (extra attempts after
    the first, default 3), ``backoff`` (base delay in seconds, default 0.5, doubled on each
    retry and capped at 30 s; a 429's ``Retry-After`` is honoured within the cap). 5xx, 429,
    timeouts and connection errors are retried; any other non-2xx status fails at once,
    since sending the same request again will not fix it. When every attempt fails,
    :class:`~core.alerts.DeliveryError` is raised and the caller retries the alert later,
    so receivers should de-duplicate on the payload's ``id``.

    Signing: with ``secret`` (or ``secret_env``, the name of an environment variable that
    holds it, which keeps it out of configuration files) every request carries
    ``X-Suite-Timestamp: <unix seconds>`` and
    ``X-Suite-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">``.
    A receiver verifies a request by:

    1. reading the raw body bytes, before parsing the JSON;
    2. computing ``hmac.new(secret, f"{timestamp}.".encode() + body, sha256).hexdigest()``
       and comparing ``"sha256=" + digest`` with the header in constant time;
    3. rejecting timestamps more than a few minutes from its own clock (replays).

    :func:`core.sinks.verify_signature` does all three.
    """

    name: ClassVar[str] = "webhook"
    OPTIONS: ClassVar[tuple[str, ...]] = (
        "url", "timeout", "retries", "backoff", "secret", "secret_env"
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        _check_known(self.name, options, self.OPTIONS)
        self.url = _required_str(self.name, options, "url")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _config_error(
                self.name, f"option 'url' must be an http(s) URL, got {_redact(self.url)!r}"
            )
        self.timeout = _number(self.name, options, "timeout", 5.0, positive=True)
        self.retries = _count(self.name, options, "retries", 3)
        self.backoff = _number(self.name, options, "backoff", 0.5)
        self._secret = self._resolve_secret(options)

    def _resolve_secret(self, options: dict[str, Any]) -> str | None:
        secret = _optional_str(self.name, options, "secret")
        variable = _optional_str(self.name, options, "secret_env")
        if secret and variable:
            raise _config_error(self.name, "set either option 'secret' or 'secret_env', not both")
        return _from_env(self.name, "secret_env", variable) if variable else secret

    def __repr__(self) -> str:  # never show the secret
        return f"WebhookSink(url={_redact(self.url)!r}, signed={self._secret is not None})"

    def deliver(self, alert: Alert) -> None:
        import httpx  # here, not at the top: it adds ~0.1 s to every CLI start

        body = json.dumps(alert_payload(alert), ensure_ascii=False, separators=(",", ":"))
        data = body.encode("utf-8")
        last = "no attempt"
        last_retry_after: float | None = None
        with httpx.Client(timeout=self.timeout) as client:
            for attempt in range(self.retries + 1):
                if attempt:
                    time.sleep(self._delay(attempt, last_retry_after))
                    last_retry_after = None
                try:
                    response = client.post(self.url, content=data, headers=self._headers(data))
                except httpx.TransportError as exc:  # timeouts, refused, reset: try again
                    last = f"{type(exc).__name__}: {_one_line(exc) or 'no detail'}"
                    continue
                if response.is_success:
                    return
                last = f"HTTP {response.status_code}"
                if not _retryable(response.status_code):
                    raise self._failure(attempt + 1, last)
                last_retry_after = _retry_after(response)
        raise self._failure(self.retries + 1, last)

    def _headers(self, data: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self._secret is not None:
            timestamp = int(time.time())  # per attempt, so a late retry is still fresh
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, data)
        return headers

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = self.backoff * 2 ** (attempt - 1)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, MAX_BACKOFF_S)

    def _failure(self, attempts: int, last: str) -> DeliveryError:
        return DeliveryError(
            f"alert sink 'webhook': POST {_redact(self.url)} failed after {attempts} "
            f"attempt(s); last: {last}"
        )


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:  # absent, or an HTTP date: fall back to our own backoff
        return None


def _redact(url: str) -> str:
    """The URL without a password in its user-info, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


# --------------------------------------------------------------------------------------
# E-mail
# --------------------------------------------------------------------------------------


class EmailSink(AlertSink):
    """Sends each alert as a plain-text e-mail over SMTP: for people who live in their inbox.

    Options: ``host``, ``sender`` and ``to`` (a list or a comma-separated string) are
    required; ``port`` (default 25), ``starttls`` (default false), ``timeout`` (seconds,
    default 10), ``username`` and ``password_env``, the name of the environment variable
    holding the password (a password never goes into configuration files). The subject is
    ``[SEVERITY] title``; the body lists the alert's fields and pretty-prints its evidence.
    """

    name: ClassVar[str] = "email"
    OPTIONS: ClassVar[tuple[str, ...]] = (
        "host", "port", "sender", "to", "starttls", "username", "password_env", "timeout"
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if "password" in options:
            raise _config_error(
                self.name, "option 'password' is not allowed; name an environment variable "
                "in 'password_env' instead"
            )
        _check_known(self.name, options, self.OPTIONS)
        self.host = _required_str(self.name, options, "host")
        self.port = self._port(options)
        self.sender = _required_str(self.name, options, "sender")
        self.to = self._recipients(options)
        self.starttls = _flag(self.name, options, "starttls", False)
        self.timeout = _number(self.name, options, "timeout", 10.0, positive=True)
        self.username = _optional_str(self.name, options, "username")
        self._password = self._resolve_password(options)

    def _port(self, options: dict[str, Any]) -> int:
        port = _count(self.name, options, "port", 25)
        if not 0 < port < 65536:
            raise _config_error(self.name, f"option 'port' must be 1-65535, got {port}")
        return port

    def _recipients(self, options: dict[str, Any]) -> list[str]:
        raw = options.get("to")
        if isinstance(raw, str):
            raw = raw.split(",")
        if raw is not None and not isinstance(raw, (list, tuple)):
            raise _config_error(
                self.name, "option 'to' must be a list or a comma-separated string"
            )
        recipients = [str(r).strip() for r in raw or [] if str(r).strip()]
        if not recipients:
            raise _config_error(self.name, "option 'to' is required")
        return recipients

    def _resolve_password(self, options: dict[str, Any]) -> str | None:
        variable = _optional_str(self.name, options, "password_env")
        if variable and not self.username:
            raise _config_error(self.name, "option 'password_env' needs option 'username'")
        if self.username and not variable:
            raise _config_error(self.name, "option 'username' needs option 'password_env'")
        return _from_env(self.name, "password_env", variable) if variable else None

    def __repr__(self) -> str:  # never show the password
        return f"EmailSink(host={self.host!r}, port={self.port}, to={self.to!r})"

    def deliver(self, alert: Alert) -> None:
        message = self.build_message(alert)
        try:
            self._send(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"alert sink 'email': sending to {', '.join(self.to)} via "
                f"{self.host}:{self.port} failed: {type(exc).__name__}: {_one_line(exc)}"
            ) from exc

    def build_message(self, alert: Alert) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = f"[{alert.severity.upper()}] {_one_line(alert.title)}"
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message.set_content(email_body(alert))
        return message

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username and self._password is not None:
                smtp.login(self.username, self._password)
            smtp.send_message(message)


def email_body(alert: Alert) -> str:
    """The plain-text body: the fields first, then the evidence as indented JSON."""
    payload = alert_payload(alert)
    keys = ("title", "severity", "status", "source", "created_at", "id")
    fields = [f"{key}: {payload[key]}" for key in keys]
    evidence = json.dumps(
        payload["evidence"], indent=2, ensure_ascii=False, sort_keys=True, default=str
    )
    return "\n".join([*fields, "", "evidence:", evidence, ""])


def builtin_sinks() -> list[type[AlertSink]]:
    """The sinks the core registers through ``register_alert_sinks``."""
    return [ConsoleSink, JsonlSink, WebhookSink, EmailSink]
