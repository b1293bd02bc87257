"""One settings object: defaults < suite.toml ($SUITE_HOME, then cwd) < env SUITE_* < CLI flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.errors import ConfigError

CONFIG_FILENAME = "suite.toml"


def default_home() -> Path:
    return Path(os.environ.get("SUITE_HOME") or Path.home() / ".suite").expanduser()


def config_files(home: Path | None = None) -> list[Path]:
    """The settings files in increasing priority: the home one, then the working directory's."""
    return [(home or default_home()) / CONFIG_FILENAME, Path.cwd() / CONFIG_FILENAME]


CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Everything the core reads from the environment. Plugins keep their own options in a
    table of ``suite.toml`` named after them, read with :meth:`plugin_config`."""

    model_config = SettingsConfigDict(env_prefix="SUITE_", extra="allow")

    home: Path = Field(default_factory=default_home, description="Models, runs and the database.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file under home."
    )
    model: str | None = Field(
        default=None, description="Default pretrained encoder: HF id or folder; default: packaged."
    )
    load_plugins: CommaList | None = Field(
        default=None, description="Only these plugins (entry-point names); empty loads none."
    )
    disable_plugins: CommaList = Field(default_factory=list, description="Plugins not to load.")
    offline: bool = Field(default=False, description="Never try to download a model.")
    verbose: bool = False
    debug: bool = False

    @field_validator("load_plugins", "disable_plugins", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        home = getattr(init_settings, "init_kwargs", {}).get("home")
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_files(Path(home) if home else None))
        return (init_settings, env_settings, toml)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'suite.db'}"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    def plugin_config(self, name: str) -> dict[str, Any]:
        """The ``[name]`` table of suite.toml (empty when absent)."""
        extra = self.model_extra or {}
        value = extra.get(name, {})
        return value if isinstance(value, dict) else {}

    def plugin_enabled(self, name: str) -> bool:
        if name in self.disable_plugins:
            return False
        return self.load_plugins is None or name in self.load_plugins


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning parse errors into a one-line :class:`ConfigError`."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        where, message = first_error(exc)
        raise ConfigError(
            f"setting '{where}': {message}",
            hint=f"check SUITE_{where.upper()} and {CONFIG_FILENAME} in the working folder or SUITE_HOME",
        ) from None
    except (OSError, ValueError) as exc:  # a suite.toml that is not TOML
        raise ConfigError(f"{CONFIG_FILENAME}: {exc}") from None


Model = TypeVar("Model", bound=BaseModel)


def first_error(exc: ValidationError) -> tuple[str, str]:
    """Where (dotted key path) and what of a validation error's first problem: one line for a user."""
    first = exc.errors()[0]
    return ".".join(str(p) for p in first["loc"]), first["msg"]


def validate_table(model: type[Model], table: dict[str, Any], origin: str) -> Model:
    """A plugin's ``suite.toml`` table as its pydantic model; a mistake is one ConfigError line
    naming ``origin`` and the key."""
    try:
        return model.model_validate(table)
    except ValidationError as exc:
        where, message = first_error(exc)
        raise ConfigError(f"{origin}: {where or 'table'}: {message}") from None
