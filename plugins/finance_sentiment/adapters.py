"""The ``sentence@label`` format of the Financial PhraseBank."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from core import BadRecord, DataAdapter, DataError, ReadOptions, Record

PHRASEBANK_NAME = re.compile(r"^Sentences_\w+\.txt$", re.IGNORECASE)


class PhraseBankAdapter(DataAdapter):
    """One ``{"text", "label"}`` record per line; the label follows the last ``@``."""

    name = "phrasebank"
    suffixes = (".phrasebank",)
    description = "Financial PhraseBank: one 'sentence@label' per line"

    def can_read(self, source: str) -> bool:
        return super().can_read(source) or bool(PHRASEBANK_NAME.match(Path(source).name))

    def read(self, source: str, options: ReadOptions) -> Iterator[Record | BadRecord]:
        try:
            text = Path(source).read_bytes().decode(options.encoding)
        except FileNotFoundError:
            raise DataError(source, "no such file") from None
        except UnicodeDecodeError as exc:
            raise DataError(
                source, f"not valid {options.encoding}", hint="pass --encoding latin-1"
            ) from exc
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            sentence, sep, label = line.rpartition("@")
            if not sep:
                yield BadRecord(source, number, None, "malformed line: expected 'sentence@label'", raw=line)
                continue
            yield Record(source, number, {"text": sentence.strip(), "label": label.strip()})
