"""--model resolution: packaged default, folders, Hub ids offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ModelNotFoundError
from core.models import packaged_model_path, resolve_model


def test_default_is_the_packaged_model():
    source = resolve_model(None)
    assert source.kind == "packaged"
    assert source.path == packaged_model_path()
    assert (source.path / "config.json").is_file()
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2").kind == "packaged"


def test_local_folder(tmp_path: Path):
    (tmp_path / "config.json").write_text("{}")
    assert resolve_model(str(tmp_path)).kind == "folder"


def test_folder_without_config_is_rejected(tmp_path: Path):
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        resolve_model(str(tmp_path))


def test_unknown_hub_id_offline_lists_what_is_available():
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("acme/not-a-model", offline=True)
    assert "acme/not-a-model" in str(info.value)
    assert "default (packaged all-MiniLM-L6-v2)" in info.value.hint
    assert info.value.exit_code == 2
