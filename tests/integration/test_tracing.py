"""Optional tracing: with OTEL_EXPORTER_OTLP_ENDPOINT set, a priced CreateHold is one trace across
inventory_svc and pricing_svc; unset, nothing of opentelemetry is even imported.

The services run as processes (`python -m ...`), as in production: a TracerProvider and the
grpc.aio server instrumentation are per process."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from holdfast.inventory.v1 import inventory_pb2 as ipb
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.grpc_helpers import Inventory, Pricing, new_request_id
from tests.support.paths import REPO_ROOT
from tests.support.polling import wait_until
from tests.support.service_process import ServiceProcess

CREATE_HOLD = "/holdfast.inventory.v1.InventoryService/CreateHold"
QUOTE = "/holdfast.pricing.v1.PricingService/BatchQuoteCarts"
SERVER, CLIENT = 2, 3  # opentelemetry.proto.trace.v1.Span.SpanKind


@dataclass(frozen=True)
class Received:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str


class Collector:
    """A fake OTLP/HTTP collector on 127.0.0.1: keeps every span POSTed to /v1/traces."""

    def __init__(self) -> None:
        self.spans: list[Received] = []
        spans = self.spans

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/traces":
                    spans.extend(_spans(ExportTraceServiceRequest.FromString(body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _spans(request: ExportTraceServiceRequest) -> Iterator[Received]:
    for resource_spans in request.resource_spans:
        attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield Received(
                    attributes.get("service.name", ""),
                    span.name,
                    span.kind,
                    span.trace_id.hex(),
                    span.span_id.hex(),
                    span.parent_span_id.hex(),
                )


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.close()


def test_a_priced_create_hold_is_one_trace_across_inventory_and_pricing(database_url, collector, tmp_path):
    env = {
        "DATABASE_URL": database_url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "LOG_LEVEL": "WARNING",
    }
    pricing_process = ServiceProcess("pricing_svc", tmp_path / "pricing.log", **env)
    inventory_process = ServiceProcess(
        "inventory_svc", tmp_path / "inventory.log", PRICING_ADDRESS=pricing_process.target, **env
    )
    inventory, pricing = Inventory(inventory_process.target), Pricing(pricing_process.target)
    try:
        sku = inventory.sku(product_id=inventory.product(price_cents=2500).id)
        hold = inventory.stub.CreateHold(
            ipb.CreateHoldRequest(
                request_id=new_request_id(),
                owner_id="cart-traced",
                lines=[ipb.HoldLine(sku=sku, quantity=2)],
                pricing=ipb.HoldPricing(customer_tier="gold"),
            )
        ).hold
        assert hold.HasField("pricing")

        def the_hold_s_trace() -> list[Received]:
            [create] = [s for s in collector.spans if s.name == CREATE_HOLD] or [None]
            if create is None:
                return []
            trace = [s for s in collector.spans if s.trace_id == create.trace_id]
            return trace if len(trace) >= 3 else []

        wait_until(the_hold_s_trace, 30, "the CreateHold's spans from both services")
    finally:
        inventory.close()
        pricing.close()
        # SIGTERM: each drains, then flushes the spans still batched.
        inventory_process.terminate()
        pricing_process.terminate()

    trace = the_hold_s_trace()
    by_kind = {(s.service, s.name, s.kind): s for s in trace}
    create = by_kind[("inventory_svc", CREATE_HOLD, SERVER)]
    quote_sent = by_kind[("inventory_svc", QUOTE, CLIENT)]
    quote_served = by_kind[("pricing_svc", QUOTE, SERVER)]
    assert len({create.trace_id, quote_sent.trace_id, quote_served.trace_id}) == 1
    # The context crossed in the call's metadata: pricing's span is the child of inventory's call.
    assert create.parent_span_id == ""
    assert quote_sent.parent_span_id == create.span_id
    assert quote_served.parent_span_id == quote_sent.span_id


_NO_ENDPOINT = textwrap.dedent(
    """
    import asyncio, sys
    from holdfast_common.settings import InventoryServiceSettings, PricingServiceSettings
    from inventory_svc.server import create_server
    from pricing_svc.server import create_server as create_pricing_server

    async def main() -> None:
        values = {"database_url": sys.argv[1], "db_pool_min_size": 1}
        pricing = PricingServiceSettings.with_values(**values)
        await (await create_pricing_server(pricing, "127.0.0.1:0")).stop(0)
        inventory = InventoryServiceSettings.with_values(**values)
        await (await create_server(inventory, "127.0.0.1:0")).stop(0)

    asyncio.run(main())
    print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
    """
)


def test_without_an_endpoint_nothing_of_opentelemetry_is_imported(database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", _NO_ENDPOINT, database_url],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
