"""Where the checkout is: tests run its commands and read its files from there."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
