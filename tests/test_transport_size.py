"""The transports stay readable: no function over 80 lines, every module under 800 (issue 16)."""

from __future__ import annotations

import ast
from pathlib import Path

TRANSPORTS = Path(__file__).resolve().parents[1] / "src" / "ivr" / "transports"
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 800


def test_given_the_transports_then_no_function_is_longer_than_80_lines() -> None:
    long: list[str] = []
    for path in sorted(TRANSPORTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(TRANSPORTS)}:{node.lineno} {node.name}")
    assert long == []


def test_given_the_transports_then_no_module_is_longer_than_800_lines() -> None:
    long = [
        str(path.relative_to(TRANSPORTS))
        for path in sorted(TRANSPORTS.rglob("*.py"))
        if len(path.read_text(encoding="utf-8").splitlines()) >= MAX_MODULE_LINES
    ]
    assert long == []
