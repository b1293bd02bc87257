"""``suite plugins new NAME``: a plugin package that installs, tests and runs as it is.

The templates beside this module are rendered with :class:`string.Template` (``${name}``...),
so they stay plain files a reader can open, and no template engine is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from core.errors import UsageError

TEMPLATES = Path(__file__).parent
NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
MAX_NAME = 40

# Output path (``{package}`` is replaced) -> template file in this folder.
FILES = {
    "pyproject.toml": "pyproject.toml.tmpl",
    "README.md": "README.md.tmpl",
    ".gitignore": "gitignore.tmpl",
    "{package}/__init__.py": "plugin_init.py.tmpl",
    "{package}/scenario.py": "scenario.py.tmpl",
    "{package}/console.py": "console.py.tmpl",
    "{package}/templates/home.html": "home.html.tmpl",
    "{package}/samples/train.csv": "train.csv.tmpl",
    "{package}/samples/input.txt": "input.txt.tmpl",
    "tests/conftest.py": "conftest.py.tmpl",
    "tests/test_plugin.py": "test_plugin.py.tmpl",
}


@dataclass(frozen=True)
class PluginNames:
    """Every name derived from the one the user gives, so they never disagree."""

    name: str  # entry-point name, shown by `suite plugins list`
    package: str  # import name
    distribution: str  # what `pip install` and PyPI know it by
    scenario: str  # `suite train <scenario>`
    cls: str  # the scenario class's prefix

    @classmethod
    def of(cls, name: str) -> PluginNames:
        check_name(name)
        return cls(
            name=name,
            package=f"suite_{name}",
            distribution=f"suite-{name.replace('_', '-')}",
            scenario=name.replace("_", "-"),
            cls="".join(part.capitalize() for part in name.split("_")),
        )


def check_name(name: str) -> None:
    """Names become a package, an entry point and a kebab-case scenario: keep them simple."""
    if not NAME.match(name) or len(name) > MAX_NAME:
        raise UsageError(
            f"invalid plugin name '{name}': use lowercase letters, digits and single underscores, "
            f"starting with a letter (at most {MAX_NAME} characters), e.g. acme_tickets"
        )


def default_folder(name: str) -> Path:
    return Path(PluginNames.of(name).distribution)


def scaffold_plugin(name: str, target: Path, *, core_version: str = "0.1") -> list[Path]:
    """Write the plugin package for ``name`` into ``target`` (absent or empty); the files written."""
    names = PluginNames.of(name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target}: already exists and is not an empty folder", hint="choose another with --dir")
    values = {
        "name": names.name,
        "package": names.package,
        "dist": names.distribution,
        "scenario": names.scenario,
        "cls": names.cls,
        "core_version": core_version,
    }
    written = []
    for output, template in FILES.items():
        path = target / output.format(package=names.package)
        text = Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
