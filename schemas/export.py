"""Writes the JSON Schema of every topic's event model to ``schemas/json/``.

Run ``python -m schemas.export`` after changing a model; a test fails while
the files and the models differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.topics import REGISTRY, TopicSpec

SCHEMA_DIR = Path(__file__).parent / "json"
"""Where the exported files live."""


def schema_path(spec: TopicSpec[Any]) -> Path:
    """The file holding ``spec``'s schema: ``json/<topic>.schema.json``."""
    return SCHEMA_DIR / f"{spec.name}.schema.json"


def render(spec: TopicSpec[Any]) -> str:
    """``spec``'s JSON Schema as the file's exact text."""
    schema = spec.model.model_json_schema(by_alias=True, mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": spec.name} | schema
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main() -> None:
    """Rewrite every schema file."""
    for spec in REGISTRY:
        schema_path(spec).write_text(render(spec))
        print(f"wrote {schema_path(spec)}")


if __name__ == "__main__":
    main()
