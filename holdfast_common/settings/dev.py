"""Development tools (`make run`, `make test`): where embedded servers keep their data."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from holdfast_common.settings.section import Section


class DevSettings(Section):
    """Read by the development tools only (holdfast_dev), never by a deployed process."""

    model_config = SettingsConfigDict(env_prefix="holdfast_")

    # Relative to where `make` runs (the checkout's root): the data belongs to the working copy,
    # not to wherever the package is installed.
    data_dir: Path = Field(
        default=Path(".data"),
        description="where embedded servers (PostgreSQL, Redis) keep their data, relative to the working "
        "directory",
    )
