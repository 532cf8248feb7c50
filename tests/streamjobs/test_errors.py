"""The tree in ``streamjobs.errors`` names every exception class of the project."""

from __future__ import annotations

import re
from pathlib import Path

import streamjobs.errors

ROOT = Path(__file__).parents[2]
"""The checkout."""

PACKAGES = ("streamjobs", "schemas", "producers", "consumers", "scheduler", "tests", "bench")
"""Where exception classes may be defined."""

EXCEPTION_CLASS = re.compile(r"^class (\w+)\(([^)]*(?:Error|Exception)\b[^)]*)\):", re.MULTILINE)
"""A class with an error or exception class among its bases."""


def exception_classes() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found.update(EXCEPTION_CLASS.findall(path.read_text()))
    return found


def test_the_docstring_tree_lists_every_exception_class_of_the_project() -> None:
    tree = streamjobs.errors.__doc__ or ""
    classes = exception_classes()
    assert ("FatalError", "JobError") in classes
    named = set(re.findall(r"(?m)^[\s|]*(?:\+-- )?(\w+)", tree))
    missing = sorted(name for name, _ in classes if name not in named)
    assert missing == []
