"""The SKUs a workload draws from: `<prefix>-0` to `<prefix>-<count - 1>`, the naming
bench.sweeper_clear.seed_holds uses too."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SkuSet:
    prefix: str
    count: int

    def sku(self, index: int) -> str:
        return f"{self.prefix}-{index}"
