"""Logs, Prometheus /metrics and OpenTelemetry tracing."""

from __future__ import annotations

from pydantic import Field

from holdfast_common.settings.section import Section


class ObservabilitySettings(Section):
    """Logs go to stderr. Each process role has its own /metrics port, 0 (off) by default so
    local runs and tests never fight over a port."""

    log_level: str = Field(
        default="INFO",
        description="log level (JSON lines unless stderr is a terminal); `WARNING` drops the per-call lines",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="address the `/metrics` endpoints bind (`0.0.0.0` in a container)"
    )
    inventory_metrics_port: int = Field(
        default=0, ge=0, le=65535, description="inventory_svc's `/metrics` port (0: off); 9101 suggested"
    )
    pricing_metrics_port: int = Field(
        default=0, ge=0, le=65535, description="pricing_svc's `/metrics` port (0: off); 9102 suggested"
    )
    sweeper_worker_metrics_port: int = Field(
        default=0, ge=0, le=65535, description="the sweeper worker's `/metrics` port (0: off); 9103 suggested"
    )
    sweeper_scheduler_metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="the sweeper scheduler's `/metrics` port (0: off); 9104 suggested",
    )
    otel_exporter_otlp_endpoint: str = Field(
        default="",
        description="OTLP/HTTP collector base URL (e.g. `http://otel-collector:4318`); set, both "
        "services send traces to `<it>/v1/traces` (needs `pip install '.[tracing]'`); unset: off",
    )
