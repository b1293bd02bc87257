"""The core's routes: probes and metrics (public), the registry and predictions (``/v1``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from core.app import Suite
from core.errors import ModelNotFoundError, UnknownNameError
from core.serving.auth import audit, requires
from core.serving.batching import BatcherClosed
from core.serving.metrics import CONTENT_TYPE, Metrics
from core.serving.models import ModelCache, NotServableError
from core.serving.schemas import (
    Health,
    ModelInfo,
    ModelList,
    PredictRequest,
    PredictResponse,
    Ready,
    error_responses,
)

NOT_LOADED = "could not be loaded: the reason is in the server log"  # /ready is public: no paths in it


@dataclass
class ServingState:
    """What the routes share; one per app."""

    suite: Suite
    models: ModelCache
    metrics: Metrics
    preload: list[str] = field(default_factory=list)
    auth: bool = True


ModelName = Annotated[str, PathParam(min_length=1, max_length=200, description="Registered model name.",
                                     examples=["banking77"])]


def probe_routes(state: ServingState) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health", response_model=Health, summary="Liveness: the process answers.")
    async def health() -> Health:
        return Health()

    @router.get("/ready", response_model=Ready, summary="Readiness: every preloaded model is loaded.",
                responses={503: {"model": Ready, "description": "A preloaded model is not loaded (yet)."}})
    async def ready() -> JSONResponse:
        loaded = state.models.loaded()
        missing = [name for name in state.preload if name not in loaded]
        body = Ready(status="loading" if missing else "ready", models=loaded, missing=missing,
                     errors={name: NOT_LOADED for name in state.models.errors})  # public: the why is in the log
        return JSONResponse(body.model_dump(), status_code=503 if missing else 200)

    return router


def metrics_routes(state: ServingState) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", summary="Prometheus metrics of this process.", response_class=Response,
                responses={200: {"content": {CONTENT_TYPE: {"example": 'suite_batch_size_count{model="banking77"} 42.0'}},
                                 "description": "Prometheus text exposition format."}})
    async def metrics() -> Response:
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    return router


def model_routes(state: ServingState) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["models"])

    @router.get("/models", response_model=ModelList, summary="Registered models and their versions.",
                responses=error_responses(401) if state.auth else {})
    def list_models() -> ModelList:
        loaded = state.models.loaded()
        return ModelList(models=[
            ModelInfo(name=e.name, version=e.version, scenario=e.scenario, active=e.active,
                      loaded=loaded.get(e.name) == e.version, metrics=_finite(e.metrics), created_at=e.created_at)
            for e in state.suite.store.list_models()
        ])

    @router.post("/models/{name}/predict", response_model=PredictResponse,
                 summary="Predict with the active version of a registered text model.",
                 description="Concurrent requests are micro-batched into one forward pass.",
                 responses=error_responses(400, *([401] if state.auth else []), 404, 413, 422, 503))
    async def predict(name: ModelName, request: PredictRequest) -> JSONResponse:
        version, predictions = await _predict(state.models, name, request.texts, explain=request.explain)
        if not request.scores:
            predictions = [{k: v for k, v in p.items() if k != "scores"} for p in predictions]
        return JSONResponse({"model": name, "version": version, "predictions": predictions})

    @router.post("/models/{name}/activate", response_model=ModelInfo, dependencies=[Depends(requires("admin"))],
                 summary="Make a version the active one (admin keys).",
                 description="Servers swap to it within --reload-interval seconds; no request is dropped.",
                 responses=error_responses(*([401, 403] if state.auth else []), 404, 422))
    def activate(request: Request, name: ModelName,
                 version: Annotated[int, Body(embed=True, ge=1, description="The version to activate.")]) -> ModelInfo:
        try:
            entry = state.suite.store.activate_model(name, version)
        except UnknownNameError as exc:
            raise HTTPException(404, detail=str(exc)) from None
        audit(request, state.suite.store, "activate model", f"{entry.name} v{entry.version}")
        return ModelInfo(name=entry.name, version=entry.version, scenario=entry.scenario, active=entry.active,
                         loaded=state.models.loaded().get(entry.name) == entry.version, metrics=_finite(entry.metrics),
                         created_at=entry.created_at)

    return router


async def _predict(models: ModelCache, name: str, texts: list[str], *,
                   explain: bool = False) -> tuple[int, list[dict[str, Any]]]:
    """Predictions, with the registry's and batcher's errors as HTTP answers."""
    try:
        return await models.predict(name, texts, explain=explain)
    except UnknownNameError as exc:
        raise HTTPException(404, detail=str(exc)) from None
    except NotServableError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    except (ModelNotFoundError, BatcherClosed) as exc:
        raise HTTPException(503, detail=f"model '{name}' unavailable: {exc}") from None


def _finite(metrics: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN or infinity: such metric values become null."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in metrics.items()}


__all__ = ["ServingState", "metrics_routes", "model_routes", "probe_routes"]
