"""Shell commands documented in markdown pages, read so a test can run them as written.

A page's ```bash blocks are split into commands (a command starts at column 0, indented lines
continue it); a trailing `  # ...` and the `#   ...` lines right after a command document what it
prints. tests/integration/test_readme_walkthrough.py (README.md) and test_operators_doc.py
(docs/operators.md) run them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Command:
    """One shell command of a page and what the page says it prints."""

    block: int
    line: int  # in the page
    text: str
    notes: list[str] = field(default_factory=list)  # the comments documenting its output
    table: str = ""  # the markdown after the block, when the block's last command is described there

    @property
    def assigns(self) -> str | None:
        match = re.match(r"(\w+)=\$\(", self.text)
        return match.group(1) if match else None

    @property
    def streams(self) -> bool:
        return "WatchStockLevels" in self.text


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def recorded_result(out: Path, number: int, where: str) -> Result:
    """What the walkthrough script recorded of its `number`th command in `out` (see the
    tests' `script`): its exit code, stdout and stderr files."""
    rc_file = out / f"{number}.rc"
    assert rc_file.exists(), f"{where}: never ran"
    return Result(
        int(rc_file.read_text()), (out / f"{number}.out").read_text(), (out / f"{number}.err").read_text()
    )


def section_commands(page: Path, section: str) -> list[Command]:
    """Every command of the ```bash blocks in `section` of the markdown file `page`."""
    found: list[Command] = []
    for index, (first_line, code, after) in enumerate(walkthrough_blocks(page.read_text(), section)):
        found += split_commands(index, first_line, code, after)
    return found


def recording_script(
    commands: list[Command],
    out: Path,
    page: str,
    *,
    prelude: Sequence[str] = (),
    text_of: Callable[[Command], str] = lambda command: command.text,
) -> str:
    """The commands as one bash script (after `prelude`): each command's stdout, stderr and
    exit code go to out/N.out, .err and .rc (read back by `recorded_result`), and an
    assignment's value is appended to its stdout."""
    lines = ["set -o pipefail", *prelude]
    for number, command in enumerate(commands):
        lines += [
            f"# {page}:{command.line}",
            "{",
            text_of(command),
            f"}} >{out}/{number}.out 2>{out}/{number}.err",
            f"echo $? >{out}/{number}.rc",
        ]
        if command.assigns:
            lines.append(f'printf "%s\\n" "${command.assigns}" >>{out}/{number}.out')
    return "\n".join(lines) + "\n"


def substituted(text: str, replacements: Sequence[tuple[str, str]]) -> str:
    """`text` with each documented value (an address, a tool's path) replaced by the test's;
    each must be set exactly once in the page, so the whole script follows it."""
    for documented, actual in replacements:
        assert text.count(documented) == 1, f"the page should set {documented!r} once"
        text = text.replace(documented, actual)
    return text


def _section_end(lines: list[str], start: int) -> int:
    """The line of the next heading of the section's level or above (outside code blocks,
    where `# ` starts a comment), or the end."""
    level = len(lines[start]) - len(lines[start].lstrip("#"))
    inside = False
    for number in range(start + 1, len(lines)):
        line = lines[number]
        if line.strip().startswith("```"):
            inside = not inside
        elif not inside and re.match(rf"#{{1,{level}}} ", line):
            return number
    return len(lines)


def walkthrough_blocks(markdown: str, section: str) -> list[tuple[int, str, str]]:
    """(first line number, code, the markdown up to the next block) of each ```bash block in
    `section` (a heading line, which runs to the next heading of its level or above) of a
    markdown page."""
    lines = markdown.splitlines()
    start = lines.index(section)
    end = _section_end(lines, start)
    blocks: list[tuple[int, list[str], list[str]]] = []
    inside = False
    for number in range(start + 1, end):
        line = lines[number]
        if not inside and line.strip() == "```bash":
            inside = True
            blocks.append((number + 2, [], []))
        elif inside and line.strip() == "```":
            inside = False
        elif inside:
            blocks[-1][1].append(line)
        elif blocks:
            blocks[-1][2].append(line)
    assert not inside, f"an unclosed ```bash block in {section}"
    return [(first, "\n".join(code), "\n".join(after)) for first, code, after in blocks]


def split_commands(block: int, first_line: int, code: str, after: str) -> list[Command]:
    """A command starts at column 0; indented lines continue it. A trailing `  # ...` and the
    `#   ...` lines right after it document its output; other `# ...` lines are prose."""
    commands: list[Command] = []
    current: Command | None = None
    for offset, line in enumerate(code.splitlines()):
        if not line.strip():
            current = None
        elif line.startswith("#   ") and current is not None:
            current.notes.append(line[1:].strip())
        elif line.startswith("#"):
            current = None
        elif line[0].isspace():
            assert current is not None, f"line {first_line + offset}: a continuation of nothing"
            current.text += "\n" + line
        else:
            current = Command(block, first_line + offset, line)
            commands.append(current)
        trailing = re.search(r"\s{2,}#\s+(.*)$", line)
        if current is not None and trailing and not line.startswith("#"):
            current.notes.append(trailing.group(1).strip())
    if commands and re.search(r"^\|\s*stage\s*\|", after, re.MULTILINE):
        commands[-1].table = after
    return commands
