"""The Predictor as a map function over a Ray dataset (core.cluster), on a local Ray cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow  # a local Ray cluster takes a minute or two to start and score: run by .ci/run

GOOD = ["thanks a lot", "this works great", "lovely and quick", "happy with the card"]
BAD = ["still broken", "very slow refund", "angry about fees", "lost my money"]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_a_ray_dataset_is_scored_like_suite_predict(local_ray, tiny_model: Path, tmp_path: Path):
    from core.app import Suite
    from core.cluster import predict_dataset
    from core.data.types import TextExample
    from core.heads.classification import SequenceClassificationHead
    from core.predictor import Predictor, save_model
    from core.training.config import TrainConfig
    from core.training.engine import fine_tune

    head = SequenceClassificationHead(["bad", "good"])
    data = [TextExample(t, "good") for t in GOOD] * 3 + [TextExample(t, "bad") for t in BAD] * 3
    config = TrainConfig(epochs=2, batch_size=8, learning_rate=1e-3, early_stopping_patience=0, baseline=False)
    outcome = fine_tune(head, str(tiny_model), data, data, config, tmp_path / "run", progress=False)
    folder = save_model(outcome.model, outcome.tokenizer, head, tmp_path / "model", config.max_length)

    texts = [f"{t} {n}" for n, t in enumerate((GOOD + BAD) * 25)]
    dataset = ray.data.from_items([{"id": n, "text": t} for n, t in enumerate(texts)])
    rows = predict_dataset(dataset, folder, concurrency=1, batch_size=64).take_all()
    assert sorted(row["id"] for row in rows) == list(range(len(texts)))  # every row once, input columns kept
    local = Predictor.load(folder, Suite.create().heads).predict([TextExample(t) for t in texts])
    by_id = {row["id"]: row for row in rows}
    assert [by_id[n]["label"] for n in range(len(texts))] == [p["label"] for p in local]
    assert [float(by_id[n]["score"]) for n in range(len(texts))] == pytest.approx([p["score"] for p in local], abs=1e-4)
