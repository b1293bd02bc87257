"""YAML read as nodes, so a mistake in an answer book or FAQ is reported at its line."""

from __future__ import annotations

from pathlib import Path

import yaml

from core import DataError


def compose(path: Path, encoding: str = "utf-8") -> yaml.Node | None:
    """The file's root node; a missing, undecodable or malformed file is one located error."""
    source = str(path)
    try:
        text = path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise DataError(source, "no such file") from None
    except IsADirectoryError:
        raise DataError(source, "is a folder, expected a file") from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise DataError(source, f"cannot decode as {encoding}: {exc}") from None
    try:
        return yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataError(source, f"malformed YAML: {getattr(exc, 'problem', exc)}",
                        line=mark.line + 1 if mark else None) from None


def line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def items(node: yaml.Node | None) -> list[tuple[str, yaml.Node]]:
    """A mapping's (key, value node) pairs; [] for anything else."""
    if not isinstance(node, yaml.MappingNode):
        return []
    return [(k.value, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]


def value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    return dict(items(node)).get(key)


def text(node: yaml.Node | None, source: str, field: str, *, where: yaml.Node | None = None) -> str:
    """A non-empty scalar, else ``source:line: field 'x': expected text``."""
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        at = node if node is not None else where
        raise DataError(source, "expected non-empty text", line=line(at) if at is not None else None, field=field)
    return str(node.value).strip()
