"""docs/configuration.md lists every setting with its variable and default, as generated."""

from __future__ import annotations

from pathlib import Path

from jarvis.cli.settings import settings_markdown
from jarvis.config import Settings, env_name

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"


def _table() -> str:
    text = DOC.read_text()
    begin, end = "<!-- settings:begin -->\n", "<!-- settings:end -->"
    assert begin in text, "the settings table markers are missing"
    assert end in text, "the settings table markers are missing"
    return text.split(begin, 1)[1].split(end, 1)[0]


def test_the_configuration_doc_lists_every_setting_with_its_variable() -> None:
    table = _table()
    for name, field in Settings.model_fields.items():
        assert f"| `{name}` | `{env_name(name)}` |" in table, f"{name} is not documented"
        assert field.description, f"{name} has no description"


def test_the_configuration_doc_is_what_jarvis_config_doc_prints() -> None:
    assert _table() == settings_markdown(), "regenerate the table with `jarvis config doc`"
