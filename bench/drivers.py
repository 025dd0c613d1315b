"""Runs the load generator (bench.load) from the bench: one process per measurement."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass

import grpc

from bench.load import MEASURING
from bench.measurement import Measurement
from bench.security import StackSecurity
from bench.skus import SkuSet
from holdfast_common.rpc.channels import bearer, open_channel
from holdfast_common.settings import SecuritySettings
from tests.support.paths import REPO_ROOT
from tests.support.processes import ProcessFailed


@dataclass(frozen=True)
class Targets:
    """Where the load generators call, and with what security (None: plaintext, no token)."""

    inventory: str
    pricing: str
    security: StackSecurity | None = None

    def load_env(self) -> dict[str, str] | None:
        """The load generator's environment: ours, plus its certificates and token when secure."""
        return None if self.security is None else dict(os.environ, **self.security.load_env())


def _argv(
    scenario: str, concurrency: int, targets: Targets, skus: SkuSet, warmup: float, duration: float
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.load",
        f"--scenario={scenario}",
        f"--concurrency={concurrency}",
        f"--duration={duration}",
        f"--warmup={warmup}",
        f"--inventory={targets.inventory}",
        f"--pricing={targets.pricing}",
        f"--sku-prefix={skus.prefix}",
        f"--skus={skus.count}",
        *(["--secure"] if targets.security else []),
    ]


def _parse(scenario: str, returncode: int, stdout: str, stderr: str) -> Measurement:
    if stderr.strip():
        print("  " + stderr.strip().replace("\n", "\n  "), flush=True)
    lines = stdout.strip().splitlines()
    if returncode != 0 or not lines or not lines[-1].startswith("{"):
        raise ProcessFailed(f"load generator for {scenario} exited with {returncode}:\n{stdout}\n{stderr}")
    return Measurement.from_json(json.loads(lines[-1]))


def open_inventory_channel(targets: Targets) -> tuple[grpc.Channel, tuple[tuple[str, str], ...] | None]:
    """A channel to inventory_svc as the targets say (TLS and a token when secure) and the
    metadata each call sends."""
    if targets.security is None:
        return grpc.insecure_channel(targets.inventory), None
    security = targets.security
    settings = SecuritySettings(
        tls_ca_file=str(security.certs.ca),
        tls_client_cert_file=str(security.certs.client_cert),
        tls_client_key_file=str(security.certs.client_key),
        client_token=security.client_token,
    )
    return open_channel(targets.inventory, settings), bearer(security.client_token)


def measure(
    scenario: str, concurrency: int, *, targets: Targets, skus: SkuSet, warmup: float, duration: float
) -> Measurement:
    """Drives one scenario for warmup + duration seconds and returns what it measured."""
    done = subprocess.run(
        _argv(scenario, concurrency, targets, skus, warmup, duration),
        cwd=REPO_ROOT,
        env=targets.load_env(),
        capture_output=True,
        text=True,
        # Every call has its own deadline; this only guards against a wedged generator.
        timeout=warmup + duration + 120,
    )
    return _parse(scenario, done.returncode, done.stdout, done.stderr)


class OpenEndedLoad:
    """A load generator that runs until stop(): the background traffic of another phase."""

    def __init__(
        self, scenario: str, concurrency: int, *, targets: Targets, skus: SkuSet, warmup: float
    ) -> None:
        self.scenario = scenario
        self.process = subprocess.Popen(
            _argv(scenario, concurrency, targets, skus, warmup, 0),
            cwd=REPO_ROOT,
            env=targets.load_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_measuring(self) -> None:
        """Blocks until the warm-up is over and the window is open."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != MEASURING:
            self.process.kill()
            _, stderr = self.process.communicate()
            raise ProcessFailed(f"load generator for {self.scenario} did not start:\n{line}{stderr}")

    def stop(self) -> Measurement:
        """Closes the window and returns what was measured in it."""
        self.process.send_signal(signal.SIGTERM)
        stdout, stderr = self.process.communicate(timeout=60)
        return _parse(self.scenario, self.process.returncode, stdout, stderr)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
