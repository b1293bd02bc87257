"""``suite doctor``: what this installation will use, and what is wrong with it."""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

import typer

from core.app import Suite
from core.cli import get_suite
from core.cli.options import JsonFlag
from core.cli.output import display_table, print_json
from core.errors import SuiteError

Status = Literal["ok", "warn", "fail"]


@dataclass
class Check:
    name: str
    status: Status
    detail: str


def check_python(_: Suite) -> Check:
    ok = sys.version_info >= (3, 10)
    return Check("python", "ok" if ok else "fail", f"{platform.python_version()} ({sys.executable})")


def check_torch(_: Suite) -> Check:
    import torch

    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU build"
    return Check("torch", "ok", f"{torch.__version__} ({build})")


def check_device(_: Suite) -> Check:
    from core.devices import detect_device

    plan = detect_device()
    detail = f"{plan.device}: {plan.name}, {plan.count} {'GPU(s)' if plan.device == 'cuda' else 'threads'}"
    return Check("device", "ok", detail)


def check_precision(_: Suite) -> Check:
    from core.devices import detect_device

    plan = detect_device()
    support = "supported" if plan.bf16_supported else "not supported (fp32)"
    return Check("bf16", "ok", f"{support}; training and inference use {plan.dtype}")


def check_model(suite: Suite) -> Check:
    from core.models import resolve_model

    try:
        source = resolve_model(suite.settings.model, offline=True, home=suite.settings.home)
    except SuiteError as exc:
        return Check("model", "fail", f"{exc} ({exc.hint})" if exc.hint else str(exc))
    return Check("model", "ok", f"{source.spec} [{source.kind}] {source.path}")


def check_catalogue(suite: Suite) -> Check:
    """Which pretrained encoders of the catalogue ``--model NAME`` can use offline (information only)."""
    from core.catalogue import catalogue_status

    statuses = catalogue_status(suite.settings.home)
    installed = [s.name for s in statuses if s.installed]
    missing = [s.name for s in statuses if not s.installed]
    detail = "installed: " + (", ".join(installed) or "none")
    if missing:
        detail += f"; not installed: {', '.join(missing)} (suite models install NAME)"
    return Check("catalogue", "ok", detail)


def check_database(suite: Suite) -> Check:
    from sqlalchemy.engine import make_url

    url = make_url(suite.settings.db_url).render_as_string(hide_password=True)
    try:
        revisions = suite.store.current_revisions()
        suite.store.check_writable()
    except SuiteError as exc:
        return Check("database", "fail", str(exc))
    return Check("database", "ok", f"{url} (schema {', '.join(sorted(revisions))})")


def check_plugins(suite: Suite) -> Check:
    records = suite.pm.plugins_info()
    broken = [r for r in records if r.status == "broken"]
    summary = ", ".join(f"{r.name} {r.status}" for r in records) or "none installed"
    if broken:
        return Check("plugins", "warn", summary + "; " + "; ".join(f"{r.name}: {r.error}" for r in broken))
    return Check("plugins", "ok", summary)


CHECKS: tuple[Callable[[Suite], Check], ...] = (
    check_python,
    check_torch,
    check_device,
    check_precision,
    check_model,
    check_catalogue,
    check_database,
    check_plugins,
)


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(ctx: typer.Context, json_output: JsonFlag = False) -> None:
        """Check Python, torch, device, precision, the default and catalogue models, the database, plugins."""
        suite = get_suite(ctx)
        checks = [check(suite) for check in CHECKS]
        ok = all(c.status != "fail" for c in checks)
        if json_output:
            print_json({"ok": ok, "checks": [asdict(c) for c in checks]})
        else:
            display_table(["name", "status", "detail"], [asdict(c) for c in checks], title="suite doctor")
        if not ok:
            raise typer.Exit(1)
