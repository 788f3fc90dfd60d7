"""Sizes that keep the code readable (issue #16): no file of ``src/`` over 800 lines, no
function over 80 lines (decorators excluded, nested functions counted on their own and in
the function around them). Alembic migrations are left out: they are written once, as the
schema was.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 80


def _sources() -> list[Path]:
    return sorted(path for path in SRC.rglob("*.py") if "migrations" not in path.parts)


def test_no_file_over_the_limit() -> None:
    too_long = []
    for path in _sources():
        name = path.relative_to(SRC).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_FILE_LINES:
            too_long.append(f"{name}: {lines} lines")
    assert not too_long, f"files over {MAX_FILE_LINES} lines: {too_long}"


def test_no_function_over_the_limit() -> None:
    too_long = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    name = path.relative_to(SRC).as_posix()
                    too_long.append(f"{name}:{node.lineno} {node.name}: {lines} lines")
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines: {too_long}"


def test_the_limits_are_checked_on_real_files() -> None:
    """Guards the walk itself: it must find the sources and their functions."""
    assert len(_sources()) > 50
    assert SRC.joinpath("ivr/app.py") in _sources()
