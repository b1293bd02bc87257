"""The built-in alert sinks against real local servers: HTTP for the webhook, SMTP for e-mail."""

from __future__ import annotations

import email
import email.policy
import io
import json
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from core.alerts import Alert, DeliveryError, alert_payload
from core.app import Suite
from core.errors import ConfigError
from core.sinks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ConsoleSink,
    EmailSink,
    JsonlSink,
    WebhookSink,
    sign,
    verify_signature,
)

SECRET = "s3cr3t-do-not-leak"


@pytest.fixture
def alert() -> Alert:
    return Alert(
        id="a-1",
        title="Negative surge on ACME",
        severity="high",
        status="open",
        source="finance-monitor",
        created_at=datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc),
        evidence={
            "negative": 42,
            "total": 60,
            "share": 0.7,
            "since": datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc),
            "examples": ["ACME misses guidance", "Sell-off in ACME"],
        },
    )


def test_alert_payload_is_json_ready(alert):
    payload = alert_payload(alert)
    assert list(payload) == [
        "id", "title", "severity", "status", "source", "created_at", "evidence"
    ]
    assert payload["created_at"] == "2025-03-01T09:30:00+00:00"
    assert payload["evidence"]["since"] == "2025-03-01T09:00:00+00:00"
    assert json.loads(json.dumps(payload)) == payload


# --------------------------------------------------------------------------------------
# Console and JSON Lines
# --------------------------------------------------------------------------------------


def test_console_prints_one_line_per_alert(alert):
    stream = io.StringIO()
    sink = ConsoleSink(stream=stream)
    sink.deliver(alert)
    sink.deliver(alert)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert "[HIGH]" in lines[0] and "Negative surge on ACME" in lines[0]
    assert "negative=42" in lines[0] and "total=60" in lines[0]
    assert "share" not in lines[0]  # only counts, not every value


def test_console_prints_markup_in_titles_verbatim(alert):
    stream = io.StringIO()
    alert.title = "[bold]not markup[/bold]"
    ConsoleSink(stream=stream).deliver(alert)
    assert "[bold]not markup[/bold]" in stream.getvalue()


def test_jsonl_appends_parseable_lines(alert, tmp_path):
    path = tmp_path / "nested" / "dir" / "alerts.jsonl"
    sink = JsonlSink(path=str(path))
    sink.deliver(alert)
    alert.id = "a-2"
    JsonlSink(path=path).deliver(alert)  # a second sink appends, it does not truncate
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a-1", "a-2"]
    assert json.loads(lines[1]) == alert_payload(alert)


def test_jsonl_unwritable_path_is_a_delivery_error(alert, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DeliveryError, match="alert sink 'jsonl'"):
        JsonlSink(path=str(blocker / "alerts.jsonl")).deliver(alert)


# --------------------------------------------------------------------------------------
# Webhook against a real HTTP server
# --------------------------------------------------------------------------------------


class Recorder:
    """What a test HTTP server received, and the statuses it answers with (last repeats)."""

    def __init__(self, statuses: list[int], delay_s: float = 0.0) -> None:
        self.statuses = statuses
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()

    def answer(self) -> int:
        index = min(len(self.requests) - 1, len(self.statuses) - 1)
        return self.statuses[index]


def make_handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            recorder.requests.append({"headers": dict(self.headers), "body": body})
            if recorder.delay_s:
                recorder.release.wait(recorder.delay_s)
            status = recorder.answer()
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    return Handler


@pytest.fixture
def http_server() -> Iterator[Callable[..., tuple[str, Recorder]]]:
    servers: list[tuple[ThreadingHTTPServer, Recorder]] = []

    def start(statuses: list[int], delay_s: float = 0.0) -> tuple[str, Recorder]:
        recorder = Recorder(statuses, delay_s)
        server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(recorder))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append((server, recorder))
        return f"http://127.0.0.1:{server.server_address[1]}/hook", recorder

    yield start
    for server, recorder in servers:
        recorder.release.set()
        server.shutdown()
        server.server_close()


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_webhook_retries_5xx_then_delivers_signed(alert, http_server):
    url, recorder = http_server([503, 503, 200])
    WebhookSink(url=url, secret=SECRET, backoff=0.01).deliver(alert)
    assert len(recorder.requests) == 3
    last = recorder.requests[-1]
    headers = last["headers"]
    assert headers["Content-Type"].startswith("application/json")
    timestamp, signature = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert verify_signature(SECRET, timestamp, last["body"], signature)
    assert not verify_signature("wrong", timestamp, last["body"], signature)
    assert json.loads(last["body"]) == alert_payload(alert)


