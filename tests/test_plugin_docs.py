"""docs/plugins.md cannot drift from the code: its hook reference is what core/hookspecs.py
generates, and what it tells plugin authors to run exists."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from typer.testing import CliRunner

from core import hookspecs
from core.cli.app import build_app
from core.plugins import make_plugin_manager
from core.testing import hook_reference_markdown, reference_section

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "plugins.md"
REGENERATE = "the hook reference is stale: run  .venv/bin/python -m core.testing docs/plugins.md"


def reference() -> str:
    section = reference_section(DOC.read_text(encoding="utf-8"))
    assert section is not None, "docs/plugins.md has no '## Hook reference' section"
    return section


def specs() -> dict[str, object]:
    """Read independently of core.testing: every function carrying pluggy's spec marker."""
    return {name: f for name, f in vars(hookspecs).items() if inspect.isfunction(f) and hasattr(f, "suite_spec")}


def test_hook_reference_is_generated_from_the_specs():
    assert reference() == hook_reference_markdown(), REGENERATE


def test_every_hook_has_a_section_with_its_signature():
    sections = dict(re.findall(r"^### (\w+)\n(.*?)(?=^### |\Z)", reference(), flags=re.S | re.M))
    assert set(sections) == set(specs()), REGENERATE
    for name, spec in specs().items():
        signature = str(inspect.signature(spec)).replace("'", "")  # annotations are strings here
        assert f"def {name}{signature}: ..." in sections[name], f"{name}: {REGENERATE}"
        summary = (inspect.getdoc(spec) or "").splitlines()[0]
        assert summary.replace("``", "`") in sections[name]


def test_the_tutorial_commands_exist(settings):
    text = DOC.read_text(encoding="utf-8")
    app = build_app(make_plugin_manager(settings, load_entrypoints=False), settings)
    for command in ("plugins new", "plugins list", "plugins disable"):
        assert f"suite {command}" in text
        assert CliRunner().invoke(app, [*command.split(), "--help"]).exit_code == 0, command
    assert 'pytest_plugins = ["core.testing"]' in text


def test_readme_points_to_the_tutorial():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/plugins.md" in readme and "suite plugins new" in readme
