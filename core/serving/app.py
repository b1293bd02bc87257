"""The FastAPI app ``suite serve`` runs: the core's routes, then every plugin's.

Routes under ``/v1`` and every plugin route require an API key unless ``auth=False``;
``/health``, ``/ready`` and (by default) ``/metrics`` stay open for probes and scrapers.
Every error is JSON ``{"error": "...", "detail": [...]}``.
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.serving.auth import key_dependency
from core.serving.metrics import Metrics
from core.serving.middleware import ServingMiddleware, configure_logging
from core.serving.models import ModelCache
from core.serving.routes import ServingState, metrics_routes, model_routes, probe_routes
from core.serving.schemas import MAX_BODY_BYTES, error_responses

if TYPE_CHECKING:
    from core.app import Suite

SERVE_CONFIG_ENV = "SUITE_SERVE_CONFIG"  # create_app's options as JSON, for uvicorn's worker processes
log = logging.getLogger("suite.serving")

DESCRIPTION = """Predictions from the models in the suite's registry.

Send `Authorization: Bearer <key>` (make a key with `suite keys create NAME`) to every route
under `/v1` and to plugin routes. Errors are JSON: `{"error": "...", "detail": [...]}`.
"""


def create_app(suite: Suite, *, auth: bool = True, max_batch: int = 32, max_wait_ms: float = 5.0,
               preload: Sequence[str] = (), poll_interval_s: float = 2.0, key_cache_s: float = 2.0,
               max_body_bytes: int = MAX_BODY_BYTES, metrics_auth: bool = False, threads: int | None = None,
               rate_limit: float = 0.0, console: bool = True) -> FastAPI:
    """The server app for ``suite``; see ``suite serve --help`` for the options (``threads``:
    torch's intra-op threads in this process; ``None`` leaves torch's default; ``rate_limit``:
    requests a second per API key and worker, 0 for none; ``console``: serve the web console at /ui)."""
    configure_logging()
    metrics = Metrics()
    models = ModelCache(suite, metrics, max_batch=max_batch, max_wait_ms=max_wait_ms, poll_interval_s=poll_interval_s)
    state = ServingState(suite, models, metrics, list(preload), auth=auth)
    # fastapi-offline: /docs and /redoc load Swagger UI and ReDoc from the installed package, not a CDN
    # (air-gapped banks get a working page)
    app = FastAPIOffline(title="Industry Suite", version=_version(), description=DESCRIPTION,
                         lifespan=_lifespan(state, threads), static_url="/docs-assets")
    app.state.serving = state  # plugin routes reach the shared batchers via request.app.state.serving.models
    keys = [Depends(key_dependency(lambda: suite.store, cache_s=key_cache_s, rate_limit=rate_limit))] if auth else []
    app.include_router(probe_routes(state))
    app.include_router(metrics_routes(state), dependencies=keys if metrics_auth else [])
    app.include_router(model_routes(state), dependencies=keys)
    for router in plugin_routers(suite):  # documented like the core's: 401 without a key, errors as ErrorBody
        app.include_router(router, dependencies=keys, responses=error_responses(*((401, 422) if auth else (422,))))
    add_error_handlers(app)
    if console:
        from core.console.pages import mount_console

        mount_console(app, suite)  # /ui: signs in with the same keys, whatever ``auth`` says
    app.add_middleware(ServingMiddleware, metrics=metrics, max_body_bytes=max_body_bytes)
    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn calls in each worker process (``--workers N`` needs an import
    string); settings come from the environment, serve options from ``SUITE_SERVE_CONFIG``."""
    from core.app import Suite

    options: dict[str, Any] = json.loads(os.environ.get(SERVE_CONFIG_ENV) or "{}")
    options.pop("read_timeout_s", None)  # the HTTP protocol's, not the app's (core.serving.protocol)
    return create_app(Suite.create(), **options)


def plugin_routers(suite: Suite) -> list[APIRouter]:
    routers: list[APIRouter] = []
    suite.pm.hook.register_routes(register=routers.append, suite=suite)
    return routers


def _lifespan(state: ServingState, threads: int | None) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(_import_inference, threads)
        await asyncio.to_thread(lambda: state.suite.store)  # open and migrate before taking requests
        state.models.start()
        preloading = asyncio.create_task(state.models.preload(state.preload))
        try:
            yield
        finally:
            preloading.cancel()
            await state.models.close()
            state.suite.close()

    return lifespan


def _import_inference(threads: int | None) -> None:
    """Import torch and transformers before taking requests: their imports hold the GIL
    for seconds, which would stall the event loop (and /health) if done while serving."""
    import torch

    import core.predictor  # noqa: F401

    if threads:
        torch.set_num_threads(threads)


def _version() -> str:
    try:
        return version("industry-suite")
    except PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------------------
# Errors: always JSON, 4xx for anything the client can fix
# --------------------------------------------------------------------------------------


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _server_error)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = list(exc.errors())
    if request.url.path.startswith("/ui/") and hasattr(request.app.state, "console"):
        from core.console.pages import render

        return render(request, "error.html", status=422, title="Check the form", message=validation_summary(errors))
    detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
              for e in errors]  # never the input back: it may be huge, or secret
    return JSONResponse({"error": validation_summary(errors), "detail": detail}, status_code=422)


def validation_summary(errors: Sequence[Any]) -> str:
    """The first problem in one line, e.g. ``texts.0: String should have at most 10000 characters``."""
    if not errors:
        return "invalid request"
    first = errors[0]
    if first.get("type") == "json_invalid":
        return f"request body is not valid JSON: {first.get('ctx', {}).get('error', 'decode error')}"
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    if first.get("type") == "missing" and where == "body":
        return 'request body is required: send JSON such as {"texts": ["..."]}'
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if request.url.path.startswith("/ui/") and hasattr(request.app.state, "console"):  # people, not programs
        from core.console.pages import render

        return render(request, "error.html", status=exc.status_code, title=_phrase(exc.status_code) or "Error",
                      message=f"{exc.detail}: {request.url.path}" if exc.status_code == 404 else str(exc.detail))
    message = str(exc.detail)
    if message == _phrase(exc.status_code):  # Starlette's bare "Not Found" and the like
        message = f"{message}: {request.method} {request.url.path}"
    return JSONResponse({"error": message, "detail": []}, status_code=exc.status_code, headers=exc.headers)


def _phrase(status: int) -> str | None:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return None


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return JSONResponse({"error": "internal server error", "detail": []}, status_code=500)
