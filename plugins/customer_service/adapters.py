"""Rasa-style NLU training files (``nlu: - intent: NAME examples: | - text``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml

from core import BadRecord, DataAdapter, DataError, ReadOptions, Record


class RasaNluAdapter(DataAdapter):
    """Yields one ``{"text", "label"}`` record per example, located at its own line."""

    name = "rasa-nlu"
    suffixes = (".yml", ".yaml")
    description = "Rasa NLU YAML: nlu: - intent: NAME, examples: | - text"

    def read(self, source: str, options: ReadOptions) -> Iterator[Record | BadRecord]:
        path = Path(source)
        try:
            text = path.read_text(encoding=options.encoding)
        except FileNotFoundError:
            raise DataError(source, "no such file") from None
        except (UnicodeDecodeError, LookupError) as exc:
            raise DataError(source, f"cannot decode as {options.encoding}: {exc}") from None
        try:
            root = yaml.compose(text)
        except yaml.YAMLError as exc:
            line = exc.problem_mark.line + 1 if getattr(exc, "problem_mark", None) else None
            raise DataError(source, f"malformed YAML: {getattr(exc, 'problem', exc)}", line=line) from None
        nlu = _mapping_value(root, "nlu")
        if not isinstance(nlu, yaml.SequenceNode):
            raise DataError(source, "no 'nlu:' list found", field="nlu")
        for entry in nlu.value:
            yield from _entry_records(source, entry)


def _entry_records(source: str, entry: yaml.Node) -> Iterator[Record | BadRecord]:
    line = entry.start_mark.line + 1
    intent = _mapping_value(entry, "intent")
    if intent is None:
        return  # synonyms, regexes and lookups are not training examples
    examples = _mapping_value(entry, "examples")
    if not isinstance(intent, yaml.ScalarNode) or not intent.value.strip():
        yield BadRecord(source, line, "intent", "empty intent name")
        return
    if not isinstance(examples, yaml.ScalarNode):
        yield BadRecord(source, line, "examples", "expected a block of '- example' lines")
        return
    # A block scalar's text starts on the line after its '|' indicator.
    first = examples.start_mark.line + (2 if examples.style in ("|", ">") else 1)
    for offset, raw in enumerate(examples.value.splitlines()):
        stripped = raw.strip()
        if not stripped:
            continue
        if not stripped.startswith("-"):
            yield BadRecord(source, first + offset, "examples", "expected '- example'", raw=raw)
            continue
        yield Record(source, first + offset, {"text": stripped[1:].strip(), "label": intent.value.strip()})


def _mapping_value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None
