"""Industry Suite core: the public API plugins build on.

Plugins import from here (``from core import hookimpl, Scenario, DataAdapter``) and never
from each other.
"""

from core.alerts import Alert, AlertSink
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
from core.heads import TaskHead
from core.hookspecs import hookimpl
from core.scenarios import Scenario
from core.settings import Settings

__all__ = [
    "Alert",
    "AlertSink",
    "BadRecord",
    "ColumnMapping",
    "ConfigError",
    "DataAdapter",
    "DataError",
    "LoadResult",
    "ModelNotFoundError",
    "PluginError",
    "ReadOptions",
    "Record",
    "Scenario",
    "Settings",
    "StoreError",
    "Suite",
    "SuiteError",
    "TaskHead",
    "TextExample",
    "TokenExample",
    "UnknownNameError",
    "UsageError",
    "hookimpl",
]
