"""Industry Suite core: the public API plugins build on.

Plugins import from here (``from core import hookimpl, Scenario, DataAdapter``) and never
from each other.
"""

from core.alerts import Alert, AlertSink, DeliveryError, alert_payload
from core.app import Suite
from core.data.base import DataAdapter
from core.data.types import (
    BadRecord,
    ColumnMapping,
    LoadResult,
    ReadOptions,
    Record,
    TextExample,
    TokenExample,
)
from core.errors import (
    ConfigError,
    DataError,
    ModelNotFoundError,
    PluginError,
    StoreError,
    SuiteError,
    UnknownNameError,
    UsageError,
)
from core.files import write_text_atomic
from core.heads import TaskHead
from core.hookspecs import hookimpl
from core.scenarios import Scenario
from core.serving.schemas import CleanStr
from core.settings import Settings, validate_table
from core.streams import Malformed, RawItem, Source, SourceSpec, StreamItem, clean_text, parse_item

__all__ = [
    "ClassificationScenario",
    "CleanStr",
    "write_text_atomic",
    "Predictor",
    "Alert",
    "AlertSink",
    "BadRecord",
    "ColumnMapping",
    "ConfigError",
    "DeliveryError",
    "DataAdapter",
    "DataError",
    "LoadResult",
    "ModelNotFoundError",
    "PluginError",
    "ReadOptions",
    "Record",
    "Malformed",
    "RawItem",
    "Scenario",
    "Source",
    "SourceSpec",
    "StreamItem",
    "Settings",
    "StoreError",
    "Suite",
    "SuiteError",
    "TaskHead",
    "TextExample",
    "TokenExample",
    "UnknownNameError",
    "UsageError",
    "alert_payload",
    "hookimpl",
    "parse_item",
    "clean_text",
    "validate_table",
]


def __getattr__(name: str) -> object:
    """Heavier parts of the public API, imported on first use (``suite --help`` stays fast)."""
    if name == "ClassificationScenario":  # train/evaluate/predict through a head, for scenario plugins
        from core.default_plugins.scenarios import ClassificationScenario

        return ClassificationScenario
    if name == "Predictor":
        from core.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'core' has no attribute {name!r}")
