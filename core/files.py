"""Files written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(path: str | Path, text: str, *, mode: int = 0o644) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then replace ``path`` with it in one
    ``os.replace``: a crash leaves the old file (or none), never half of the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def folder_mb(folder: str | Path) -> float:
    """Size on disk of a folder (a model's weights, tokenizer and head), in MB."""
    return round(sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file()) / 1e6, 1)
