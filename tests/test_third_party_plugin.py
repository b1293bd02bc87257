"""A throwaway third-party plugin package: built, pip-installed, discovered, disabled, enabled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "suite-acme-plugin"
version = "1.2.3"

[project.entry-points.suite]
acme = "suite_acme"
"""

MODULE = '''\
from core import DataAdapter, Record, hookimpl


class ShoutingAdapter(DataAdapter):
    name = "acme-lines"
    suffixes = (".acme",)

    def read(self, source, options):
        with open(source, encoding=options.encoding) as handle:
            for number, line in enumerate(handle, start=1):
                yield Record(source, number, {"text": line.strip(), "label": "acme"})


@hookimpl
def register_data_adapters(register):
    register(ShoutingAdapter())
'''


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """pip-install the package into its own target folder (the venv stays untouched)."""
    root = tmp_path_factory.mktemp("acme")
    project = root / "project"
    (project / "suite_acme").mkdir(parents=True)
    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "suite_acme" / "__init__.py").write_text(MODULE)
    target = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(project)],
        check=True,
        capture_output=True,
    )
    return target


def suite(target: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.run([sys.executable, "-m", "core.cli.app", *args], capture_output=True, text=True, env=env)


def statuses(target: Path) -> dict[str, dict]:
    proc = suite(target, "plugins", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    return {p["name"]: p for p in json.loads(proc.stdout)}


def test_discovered_listed_disabled_enabled(installed: Path, tmp_path: Path):
    plugin = statuses(installed)["acme"]
    assert plugin["status"] == "ok" and plugin["version"] == "1.2.3"
    assert plugin["hooks"] == ["register_data_adapters"]

    data = tmp_path / "notes.acme"
    data.write_text("first\nsecond\n")
    proc = suite(installed, "data", "inspect", str(data), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["examples"] == 2

    assert suite(installed, "plugins", "disable", "acme").returncode == 0
    assert statuses(installed)["acme"]["status"] == "disabled"
    proc = suite(installed, "data", "inspect", str(data), "--format", "acme-lines")
    assert proc.returncode == 2 and "unknown data adapter 'acme-lines'" in proc.stderr

    assert suite(installed, "plugins", "enable", "acme").returncode == 0
    assert statuses(installed)["acme"]["status"] == "ok"