def test_webhook_secret_from_environment(alert, http_server, monkeypatch):
    monkeypatch.setenv("SUITE_TEST_WEBHOOK_SECRET", SECRET)
    url, recorder = http_server([200])
    WebhookSink(url=url, secret_env="SUITE_TEST_WEBHOOK_SECRET").deliver(alert)
    request = recorder.requests[0]
    header, timestamp = request["headers"][SIGNATURE_HEADER], request["headers"][TIMESTAMP_HEADER]
    assert verify_signature(SECRET, timestamp, request["body"], header)


def test_webhook_unsigned_without_secret(alert, http_server):
    url, recorder = http_server([204])
    WebhookSink(url=url).deliver(alert)
    assert SIGNATURE_HEADER not in recorder.requests[0]["headers"]


def test_webhook_always_500_raises_after_retries(alert, http_server):
    url, recorder = http_server([500])
    sink = WebhookSink(url=url, secret=SECRET, retries=2, backoff=0.01)
    with pytest.raises(DeliveryError) as caught:
        sink.deliver(alert)
    message = str(caught.value)
    assert len(recorder.requests) == 3  # the first attempt and two retries
    assert url in message and "500" in message and "\n" not in message
    assert SECRET not in message and SECRET not in repr(sink)


def test_webhook_429_is_retried(alert, http_server):
    url, recorder = http_server([429, 200])
    WebhookSink(url=url, backoff=0.01).deliver(alert)
    assert len(recorder.requests) == 2


def test_webhook_400_is_not_retried(alert, http_server):
    url, recorder = http_server([400])
    with pytest.raises(DeliveryError, match="HTTP 400"):
        WebhookSink(url=url, retries=3, backoff=0.01).deliver(alert)
    assert len(recorder.requests) == 1


def test_webhook_dead_port_raises(alert):
    url = f"http://127.0.0.1:{dead_port()}/hook"
    with pytest.raises(DeliveryError, match="ConnectError") as caught:
        WebhookSink(url=url, retries=1, backoff=0.01).deliver(alert)
    assert url in str(caught.value)


def test_webhook_timeout_is_retried(alert, http_server):
    url, recorder = http_server([200], delay_s=5.0)
    with pytest.raises(DeliveryError, match="Timeout"):
        WebhookSink(url=url, timeout=0.2, retries=1, backoff=0.01).deliver(alert)
    assert len(recorder.requests) == 2


def test_verify_signature_rejects_tampering_and_replays():
    body = b'{"id":"a-1"}'
    header = sign(SECRET, 1_700_000_000, body)
    assert verify_signature(SECRET, "1700000000", body, header, now=1_700_000_010)
    assert not verify_signature(SECRET, "1700000000", body + b" ", header, now=1_700_000_010)
    assert not verify_signature(SECRET, "1700000001", body, header, now=1_700_000_010)
    assert not verify_signature(SECRET, "1700000000", body, header, now=1_700_009_999)
    assert verify_signature(SECRET, "1700000000", body, header, max_age_s=None)
    assert not verify_signature(SECRET, "not-a-time", body, header)


# --------------------------------------------------------------------------------------
# E-mail against a real SMTP server
# --------------------------------------------------------------------------------------


class SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        envelope: dict[str, Any] = {"rcpt": []}
        self.reply("220 localhost test SMTP")
        while line := self.rfile.readline():
            command = line.decode().strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 localhost")
            elif verb == "MAIL":
                envelope["from"] = command.split(":", 1)[1].strip()
                self.reply("250 OK")
            elif verb == "RCPT":
                envelope["rcpt"].append(command.split(":", 1)[1].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                envelope["data"] = self.read_data()
                self.server.messages.append(envelope)  # type: ignore[attr-defined]
                envelope = {"rcpt": []}
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")

    def read_data(self) -> bytes:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SMTPHandler)
    server.daemon_threads = True
    server.messages = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server.server_address[1], server.messages  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def test_email_arrives_with_subject_and_recipients(alert, smtp_server):
    port, messages = smtp_server
    sink = EmailSink(
        host="127.0.0.1", port=port, sender="suite@example.com",
        to="ops@example.com, risk@example.com",
    )
    sink.deliver(alert)
    assert len(messages) == 1
    envelope = messages[0]
    assert envelope["rcpt"] == ["<ops@example.com>", "<risk@example.com>"]
    message = email.message_from_bytes(envelope["data"], policy=email.policy.default)
    assert message["Subject"] == "[HIGH] Negative surge on ACME"
    assert "ops@example.com" in message["To"] and message["From"] == "suite@example.com"
    body = message.get_content()
    assert '"negative": 42' in body and "severity: high" in body


def test_email_unreachable_server_raises(alert):
    sink = EmailSink(host="127.0.0.1", port=dead_port(), sender="a@example.com", to=["b@x.org"])
    with pytest.raises(DeliveryError, match="alert sink 'email'"):
        sink.deliver(alert)


# --------------------------------------------------------------------------------------
# Configuration errors and registration
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sink", "options", "expected"),
    [
        (WebhookSink, {}, "alert sink 'webhook': option 'url' is required"),
        (WebhookSink, {"url": "ftp://example.com"}, "must be an http(s) URL"),
        (WebhookSink, {"url": "http://x", "retries": -1}, "option 'retries'"),
        (WebhookSink, {"url": "http://x", "timeout": 0}, "option 'timeout' must be > 0"),
        (WebhookSink, {"url": "http://x", "backoff": "fast"}, "option 'backoff'"),
        (WebhookSink, {"url": "http://x", "retires": 5}, "unknown option 'retires'"),
        (WebhookSink, {"url": "http://x", "secret": "a", "secret_env": "B"}, "not both"),
        (WebhookSink, {"url": "http://x", "secret_env": "SUITE_TEST_UNSET"}, "is not set"),
        (JsonlSink, {}, "alert sink 'jsonl': option 'path' is required"),
        (ConsoleSink, {"colour": True}, "unknown option 'colour'"),
        (EmailSink, {"sender": "a@x", "to": "b@x"}, "sink 'email': option 'host' is required"),
        (EmailSink, {"host": "h", "to": "b@x"}, "option 'sender' is required"),
        (EmailSink, {"host": "h", "sender": "a@x"}, "option 'to' is required"),
        (EmailSink, {"host": "h", "sender": "a@x", "to": " , "}, "option 'to' is required"),
        (EmailSink, {"host": "h", "sender": "a@x", "to": "b@x", "port": 0}, "option 'port'"),
        (EmailSink, {"host": "h", "sender": "a@x", "to": "b@x", "starttls": "yes"}, "'starttls'"),
        (EmailSink, {"host": "h", "sender": "a@x", "to": "b@x", "password": "pw"}, "password_env"),
        (EmailSink, {"host": "h", "sender": "a@x", "to": "b@x", "username": "u"}, "password_env"),
    ],
)
def test_bad_options_are_one_line_config_errors(sink, options, expected, monkeypatch):
    monkeypatch.delenv("SUITE_TEST_UNSET", raising=False)
    with pytest.raises(ConfigError) as caught:
        sink(**options)
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert message.startswith(f"alert sink '{sink.name}': ")


def test_email_password_comes_from_environment(monkeypatch):
    monkeypatch.setenv("SUITE_TEST_SMTP_PASSWORD", "pw")
    sink = EmailSink(
        host="h", sender="a@x", to=["b@x"], username="u", password_env="SUITE_TEST_SMTP_PASSWORD"
    )
    assert "pw" not in repr(sink)


def test_builtin_sinks_are_registered_and_documented(settings):
    suite = Suite.create(settings)
    names = set(suite.alert_sinks.names())
    assert {"console", "jsonl", "webhook", "email"} <= names
    for sink in suite.alert_sinks:
        assert (sink.__doc__ or "").strip(), f"alert sink '{sink.name}' has no docstring"
