"""`/metrics` in Prometheus format: requests by route and status, latency, rate-limit refusals,
the loaded generation. One registry per app, so tests can build several apps."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, holder) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("kommunesoeg_http_requests", "HTTP requests",
                                ["method", "route", "status"], registry=self.registry)
        self.seconds = Histogram(
            "kommunesoeg_http_request_seconds", "HTTP request latency", ["route"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry)
        self.limited = Counter("kommunesoeg_http_rate_limited", "Requests refused with 429",
                               registry=self.registry)
        reloads = Gauge("kommunesoeg_index_loads", "Index generations loaded since start",
                        registry=self.registry)
        reloads.set_function(lambda: holder.reloads)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.seconds.labels(route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
