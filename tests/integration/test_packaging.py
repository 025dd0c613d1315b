"""The package as the image installs it (a wheel, not an editable checkout): every file the code
reads at run time, the named SQL and the migrations, travels inside it and is found through the
import system, not beside a checkout."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

_NOT_SOURCES = (".git", ".venv", ".data", ".*cache", "build", "*.egg-info", "__pycache__", "bench", "tests")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools leaves build/ and *.egg-info beside the sources it builds.
    source = tmp_path_factory.mktemp("source") / "holdfast"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(*_NOT_SOURCES))
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out)]
    subprocess.run([*pip_wheel, str(source)], check=True, capture_output=True, timeout=300)
    (built,) = out.glob("holdfast-*.whl")
    return built


def tracked_sql() -> set[str]:
    """The .sql files of the installed packages (the bench's pgbench scripts are not one)."""
    listed = subprocess.run(
        ["git", "ls-files", "*.sql"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return {path for path in listed.stdout.split() if not path.startswith(("bench/", "tests/"))}


def test_the_wheel_carries_every_sql_file_and_migration(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    missing = tracked_sql() - shipped
    assert not missing, f"not in the wheel: {sorted(missing)}"


def test_an_installed_copy_finds_its_queries_and_migrations_inside_itself(wheel: Path, tmp_path: Path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # One query of each package's SQL folder: loading it reads every .sql file there.
    probe = (
        "import json\n"
        "from holdfast_ops.migrate import MIGRATIONS_DIR\n"
        "import holdfast_ops.queries as o, inventory_svc.queries as i, pricing_svc.queries as p\n"
        "import sweeper.queries as s\n"
        "assert o.Q.grant_inventory and i.Q.get_hold and p.Q.get_rule and s.Q.expire_overdue_batch\n"
        "print(json.dumps({'migrations': str(MIGRATIONS_DIR), 'ops': o.__file__,"
        " 'count': len([m for m in MIGRATIONS_DIR.iterdir() if m.name.endswith('.sql')])}))"
    )
    # Run outside the checkout, the installed copy first on the path.
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["migrations"].startswith(str(site)), found
    assert found["ops"].startswith(str(site)), found
    assert found["count"] == len([m for m in tracked_sql() if m.startswith("holdfast_ops/migrations/")])


def test_the_wheel_carries_the_holdfast_command(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
        (entry_points,) = [name for name in shipped if name.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    assert "holdfast/__main__.py" in shipped  # `python -m holdfast`
    assert "holdfast_cli/main.py" in shipped
    assert "[console_scripts]\nholdfast = holdfast_cli.main:main" in scripts


def test_make_setup_installs_the_holdfast_command_in_the_virtualenv(tmp_path: Path):
    # The tests run on the virtualenv `make setup` made; its bin/ has the console script.
    script = Path(sys.executable).parent / "holdfast"
    assert script.exists(), f"{script} missing: `make setup` should install the console script"
    for argv in ([str(script)], [sys.executable, "-m", "holdfast"]):
        for command in ([], ["stock", "set"], ["import"], ["export"], ["audit"]):
            done = subprocess.run(
                [*argv, *command, "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, (argv, command, done.stderr)
            assert done.stdout.startswith(f"usage: holdfast {' '.join(command)}".rstrip()), done.stdout
