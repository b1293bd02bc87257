"""Prometheus metrics of one server app, in its own registry (several apps in one process,
as in tests, never collide; with ``--workers N`` each worker reports its own)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Requests by route and status, latency, batch sizes and the model versions served."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "suite_http_requests", "HTTP requests by route template, method and status.",
            ["route", "method", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "suite_http_request_duration_seconds", "Time from request to response, by route.",
            ["route", "method"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.batch_size = Histogram(
            "suite_batch_size", "Texts per forward pass (micro-batching at work when > 1).",
            ["model"], buckets=BATCH_BUCKETS, registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "suite_batch_duration_seconds", "Time of one forward pass, by model.",
            ["model"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.model_version = Gauge(
            "suite_model_version", "Registry version of each model this process serves.",
            ["model"], registry=self.registry,
        )

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, method=method, status=str(status)).inc()
        self.latency.labels(route=route, method=method).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
