"""docs/configuration.md is generated from the settings: it must say what they say now."""

from __future__ import annotations

from holdfast_common.settings import SECTIONS
from holdfast_dev.config_doc import PAGE, render


def test_the_configuration_page_is_up_to_date():
    written = PAGE.read_text() if PAGE.exists() else ""
    assert written == render(), f"{PAGE.name} is stale: run `make docs` and commit it"


def test_every_setting_is_described():
    undescribed = [
        f"{section.__name__}.{name}"
        for section in SECTIONS.values()
        for name, field in section.model_fields.items()
        if not field.description
    ]
    assert not undescribed
