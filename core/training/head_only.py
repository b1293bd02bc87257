"""Head-only training: the encoder stays frozen, its pooled embeddings are computed once, and
only the linear layer is fitted (multinomial logistic regression). A fast CPU baseline, and
the "before fine-tuning" reference of evaluation reports."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from core.errors import UsageError
from core.heads import TaskHead
from core.heads.modeling import PooledClassifier


def embed(model: PooledClassifier, tokenizer: Any, head: TaskHead, examples: Sequence[Any], max_length: int,
          *, bf16: bool, batch_size: int = 128) -> np.ndarray:
    """Mean-pooled sentence vectors, computed in length-sorted batches."""
    rows = head.features(tokenizer, examples, max_length)
    collate = head.collate(tokenizer)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    vectors = np.zeros((len(rows), model.classifier.in_features), dtype=np.float32)
    model.eval()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = collate([{k: v for k, v in rows[i].items() if k != "labels"} for i in chunk])
            vectors[chunk] = model.pooled(**batch).float().numpy()
    return vectors


def fit_head_only(head: TaskHead, model: torch.nn.Module, tokenizer: Any, train_examples: Sequence[Any],
                  *, max_length: int, bf16: bool, seed: int) -> float:
    """Fit ``model.classifier`` on frozen embeddings; returns the seconds it took."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    if not isinstance(model, PooledClassifier) or model.problem == "score":
        raise UsageError(f"--strategy head-only needs a classification head, not '{head.name}'")
    started = time.perf_counter()
    features = embed(model, tokenizer, head, train_examples, max_length, bf16=bf16)
    rows = head.features(tokenizer, train_examples, max_length)
    targets = np.asarray([row["labels"] for row in rows])
    classifier = LogisticRegression(C=10.0, max_iter=2000, random_state=seed)
    if model.problem == "multi":
        fitted = OneVsRestClassifier(classifier).fit(features, targets.astype(int))
        weight = np.vstack([est.coef_ for est in fitted.estimators_])
        bias = np.concatenate([est.intercept_ for est in fitted.estimators_])
    else:
        fitted = classifier.fit(features, targets)
        weight, bias = _full_rank(fitted, len(head.labels))
    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(weight).float())
        model.classifier.bias.copy_(torch.from_numpy(bias).float())
    return time.perf_counter() - started


def _full_rank(fitted: Any, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """sklearn stores one row for two classes and only classes seen; expand to every label."""
    dim = fitted.coef_.shape[1]
    weight, bias = np.zeros((n_labels, dim)), np.full(n_labels, -1e4)
    if len(fitted.classes_) == 2:
        coef, intercept = np.vstack([-fitted.coef_[0] / 2, fitted.coef_[0] / 2]), np.array([-fitted.intercept_[0] / 2, fitted.intercept_[0] / 2])
    else:
        coef, intercept = fitted.coef_, fitted.intercept_
    weight[fitted.classes_] = coef
    bias[fitted.classes_] = intercept
    return weight, bias
