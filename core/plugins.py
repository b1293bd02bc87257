"""The plugin manager: finds plugins through the ``suite`` entry-point group.

Built-in scenarios are ordinary entry points of this distribution, so they load exactly as
a third party's would. A plugin that fails to import is recorded as broken with its error
and does not stop the others from loading.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Literal

import pluggy

from core import hookspecs
from core.errors import PluginError
from core.settings import Settings

ENTRY_POINT_GROUP = "suite"

# The core's own hook implementations; listed with ``suite plugins list --all``.
DEFAULT_PLUGINS = (
    "core.default_plugins.adapters",
    "core.default_plugins.heads",
    "core.default_plugins.scenarios",
    "core.default_plugins.sinks",
    "core.default_plugins.sources",
)

Status = Literal["ok", "disabled", "broken"]


@dataclass
class PluginRecord:
    """What ``suite plugins list`` shows for one plugin."""

    name: str
    version: str | None
    status: Status
    module: str
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    default: bool = False

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "hooks": self.hooks,
            "status": self.status,
            "module": self.module,
            "error": self.error,
        }


class SuitePluginManager(pluggy.PluginManager):
    """A ``pluggy.PluginManager`` that also remembers disabled and broken plugins."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}

    def register_plugin(
        self, plugin: object, name: str, *, version: str | None = None, default: bool = False
    ) -> None:
        """Register ``plugin`` under ``name`` and record it as loaded."""
        self.register(plugin, name=name)
        unknown = [c.name for c in self.get_hookcallers(plugin) or [] if not c.has_spec()]
        if unknown:
            self.unregister(plugin)
            raise PluginError(f"implements unknown hook(s): {', '.join(unknown)}")
        self.records[name] = PluginRecord(
            name=name,
            version=version,
            status="ok",
            module=getattr(plugin, "__name__", type(plugin).__name__),
            hooks=self.hooks_of(plugin),
            default=default,
        )

    def hooks_of(self, plugin: object) -> list[str]:
        callers = self.get_hookcallers(plugin) or []
        return sorted(caller.name for caller in callers)

    def plugins_info(self, *, include_defaults: bool = False) -> list[PluginRecord]:
        return sorted(
            (r for r in self.records.values() if include_defaults or not r.default),
            key=lambda r: (r.default, r.name),
        )


def make_plugin_manager(
    settings: Settings | None = None, *, load_entrypoints: bool = True
) -> SuitePluginManager:
    """Build a manager with the core's defaults and, unless told not to, every enabled
    entry point of the ``suite`` group (``SUITE_LOAD_PLUGINS``/``SUITE_DISABLE_PLUGINS``)."""
    settings = settings or Settings()
    pm = SuitePluginManager()
    for module_name in DEFAULT_PLUGINS:
        pm.register_plugin(importlib.import_module(module_name), module_name, default=True)
    if load_entrypoints:
        load_entrypoint_plugins(pm, settings)
    pm.check_pending()
    if settings.debug or _env_flag("SUITE_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
        pm.enable_tracing()
    return pm


def load_entrypoint_plugins(pm: SuitePluginManager, settings: Settings) -> None:
    seen: set[str] = set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in seen:  # the same distribution seen twice on sys.path
            continue
        seen.add(ep.name)
        version = ep.dist.version if ep.dist else None
        record = PluginRecord(name=ep.name, version=version, status="ok", module=ep.value)
        if not settings.plugin_enabled(ep.name):
            record.status = "disabled"
            pm.records[ep.name] = record
            continue
        try:
            plugin = ep.load()
            pm.register_plugin(plugin, ep.name, version=version)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the others
            if pm.get_plugin(ep.name) is not None:
                pm.unregister(name=ep.name)
            record.status = "broken"
            record.error = f"{type(exc).__name__}: {exc}"
            pm.records[ep.name] = record


def _env_flag(name: str) -> bool:
    import os

    return os.environ.get(name, "").lower() in {"1", "true", "yes"}
