"""The answer book: what the company says for each intent, with slots and language variants.

::

    language: en                       # used when a request names no language
    slots: {bank_name: Harbourline Bank, customer_name: there}   # defaults
    escalation:                        # said when a person takes over; {ticket_id} is filled in
      en: "A colleague will get back to you, ticket {ticket_id}."
    answers:
      card_lost:
        en: "Hello {customer_name}, I have blocked ..."
        de: "Hallo {customer_name}, ..."
      human_agent:
        escalate: true                 # hand over with a ticket; this template replaces 'escalation'
        en: "I will put you through to a colleague (ticket {ticket_id})."

Every ``{slot}`` must have a default or be filled by the service (``ticket_id``,
``session_id``, ``intent``), so a typo is caught when the book loads, not mid-conversation.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from core import DataError
from plugins.customer_service import yamlnodes as yn

SERVICE_SLOTS = frozenset({"ticket_id", "session_id", "intent"})
TOP_LEVEL = ("language", "slots", "escalation", "answers")
DEFAULT_ESCALATION = {"en": "I am passing your question to a colleague, who will get back to you (ticket {ticket_id})."}


@dataclass(frozen=True)
class Answer:
    intent: str
    templates: dict[str, str]  # language -> template
    escalate: bool
    line: int


class AnswerBook:
    """Templates by intent and language; :meth:`render` fills the slots."""

    def __init__(self, source: str, answers: dict[str, Answer], *, escalation: dict[str, str],
                 slots: dict[str, dict[str, str]], language: str) -> None:
        self.source = source
        self.answers = answers
        self.escalation = escalation
        self.slots = slots
        self.language = language

    def get(self, intent: str) -> Answer | None:
        return self.answers.get(intent)

    def language_of(self, templates: Mapping[str, str], language: str | None) -> str:
        """The language an answer is given in: ``language`` when the book has it, else the book's
        language, else the first the answer has."""
        for candidate in (language, self.language):
            if candidate and candidate in templates:
                return candidate
        return next(iter(templates))

    def render(self, templates: Mapping[str, str], language: str | None, slots: Mapping[str, object]) -> str:
        """The template in :meth:`language_of`, slots filled: the request's values, else the book's
        default in that same language (never an English default inside a German sentence)."""
        used = self.language_of(templates, language)
        defaults = {name: by_language[self.language_of(by_language, used)] for name, by_language in self.slots.items()}
        values = {k: "" if v is None else str(v) for k, v in {**defaults, **slots}.items()}
        return templates[used].format_map(_Missing(values))

    @classmethod
    def load(cls, path: Path, encoding: str = "utf-8") -> AnswerBook:
        source = str(path)
        root = yn.compose(path, encoding)
        if not isinstance(root, yaml.MappingNode):
            raise DataError(source, "expected a mapping with an 'answers:' key", field="answers")
        for key, node in yn.items(root):
            if key not in TOP_LEVEL:
                raise DataError(source, f"unknown key (expected one of {', '.join(TOP_LEVEL)})", line=yn.line(node), field=key)
        language = yn.text(yn.value(root, "language"), source, "language") if yn.value(root, "language") else "en"
        # a slot's default: "text" (the book's language) or {lang: "text", ...}, like a template
        slots = {k: _languages(v, source, f"slots.{k}", language, frozenset()) for k, v in yn.items(yn.value(root, "slots"))}
        known = SERVICE_SLOTS | set(slots)
        escalation_node = yn.value(root, "escalation")
        escalation = _languages(escalation_node, source, "escalation", language, known) if escalation_node else DEFAULT_ESCALATION
        answers_node = yn.value(root, "answers")
        if not isinstance(answers_node, yaml.MappingNode) or not answers_node.value:
            raise DataError(source, "expected a mapping of intent -> templates", field="answers",
                            line=yn.line(answers_node) if answers_node is not None else None)
        answers = {intent: _answer(intent, node, source, language, known) for intent, node in yn.items(answers_node)}
        return cls(source, answers, escalation=escalation, slots=slots, language=language)


class _Missing(dict):  # type: ignore[type-arg]
    """A slot with no value renders as nothing rather than failing a live reply."""

    def __missing__(self, key: str) -> str:
        return ""


def _answer(intent: str, node: yaml.Node, source: str, language: str, known: frozenset[str] | set[str]) -> Answer:
    escalate_node = yn.value(node, "escalate")
    escalate = False
    if escalate_node is not None:
        if not isinstance(escalate_node, yaml.ScalarNode) or escalate_node.value.lower() not in ("true", "false"):
            raise DataError(source, "expected true or false", line=yn.line(escalate_node), field=f"answers.{intent}.escalate")
        escalate = escalate_node.value.lower() == "true"
    templates = _languages(node, source, f"answers.{intent}", language, known, skip=("escalate",))
    return Answer(intent, templates, escalate, yn.line(node))


def _languages(node: yaml.Node, source: str, field: str, language: str, known: frozenset[str] | set[str],
               skip: tuple[str, ...] = ()) -> dict[str, str]:
    """``"text"`` (the book's language) or ``{lang: "text", ...}``, each template's slots checked."""
    if isinstance(node, yaml.ScalarNode):
        pairs = [(language, node)]
    else:
        pairs = [(k, v) for k, v in yn.items(node) if k not in skip]
    if not pairs:
        raise DataError(source, "expected a template, or language: template pairs", line=yn.line(node), field=field)
    templates = {}
    for lang, value in pairs:
        template = yn.text(value, source, f"{field}.{lang}" if not isinstance(node, yaml.ScalarNode) else field)
        _check_slots(template, source, f"{field}.{lang}", yn.line(value), known)
        templates[lang] = template
    return templates


def _check_slots(template: str, source: str, field: str, line: int, known: frozenset[str] | set[str]) -> None:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise DataError(source, f"bad template: {exc} (write a literal brace as {{{{ or }}}})", line=line, field=field) from None
    for name in names:
        if not name.isidentifier():
            raise DataError(source, f"slot '{{{name}}}' must be a plain name such as {{customer_name}}", line=line, field=field)
        if name not in known:
            raise DataError(source, f"unknown slot '{{{name}}}' (known: {', '.join(sorted(known))})", line=line,
                            field=field, hint="give it a default under 'slots:'")
