"""The models a server holds: the *active* registry version of each name, loaded once.

Hot reload: a background task polls the registry; when another version of a loaded model
becomes active (``suite models activate``, or a new training run), it is loaded beside the
old one and swapped in one assignment. Requests already queued on the old version finish
on it (its batcher drains), new ones go to the new version: none is dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.data.types import TextExample
from core.errors import ModelNotFoundError, SuiteError
from core.explain import occlusion_variants, ranked_words
from core.serving.batching import BatcherClosed, MicroBatcher

if TYPE_CHECKING:
    from core.app import Suite
    from core.predictor import Predictor
    from core.serving.metrics import Metrics
    from core.store import ModelEntry

log = logging.getLogger("suite.serving")

# Texts per forward pass inside one micro-batch on CPU, after sorting by length. Measured with
# all-MiniLM-L6-v2 on 2 cores and Banking77 texts (ms per text, 32-text batches, int8 | fp32):
# 4: 6.4 | 9.2, 8: 5.9 | 8.0, 16: 6.1 | 8.7, 32: 8.9 | 11.5 (one text alone: 10.3 | 17.1).
# Bigger chunks pad short texts to long ones; GPUs keep the Predictor's default.
CPU_CHUNK = 8


class NotServableError(SuiteError):
    """A registered model this server cannot run on texts (e.g. a token tagger)."""


@dataclass
class LoadedModel:
    """One version in memory with the batcher every request for it goes through."""

    name: str
    version: int
    scenario: str
    predictor: Predictor
    batcher: MicroBatcher[Any, dict[str, Any]]


class ModelCache:
    """Registry-backed models, loaded on first use (or preloaded) and hot-swapped."""

    def __init__(self, suite: Suite, metrics: Metrics, *, max_batch: int = 32, max_wait_ms: float = 5.0,
                 poll_interval_s: float = 2.0) -> None:
        self.suite = suite
        self.metrics = metrics
        self.max_batch = max_batch
        self.max_wait_ms = max_wait_ms
        self.poll_interval_s = poll_interval_s
        self._models: dict[str, LoadedModel] = {}
        self._loading: dict[str, asyncio.Task[LoadedModel]] = {}
        self._poller: asyncio.Task[None] | None = None
        self.errors: dict[str, str] = {}  # preload failures, shown by /ready
        self._refused: set[tuple[str, int]] = set()  # versions that failed to load: not retried every poll
        self._closed = False

    # -- lookups -------------------------------------------------------------------------

    def loaded(self) -> dict[str, int]:
        return {name: model.version for name, model in self._models.items()}

    async def get(self, name: str) -> LoadedModel:
        """The loaded model ``name``, loading its active version on first use."""
        if self._closed:
            raise BatcherClosed("server shutting down")
        model = self._models.get(name)
        return model if model is not None else await self._load_once(name)

    async def predict(self, name: str, texts: Sequence[str], *, explain: bool = False) -> tuple[int, list[dict[str, Any]]]:
        """``(version, predictions)`` through the model's micro-batcher; retried on the new
        version when a hot swap closed the old one between lookup and submit. ``explain``
        adds each single-label prediction's words by the model's recorded method: occlusion's
        variants share the batcher; the gradient method predicts and explains in one pass of
        its own, in a worker thread beside the batcher."""
        examples = [TextExample(text) for text in texts]
        while True:
            model = await self.get(name)
            if explain and model.predictor.explain_method == "gradient":  # prediction and explanation in one pass
                predictions, explanations = await asyncio.to_thread(model.predictor.predict_explained, examples)
                for prediction, explanation in zip(predictions, explanations):
                    prediction["explanation"] = explanation
                return model.version, predictions
            try:
                predictions = await model.batcher.submit(examples)
                if explain:
                    for text, prediction in zip(texts, predictions):
                        prediction["explanation"] = await self._explain(model, text, prediction)
                return model.version, predictions
            except BatcherClosed:
                if self._closed or self._models.get(name) is model:
                    raise
                continue  # swapped meanwhile: the new version takes it

    @staticmethod
    async def _explain(model: LoadedModel, text: str, prediction: dict[str, Any]) -> list[dict[str, Any]]:
        label = prediction.get("label")
        candidates, variants = occlusion_variants(text)
        if label is None or not candidates:
            return []
        scored = await model.batcher.submit([TextExample(v) for v in variants])
        return ranked_words(candidates, [prediction["score"] - p["scores"][label] for p in scored], top_k=5)

    # -- loading -------------------------------------------------------------------------

    async def preload(self, names: Sequence[str]) -> None:
        """Load ``names`` one after another; a failure is kept for /ready, not raised."""
        for name in names:
            try:
                await self.get(name)
            except Exception as exc:  # noqa: BLE001 - the server stays up and says why it is not ready
                self.errors[name] = str(exc) if isinstance(exc, SuiteError) else f"{type(exc).__name__}: {exc}"
                log.error("could not load model %r: %s", name, self.errors[name])

    async def _load_once(self, name: str) -> LoadedModel:
        """Concurrent first requests for one model share one load."""
        task = self._loading.get(name)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._load_active(name))
            self._loading[name] = task
            task.add_done_callback(lambda _: self._loading.pop(name, None))
        return await asyncio.shield(task)

    async def _load_active(self, name: str) -> LoadedModel:
        entry = await asyncio.to_thread(self.suite.store.get_model, name)
        model = await self._build(entry)
        self._install(model)
        return model

    async def _build(self, entry: ModelEntry) -> LoadedModel:
        predictor = await asyncio.to_thread(self._load_predictor, entry)  # imports torch: off the event loop
        batcher: MicroBatcher[Any, dict[str, Any]] = MicroBatcher(
            predictor.predict, max_batch=self.max_batch, max_wait_ms=self.max_wait_ms,
            on_batch=self._batch_observer(entry.name),
        )
        return LoadedModel(entry.name, entry.version, entry.scenario, predictor, batcher)

    def _check_servable(self, entry: ModelEntry) -> None:
        """Refuse a model that does not take texts before spending seconds loading it."""
        from core.predictor import HEAD_FILE

        state_file = Path(entry.path) / HEAD_FILE
        if not state_file.is_file():
            raise ModelNotFoundError(f"model '{entry.name}' version {entry.version}: no model files at {entry.path}")
        scenario = self.suite.scenarios.get(entry.scenario) if entry.scenario in self.suite.scenarios else None
        if scenario is not None and scenario.route:
            raise NotServableError(f"model '{entry.name}' is a {entry.scenario} model: its decisions come from "
                                   f"{scenario.route}, not from the bare classifier")
        head = self.suite.heads.get(json.loads(state_file.read_text(encoding="utf-8"))["head"])
        if head.example_kind != "text":
            raise NotServableError(f"model '{entry.name}' is a {head.name} model: it takes {head.example_kind}, not texts")

    def _load_predictor(self, entry: ModelEntry) -> Predictor:
        from core.models import quiet_transformers
        from core.predictor import Predictor

        self._check_servable(entry)
        quiet_transformers(self.suite.settings.verbose)
        predictor = Predictor.load(entry.path, self.suite.heads)
        if predictor.device.type == "cpu":
            predictor.batch_size = CPU_CHUNK
        return predictor

    def _batch_observer(self, name: str) -> Callable[[int, float], None]:
        def observe(size: int, seconds: float) -> None:
            self.metrics.batch_size.labels(model=name).observe(size)
            self.metrics.batch_seconds.labels(model=name).observe(seconds)

        return observe

    def _install(self, model: LoadedModel) -> LoadedModel | None:
        """Swap ``model`` in (one assignment: atomic for every later request); the old one back."""
        old = self._models.get(model.name)
        self._models[model.name] = model
        self.errors.pop(model.name, None)
        self.metrics.model_version.labels(model=model.name).set(model.version)
        log.info("serving model %r version %d", model.name, model.version)
        return old

    # -- hot reload ----------------------------------------------------------------------

    def start(self) -> None:
        if self.poll_interval_s > 0 and self._poller is None:
            self._poller = asyncio.get_running_loop().create_task(self._poll_forever(), name="model-poller")

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            try:
                await self.refresh()
            except Exception as exc:  # noqa: BLE001 - a registry hiccup must not stop serving
                log.warning("model registry poll failed: %s", exc)

    async def refresh(self) -> None:
        """Load and swap in every loaded model whose active version changed."""
        if not self._models:
            return
        entries = await asyncio.to_thread(self.suite.store.list_models)
        for name, model in list(self._models.items()):
            wanted = _served_entry(entries, name)
            if wanted is not None and wanted.version != model.version and (name, wanted.version) not in self._refused:
                await self._swap(wanted)

    async def _swap(self, entry: ModelEntry) -> None:
        log.info("model %r: version %d is active, loading it", entry.name, entry.version)
        try:
            new = await self._build(entry)
        except Exception as exc:  # noqa: BLE001 - keep serving the old version
            self._refused.add((entry.name, entry.version))
            log.error("model %r version %d not loaded, still serving the old one: %s", entry.name, entry.version, exc)
            return
        old = self._install(new)
        if old is not None:
            await old.batcher.drain()  # in-flight requests finish on the old version
            log.info("model %r version %d unloaded", entry.name, old.version)

    async def close(self) -> None:
        self._closed = True
        if self._poller is not None:
            self._poller.cancel()
            try:
                await self._poller
            except asyncio.CancelledError:
                pass
        for model in list(self._models.values()):
            await model.batcher.close()
        self._models.clear()


def _served_entry(entries: Sequence[ModelEntry], name: str) -> ModelEntry | None:
    """What ``Store.get_model(name)`` would pick: the active version, else the latest."""
    versions = [e for e in entries if e.name == name]
    if not versions:
        return None
    return next((e for e in versions if e.active), max(versions, key=lambda e: e.version))

