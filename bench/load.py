"""The load generator, in a process of its own so it never competes with the bench's own
Python for the GIL:

    python -m bench.load --scenario spread --concurrency 64 --duration 10 --warmup 2 \\
        --inventory 127.0.0.1:50051 --pricing 127.0.0.1:50052 --sku-prefix BENCH --skus 10000

A closed loop: each of `concurrency` callers sends its next call when the last one
answers. Calls that start after the warm-up and end inside the window are measured;
failures are counted by status code whenever they happen. Prints `measuring` when the
warm-up is over and, at the end, one line of JSON (a Measurement). With --duration 0 it
runs until SIGTERM or SIGINT.

With --secure it calls over mutual TLS and sends a bearer token on every call, both from
the settings in its environment (TLS_CA_FILE, TLS_CLIENT_CERT_FILE, TLS_CLIENT_KEY_FILE,
CLIENT_TOKEN), as `python -m bench --secure` sets them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import signal
import sys
from collections import Counter

import grpc

from bench.measurement import Measurement, summarize
from bench.skus import SkuSet
from bench.workloads import SCENARIOS, Metadata, Scenario
from holdfast_common.rpc.channels import bearer, open_aio_channel
from holdfast_common.settings import SecuritySettings

MEASURING = "measuring"


class _Window:
    """The measured interval in event-loop time: it opens after the warm-up and closes
    after `duration` seconds (0: never) or at close(), whichever comes first."""

    def __init__(self, loop: asyncio.AbstractEventLoop, warmup: float, duration: float) -> None:
        self._loop = loop
        self.start = loop.time() + warmup
        self.end = self.start + duration if duration > 0 else math.inf

    def close(self) -> None:
        self.end = min(self.end, self._loop.time())

    @property
    def closed(self) -> bool:
        return self._loop.time() >= self.end

    def holds(self, begin: float, finish: float) -> bool:
        return begin >= self.start and finish <= self.end

    @property
    def seconds(self) -> float:
        return max(0.0, min(self.end, self._loop.time()) - self.start)


def _secure_settings() -> SecuritySettings:
    """The TLS files and token of --secure; a plaintext or token-less run would measure the wrong thing."""
    settings = SecuritySettings()
    needed = ("tls_ca_file", "tls_client_cert_file", "client_token")
    missing = [name.upper() for name in needed if not getattr(settings, name)]
    if missing:
        raise SystemExit(f"bench.load --secure needs {', '.join(missing)} in the environment")
    return settings


async def drive(
    scenario: Scenario,
    target: str,
    skus: SkuSet,
    *,
    concurrency: int,
    warmup: float,
    duration: float,
    secure: SecuritySettings | None = None,
) -> Measurement:
    """Measures `scenario` on `target`; over mutual TLS with a token when `secure` says how."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    first_details: dict[str, str] = {}
    # Metadata passed per call: cheaper than a client interceptor or call credentials,
    # which would add Python work of their own to every call.
    metadata: Metadata | None = None
    if secure is None:
        opened = grpc.aio.insecure_channel(target)
    else:
        opened, metadata = open_aio_channel(target, secure), bearer(secure.client_token)
    async with opened as channel:
        await asyncio.wait_for(channel.channel_ready(), timeout=30)
        call = scenario.make(channel, skus, metadata)
        window = _Window(loop, warmup, duration)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, window.close)

        async def caller() -> None:
            while not window.closed:
                begin = loop.time()
                try:
                    await call()
                except grpc.aio.AioRpcError as error:
                    errors[error.code().name] += 1
                    first_details.setdefault(error.code().name, error.details() or "")
                    continue
                finish = loop.time()
                if window.holds(begin, finish):
                    latencies.append((finish - begin) * 1000)

        async def announce() -> None:
            await asyncio.sleep(warmup)
            print(MEASURING, flush=True)

        announcing = asyncio.ensure_future(announce())
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        announcing.cancel()
    for code, details in first_details.items():
        print(f"{scenario.name}: {errors[code]} x {code}, first: {details}", file=sys.stderr)
    return summarize(scenario.name, concurrency, window.seconds, latencies, dict(errors))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True, help="seconds measured; 0: until SIGTERM")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--inventory", required=True, help="inventory_svc host:port")
    parser.add_argument("--pricing", default="", help="pricing_svc host:port")
    parser.add_argument("--sku-prefix", required=True)
    parser.add_argument("--skus", type=int, required=True)
    parser.add_argument("--secure", action="store_true", help="mutual TLS and a token, from the environment")
    args = parser.parse_args(argv)
    scenario = SCENARIOS[args.scenario]
    target = args.pricing if scenario.service == "pricing" else args.inventory
    measurement = asyncio.run(
        drive(
            scenario,
            target,
            SkuSet(args.sku_prefix, args.skus),
            concurrency=args.concurrency,
            warmup=args.warmup,
            duration=args.duration,
            secure=_secure_settings() if args.secure else None,
        )
    )
    print(json.dumps(measurement.to_json()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
