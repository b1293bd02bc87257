"""The terminal faces of the assistant: an interactive chat, and batch replies as JSON Lines."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import IO, Any

import typer

from core import DataError, SuiteError, UsageError
from plugins.customer_service.service import CustomerService, Reply

QUIT = {"/quit", "/exit", "quit", "exit"}
HELP = "Type a message. /feedback INTENT corrects the last answer's intent, /quit leaves."


def check_text(text: str, max_bytes: int, *, source: str = "message", line: int | None = None, field: str | None = None) -> str:
    """A message the assistant can take: not blank, at most ``max_bytes`` of UTF-8."""
    if not text or not text.strip():
        raise DataError(source, "empty text", line=line, field=field)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise DataError(source, f"text of {size:,} bytes is over the limit of {max_bytes:,}", line=line, field=field)
    return text


def read_lines(path: Path, encoding: str) -> list[tuple[int | None, str]]:
    """A plain text file: one message per non-blank line."""
    try:
        lines = path.read_text(encoding=encoding).splitlines()
    except FileNotFoundError:
        raise DataError(str(path), "no such file") from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise DataError(str(path), f"cannot decode as {encoding}: {exc}") from None
    items: list[tuple[int | None, str]] = [(n, line.strip()) for n, line in enumerate(lines, 1) if line.strip()]
    if not items:
        raise DataError(str(path), "no messages")
    return items


def describe(reply: Reply) -> str:
    """The one line under a reply that says how it was chosen."""
    turn = f"turn {reply.turn_id} · " if reply.turn_id is not None else ""
    ticket = f" · ticket {reply.ticket_id}" if reply.ticket_id is not None else ""
    return f"[{turn}{reply.route}{ticket} · {reply.why}]"


def chat(service: CustomerService, *, session_id: str | None, language: str | None, stdin: IO[str], stdout: IO[str]) -> None:
    """Read a message per line until EOF or /quit; print each reply and why it was chosen."""
    def say(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    say(f"Customer service assistant ({len(service.intents.labels)} intents, "
        f"{len(service.retriever.entries) if service.retriever else 0} knowledge-base entries). {HELP}")
    last: Reply | None = None
    turns = 0
    while True:
        stdout.write("you> ")
        stdout.flush()
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text.lower() in QUIT:
            break
        if text.startswith("/"):
            say(_command(service, text, last))
            continue
        try:
            check_text(text, service.config.max_text_bytes)
            last = service.reply(text, session_id, channel="chat", language=language)
        except SuiteError as exc:
            say(f"error: {exc}")
            continue
        session_id = last.session_id
        turns += 1
        say(f"bot> {last.reply}")
        say(f"     {describe(last)}")
    say(f"bye (session {session_id or '-'}, {turns} turn(s))")


def _command(service: CustomerService, text: str, last: Reply | None) -> str:
    parts = text.split()
    if parts[0] == "/feedback" and len(parts) == 2:
        if last is None or last.turn_id is None:
            return "error: no logged answer to correct yet"
        if service.log is None:
            return "error: the conversation log is off"
        try:
            done = service.log.add_feedback(last.turn_id, parts[1], source="chat")
        except SuiteError as exc:
            return f"error: {exc}"
        return f"noted: turn {done['turn_id']} is '{done['intent']}' (exported by 'suite cs export')"
    return HELP


def batch(service: CustomerService, messages: list[tuple[int | None, str]], *, session_id: str | None, explain: bool = False,
          language: str | None, output: Path | None) -> None:
    """Reply to every message in one session; JSON Lines to ``output`` (or stdout), a summary to stderr."""
    routes: Counter[str] = Counter()
    handle: IO[str] = sys.stdout
    try:
        handle = output.open("w", encoding="utf-8") if output else sys.stdout
    except OSError as exc:
        raise UsageError(f"--output {output}: {exc.strerror or exc}") from None
    try:
        for line, text in messages:
            reply = service.reply(text, session_id, channel="batch", language=language, explain=explain)
            session_id = reply.session_id
            routes[reply.route] += 1
            row: dict[str, Any] = {"line": line, "text": text, **reply.as_dict()}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
    finally:
        if output:
            handle.close()
    counts = ", ".join(f"{route} {n}" for route, n in sorted(routes.items()))
    typer.echo(f"replied to {len(messages)} message(s) ({counts}); session {session_id}"
               + (f"; replies in {output}" if output else ""), err=True)
