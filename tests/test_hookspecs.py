"""The hook contract is documented: every spec says when it is called, its params and return."""

from __future__ import annotations

import inspect

import pytest

from core import hookspecs

SPECS = [
    obj
    for name, obj in vars(hookspecs).items()
    if inspect.isfunction(obj) and name.startswith("register_")
]


def test_hooks_exist():
    assert {f.__name__ for f in SPECS} >= {
        "register_data_adapters",
        "register_task_heads",
        "register_scenarios",
        "register_routes",
        "register_commands",
        "register_alert_sinks",
        "register_migrations",
    }


@pytest.mark.parametrize("spec", SPECS, ids=lambda f: f.__name__)
def test_every_hook_is_documented(spec):
    doc = inspect.getdoc(spec) or ""
    assert "Called" in doc, "say when the hook is called"
    for param in inspect.signature(spec).parameters:
        assert f":param {param}:" in doc
    assert ":returns:" in doc
