"""docs/operators.md's walkthrough, run as written with the shipped sample file.

The ```bash blocks of "Walkthrough with the sample file" are run in order in one bash session
(tests/support/doc_commands reads them, as for the README) against a fresh inventory service and
database, in a scratch directory holding a copy of samples/. What the page says a command prints
is checked: each `#   ...` line is literal output, `...` standing for text left out, and
`exit N` is the command's exit code (0 unless the page says otherwise).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.doc_commands import Command, Result, recorded_result, recording_script, section_commands
from tests.support.paths import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "operators.md"
SECTION = "## Walkthrough with the sample file"


def commands() -> list[Command]:
    return section_commands(PAGE, SECTION)


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def expected_exit(command: Command) -> int:
    codes = [int(m.group(1)) for note in command.notes if (m := re.fullmatch(r"exit (\d+)", note))]
    return codes[0] if codes else 0


def check_note(where: str, note: str, result: Result) -> None:
    """The note's pieces (split at `...`) appear in the output in order, whitespace aside."""
    if re.fullmatch(r"exit \d+", note):
        return
    output, at = squeeze(result.output), 0
    for piece in (squeeze(p) for p in note.split("...")):
        found = output.find(piece, at)
        assert found >= 0, f"{where}: {piece!r} (of {note!r}) not in the output:\n{result.output}"
        at = found + len(piece)


def test_the_walkthrough_parses_into_checked_commands() -> None:
    documented = commands()
    assert len(documented) >= 10
    texts = " ".join(c.text for c in documented)
    for verb in ("import", "export", "stock get", "stock set", "stock adjust", "stock transfer", "audit"):
        assert f"holdfast {verb}" in texts, f"the walkthrough never runs holdfast {verb}"
    assert "samples/catalog.csv" in texts
    for command in documented:
        done = subprocess.run(["bash", "-n"], input=command.text, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"operators.md:{command.line}: not a whole command: {done.stderr}"


def test_every_documented_command_prints_what_the_page_says(
    inventory: Any, database_url: str, tmp_path: Path
) -> None:
    documented = commands()
    work, out = tmp_path / "work", tmp_path / "out"
    out.mkdir()
    work.mkdir()
    shutil.copytree(REPO_ROOT / "samples", work / "samples")
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "INVENTORY_LISTEN": f"127.0.0.1:{inventory.port}",
        "DATABASE_URL": database_url,
    }
    (tmp_path / "walkthrough.sh").write_text(recording_script(documented, out, "operators.md"))
    subprocess.run(["bash", str(tmp_path / "walkthrough.sh")], cwd=work, env=env, timeout=300, check=True)

    for number, command in enumerate(documented):
        where = f"operators.md:{command.line} ({command.text.splitlines()[0].strip()})"
        result = recorded_result(out, number, where)
        assert result.returncode == expected_exit(command), (
            f"{where}: exit {result.returncode}: {result.output}"
        )
        for note in command.notes:
            check_note(where, note, result)
