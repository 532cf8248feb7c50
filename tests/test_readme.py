"""README.md's configuration table and the settings agree: names and defaults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import SecretStr, TypeAdapter
from pydantic.fields import FieldInfo

from streamjobs.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"

ROW = re.compile(r"^\| `(?P<name>[A-Z][A-Z0-9_]*)` \| (?P<default>[^|]+?) \| .+ \|$")
"""A row of the table: the variable, its default, its meaning."""

WORDS = {"unset": None, "empty": ""}
"""Defaults the table spells in words."""


def configuration_table() -> dict[str, str]:
    """The default cell of each row of the README's "Configuration" table, by variable."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [ROW.match(line) for line in section.splitlines() if line.startswith("| `")]
    assert all(rows), "a table row is not | `NAME` | default | meaning |"
    return {row["name"]: row["default"] for row in rows if row}


def read_default(cell: str, field: FieldInfo) -> Any:
    """The value a default cell means, read the way the environment variable would be."""
    if cell in WORDS:
        return WORDS[cell]
    text = re.fullmatch(r"`([^`]*)`", cell)
    assert text, f"a default is `value`, unset or empty, not {cell!r}"
    kind: Any = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    return TypeAdapter(kind).validate_python(text[1])


def plain(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def test_the_table_lists_every_setting_once_and_nothing_else() -> None:
    names = [line.split("`")[1] for line in README.read_text().splitlines() if ROW.match(line)]
    assert len(names) == len(set(names)), "a variable has two rows"
    assert set(configuration_table()) == {name.upper() for name in Settings.model_fields}


def test_each_default_in_the_table_is_the_settings_default() -> None:
    table = configuration_table()
    for name, field in Settings.model_fields.items():
        shown = read_default(table[name.upper()], field)
        assert plain(shown) == plain(field.default), f"{name.upper()}: README says {shown!r}"
