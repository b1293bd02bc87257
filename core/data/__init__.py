"""Reading training and prediction data: adapters turn sources into records, the loader
turns records into validated examples."""

from core.data.adapters import (
    ConllAdapter,
    CsvAdapter,
    JsonlAdapter,
    SqlAdapter,
    builtin_adapters,
    redact_source,
)
from core.data.base import DataAdapter
from core.data.loading import (
    load_text_examples,
    load_token_examples,
    parse_label_map,
    resolve_adapter,
)
from core.data.types import (
    BadRecord,
    ColumnMapping,
    Example,
    LoadResult,
    OnError,
    ReadOptions,
    Record,
    TextExample,
    TokenExample,
)

__all__ = [
    "BadRecord",
    "ColumnMapping",
    "ConllAdapter",
    "CsvAdapter",
    "DataAdapter",
    "Example",
    "JsonlAdapter",
    "LoadResult",
    "OnError",
    "ReadOptions",
    "Record",
    "SqlAdapter",
    "TextExample",
    "TokenExample",
    "builtin_adapters",
    "load_text_examples",
    "load_token_examples",
    "parse_label_map",
    "redact_source",
    "resolve_adapter",
]
