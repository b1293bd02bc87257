"""Where catalogue models live and which are installed: what ``suite models available`` lists.

An installed model is ``SUITE_HOME/models/pretrained/NAME/`` holding ``config.json`` and the
``suite-catalogue.json`` written last by the installer (a folder without it is not ours, or
not finished). The packaged default is installed when its PyPI package is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.catalogue.entries import CATALOGUE, CatalogueEntry

RECORD_FILE = "suite-catalogue.json"


def pretrained_dir(home: Path) -> Path:
    return home / "models" / "pretrained"


def install_path(entry: CatalogueEntry, home: Path) -> Path:
    return pretrained_dir(home) / entry.name


def installed_path(entry: CatalogueEntry, home: Path) -> Path | None:
    """The folder ``--model NAME`` loads, or None when the model is not installed."""
    if entry.builder == "packaged":
        from core.models import packaged_model_path  # core.models imports this package

        return packaged_model_path()
    folder = install_path(entry, home)
    return folder if (folder / RECORD_FILE).is_file() and (folder / "config.json").is_file() else None


def read_record(folder: Path) -> dict[str, Any]:
    """The installer's record of a model folder (name, sha256 of its sources, seconds...)."""
    try:
        return json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@dataclass(frozen=True)
class ModelStatus:
    """One row of ``suite models available``; ``as_dict`` is its ``--json`` form."""

    name: str
    languages: str
    cased: bool
    parameters: int
    size_mb: int
    license: str
    source: list[str]
    installed: bool
    path: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "languages": self.languages,
            "cased": self.cased,
            "parameters": self.parameters,
            "size_mb": self.size_mb,
            "license": self.license,
            "source": self.source,
            "installed": self.installed,
            "path": self.path,
        }


def model_status(entry: CatalogueEntry, home: Path) -> ModelStatus:
    path = installed_path(entry, home)
    return ModelStatus(
        name=entry.name,
        languages=entry.languages,
        cased=entry.cased,
        parameters=entry.parameters,
        size_mb=entry.size_mb,
        license=entry.license,
        source=entry.requirements,
        installed=path is not None,
        path=str(path) if path else None,
    )


def catalogue_status(home: Path) -> list[ModelStatus]:
    return [model_status(entry, home) for entry in CATALOGUE]


def installed_names(home: Path, *, include_packaged: bool = True) -> list[str]:
    return [
        entry.name
        for entry in CATALOGUE
        if (include_packaged or entry.builder != "packaged") and installed_path(entry, home) is not None
    ]
