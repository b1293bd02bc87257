"""The Suite: settings, plugin manager, registries and store, built once per process.

Registries are filled lazily through the ``register_*`` hooks, and the store is opened (and
migrated) only when a command needs it, so ``suite --help`` stays fast.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.registry import Registry
from core.settings import Settings, load_settings

if TYPE_CHECKING:
    from core.alerts import AlertSink
    from core.data.base import DataAdapter
    from core.heads import TaskHead
    from core.models import ModelSource
    from core.plugins import SuitePluginManager
    from core.scenarios import Scenario
    from core.store import Store
    from core.streams import Source


class Suite:
    """What commands, scenarios and routes get: one object instead of globals."""

    def __init__(self, settings: Settings, pm: SuitePluginManager) -> None:
        self.settings = settings
        self.pm = pm

    @classmethod
    def create(cls, settings: Settings | None = None, *, load_entrypoints: bool = True) -> Suite:
        from core.plugins import make_plugin_manager

        settings = settings or load_settings()
        return cls(settings, make_plugin_manager(settings, load_entrypoints=load_entrypoints))

    def _collect(self, kind: str, hook: Any) -> Registry[Any]:
        registry: Registry[Any] = Registry(kind)
        hook(register=registry.register)
        return registry

    @cached_property
    def adapters(self) -> Registry[DataAdapter]:
        return self._collect("data adapter", self.pm.hook.register_data_adapters)

    @cached_property
    def heads(self) -> Registry[type[TaskHead]]:
        return self._collect("task head", self.pm.hook.register_task_heads)

    @cached_property
    def scenarios(self) -> Registry[Scenario]:
        return self._collect("scenario", self.pm.hook.register_scenarios)

    @cached_property
    def alert_sinks(self) -> Registry[type[AlertSink]]:
        return self._collect("alert sink", self.pm.hook.register_alert_sinks)

    @cached_property
    def sources(self) -> Registry[type[Source]]:
        return self._collect("source", self.pm.hook.register_sources)

    @cached_property
    def migration_paths(self) -> list[Path]:
        paths: list[Path] = []
        self.pm.hook.register_migrations(register=lambda path: paths.append(Path(path)))
        return paths

    @cached_property
    def store(self) -> Store:
        from core.store import Store

        return Store.open(self.settings.db_url, migration_paths=self.migration_paths)

    def encoder(self, spec: str | None = None) -> ModelSource:
        """``--model`` (or the configured model) as a local folder: a folder, a registered or
        catalogue model under this suite's home, a cached Hub id (see :mod:`core.models`)."""
        from core.models import resolve_model

        return resolve_model(spec or self.settings.model, offline=self.settings.offline, store=self.store,
                             home=self.settings.home)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
