"""The suite's Predictor as a map function over a distributed dataset (Ray Data).

Data that lives in a cluster is scored where it lies: ``ray.data`` reads it (Parquet, CSV,
JSON, a database), and :class:`PredictBatches` runs as a pool of actors, each loading the
fine-tuned model once and scoring batches with the same :class:`core.predictor.Predictor`
(length-sorted batches, the precision measured at training) as ``suite predict``::

    import ray
    from core.cluster import predict_dataset

    ds = ray.data.read_parquet("s3://bank/news/2026-12/")
    scored = predict_dataset(ds, "/models/finance-sentiment/run-12", concurrency=8)
    scored.write_parquet("s3://bank/news-scored/2026-12/")

Why Ray rather than Spark: docs/deploy.md ("Scoring data in a cluster"). Needs
``pip install "industry-suite[cluster]"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class PredictBatches:
    """A Ray Data callable class: built once per actor (the model loads once), then called on
    each batch (a dict of columns); adds ``label`` and ``score`` (and ``topic`` when the model
    has one) beside the input columns."""

    def __init__(self, folder: str, text_column: str = "text", precision: str = "auto", threads: int | None = None) -> None:
        import torch

        from core.app import Suite
        from core.models import quiet_transformers
        from core.predictor import Predictor

        if threads:
            torch.set_num_threads(threads)
        quiet_transformers()
        self.text_column = text_column
        self.predictor = Predictor.load(Path(folder), Suite.create().heads, precision=precision)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from core.data.types import TextExample

        texts = [str(t) for t in batch[self.text_column]]
        predictions = self.predictor.predict([TextExample(t) for t in texts])
        out = dict(batch)
        out["label"] = np.asarray([p.get("label") for p in predictions], dtype=object)
        out["score"] = np.asarray([float(p.get("score", 0.0)) for p in predictions], dtype=np.float32)
        if predictions and "topic" in predictions[0]:
            out["topic"] = np.asarray([p.get("topic") for p in predictions], dtype=object)
        return out


def predict_dataset(dataset: Any, folder: str | Path, *, text_column: str = "text", concurrency: int = 2,
                    batch_size: int = 256, precision: str = "auto", threads: int | None = 1) -> Any:
    """``dataset`` (a ``ray.data.Dataset``) with each row's prediction added, scored by
    ``concurrency`` actors of :class:`PredictBatches` (``threads`` torch threads each)."""
    return dataset.map_batches(
        PredictBatches,
        fn_constructor_kwargs={"folder": str(folder), "text_column": text_column, "precision": precision,
                               "threads": threads},
        batch_size=batch_size,
        concurrency=concurrency,
        batch_format="numpy",
    )
