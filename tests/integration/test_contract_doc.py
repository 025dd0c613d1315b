"""docs/contract.md's examples (the launch on backorder in "Stock states, incoming stock,
backorders and preorders"; resuming from a cursor in "Stock events"), each run as written
against a fresh inventory service and checked against what the page says each command
prints, as the README walkthrough is (test_readme_walkthrough.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_readme_walkthrough import GRPCURL, INVENTORY_ADDRESS, check_note
from tests.support.doc_commands import (
    Command,
    recorded_result,
    recording_script,
    section_commands,
    substituted,
)
from tests.support.paths import REPO_ROOT

CONTRACT = REPO_ROOT / "docs" / "contract.md"
# Each section's example, and how many commands it has at least (so a section is not lost).
SECTIONS = {
    "### Stock states, incoming stock, backorders and preorders": 10,
    "### Stock events": 6,
}


def commands(section: str) -> list[Command]:
    return section_commands(CONTRACT, section)


@pytest.mark.parametrize("section", SECTIONS)
def test_the_examples_print_what_the_contract_says(section: str, inventory: Any, tmp_path: Path) -> None:
    documented = commands(section)
    assert len(documented) >= SECTIONS[section]
    out = tmp_path / "out"
    out.mkdir()
    text = substituted(
        recording_script(documented, out, "contract.md"),
        [(".venv/bin/grpcurl", str(GRPCURL)), (INVENTORY_ADDRESS, f"127.0.0.1:{inventory.port}")],
    )
    (tmp_path / "contract.sh").write_text(text)
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run(["bash", str(tmp_path / "contract.sh")], cwd=REPO_ROOT, env=env, timeout=300, check=True)

    for number, command in enumerate(documented):
        where = f"contract.md:{command.line} ({command.text.splitlines()[0].strip()})"
        result = recorded_result(out, number, where)
        code = next((m.group(1) for n in command.notes if (m := re.search(r"Code: (\w+)", n))), None)
        if code:
            assert result.returncode != 0 and f"Code: {code}" in result.stderr, f"{where}: {result}"
        else:
            assert result.returncode == 0, f"{where}: exit {result.returncode}: {result.output}"
        for note in command.notes:
            check_note(where, note, result)
