"""The core's console pages: sign-in, overview, the model registry and the audit log."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from core.console.auth import COOKIE, SESSION_HOURS, ConsoleError, SignedIn, User, requires_role
from core.console.pages import Console, audit, redirect, render
from core.errors import UnknownNameError, UsageError
from core.store import ModelEntry

EVALUATION_IMAGES = {"confusion_matrix.png": "Confusion matrix", "confidence.png": "Confidence (calibration)"}
Admin = Annotated[User, Depends(requires_role("admin"))]


def core_routes() -> APIRouter:
    router = APIRouter()

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/ui/") -> HTMLResponse:
        return render(request, "login.html", title="Sign in", next=_local(next), error=None, user=None)

    @router.post("/login", response_class=HTMLResponse)
    def login(request: Request, key: Annotated[str, Form(max_length=500)], next: Annotated[str, Form()] = "/ui/") -> Response:
        console: Console = request.app.state.console
        entry = console.suite.store.verify_api_key(key.strip())
        if entry is None:
            return render(request, "login.html", status=401, title="Sign in", next=_local(next), user=None,
                          error="That key is unknown or revoked. Create one with: suite keys create NAME --role viewer")
        response = RedirectResponse(_local(next), status_code=303)
        response.set_cookie(COOKIE, console.sessions.sign_in(entry), max_age=SESSION_HOURS * 3600, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https", path="/ui")
        return response

    @router.post("/logout")
    def logout(user: Annotated[User, Depends(requires_role("viewer"))]) -> Response:
        response = RedirectResponse("/ui/login", status_code=303)
        response.delete_cookie(COOKIE, path="/ui")
        return response

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request, user: SignedIn) -> HTMLResponse:
        console: Console = request.app.state.console
        suite = console.suite
        models = suite.store.list_models()
        active: dict[str, list[ModelEntry]] = defaultdict(list)
        for entry in models:
            if entry.active:
                active[entry.scenario].append(entry)
        serving = getattr(request.app.state, "serving", None)
        health = {
            "uptime": _duration(time.time() - console.started),
            "database": _database_state(console),
            "loaded": serving.models.loaded() if serving else {},
            "errors": dict(serving.models.errors) if serving else {},
            "registered": len(models),
        }
        plugins = [r.as_dict() for r in suite.pm.plugins_info()]
        return render(request, "overview.html", user=user, title="Overview", plugins=plugins, active=dict(active),
                      scenarios=sorted(suite.scenarios.names()), runs=suite.store.list_runs(limit=10), health=health)

    @router.get("/models", response_class=HTMLResponse)
    def models_page(request: Request, user: SignedIn, notice: str | None = None) -> HTMLResponse:
        store = request.app.state.console.suite.store
        grouped: dict[str, dict[str, list[ModelEntry]]] = defaultdict(lambda: defaultdict(list))
        for entry in store.list_models():
            grouped[entry.scenario][entry.name].append(entry)
        return render(request, "models.html", user=user, title="Models", notice=notice,
                      grouped={s: dict(names) for s, names in sorted(grouped.items())}, shown=_shown_metrics)

    @router.get("/models/compare", response_class=HTMLResponse)
    def compare(request: Request, user: SignedIn, a: Annotated[str, Query(max_length=220)] = "",
                b: Annotated[str, Query(max_length=220)] = "") -> HTMLResponse:
        from core.evaluation.compare import compare_models

        store = request.app.state.console.suite.store
        choices = [f"{e.name}:{e.version}" for e in store.list_models()]
        table, error = None, None
        if a and b:
            try:
                table = compare_models(store.find_model(a), store.find_model(b))["table"]
            except (UnknownNameError, UsageError) as exc:
                error = str(exc)
        return render(request, "compare.html", user=user, title="Compare versions", choices=choices, a=a, b=b,
                      table=table, error=error)

    @router.get("/models/{name}", response_class=HTMLResponse)
    def model_detail(request: Request, user: SignedIn, name: str, notice: str | None = None) -> HTMLResponse:
        suite = request.app.state.console.suite
        versions = [e for e in suite.store.list_models() if e.name == name]
        if not versions:
            raise ConsoleError(404, f"no model named '{name}' in the registry")
        shown = versions[-1] if not any(v.active for v in versions) else next(v for v in versions if v.active)
        return render(request, "model.html", user=user, title=f"Model {name}", name=name, notice=notice,
                      versions=sorted(versions, key=lambda v: -v.version), shown=_shown_metrics,
                      before_after=_before_after(shown), current=shown, evaluation=_evaluation(suite, name, shown))

    @router.post("/models/{name}/activate")
    def activate(request: Request, user: Admin, name: str, version: Annotated[int, Form(ge=1)]) -> Response:
        store = request.app.state.console.suite.store
        try:
            entry = store.activate_model(name, version)
        except UnknownNameError as exc:
            raise ConsoleError(404, str(exc)) from None
        audit(request, user, "activate model", f"{entry.name} v{entry.version}")
        return redirect(f"/ui/models/{name}", f"{name} v{version} is active; servers switch to it within seconds")

    @router.get("/models/runs/{run_id}/{file}")
    def run_file(request: Request, user: SignedIn, run_id: int, file: str) -> FileResponse:
        path = request.app.state.console.suite.settings.runs_dir / f"run-{run_id}" / file
        if file not in EVALUATION_IMAGES or not path.is_file():
            raise ConsoleError(404, f"run {run_id} has no {file}")
        return FileResponse(path, media_type="image/png")

    @router.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request, user: SignedIn, page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> HTMLResponse:
        rows = request.app.state.console.suite.store.list_audit(limit=101, offset=(page - 1) * 100)
        return render(request, "audit.html", user=user, title="Audit log", rows=rows[:100], page=page,
                      more=len(rows) > 100)

    return router


def _local(url: str) -> str:
    """Only console paths after sign-in: never an open redirect to another site."""
    return url if url.startswith("/ui") and not url.startswith("//") else "/ui/"




def _shown_metrics(entry: ModelEntry) -> dict[str, Any]:
    from core.evaluation.compare import SHOWN_METRICS

    return {k: entry.metrics[k] for k in SHOWN_METRICS if isinstance(entry.metrics.get(k), (int, float))}


def _before_after(entry: ModelEntry) -> list[dict[str, Any]]:
    """The untuned baseline beside the fine-tuned model, as training measured them."""
    from core.heads import STATE_FILE

    state_file = Path(entry.path) / STATE_FILE
    state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.is_file() else {}
    before = state.get("baseline") or {}
    return [{"metric": k, "before": v, "after": entry.metrics.get(k)} for k, v in before.items()
            if isinstance(v, (int, float)) and isinstance(entry.metrics.get(k), (int, float))]


def _evaluation(suite: Any, name: str, entry: ModelEntry) -> dict[str, Any] | None:
    """The newest ``suite evaluate`` run of this version that wrote a report: its images
    (confusion matrix, confidence) and, when run with ``--explanations``, the faithfulness of
    each method and the global view (words per class, confusions, shortcut words)."""
    specs = {entry.path, str(Path(entry.path).resolve())} | ({name} if entry.active else set())  # how evaluate names it
    for run in suite.store.list_runs(entry.scenario, limit=200):
        if run.config.get("verb") != "evaluate" or run.config.get("model") not in specs:
            continue
        folder = suite.settings.runs_dir / f"run-{run.id}"
        report = folder / "report.json"
        if not report.is_file():
            continue
        metrics = json.loads(report.read_text(encoding="utf-8")).get("metrics", {})
        images = [{"url": f"/ui/models/runs/{run.id}/{f}", "title": t} for f, t in EVALUATION_IMAGES.items()
                  if (folder / f).is_file()]
        return {"run": run.id, "when": run.started_at, "data": run.config.get("data"), "images": images,
                "explanations": metrics.get("explanations")}
    return None


def _database_state(console: Console) -> str:
    try:
        console.suite.store.ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - shown on the page, the server keeps going
        return f"unreachable: {type(exc).__name__}"


def _duration(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
