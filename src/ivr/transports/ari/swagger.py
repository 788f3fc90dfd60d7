"""Checks ARI requests against Asterisk's own API documents (Swagger 1.2 JSON).

Used by the fake Asterisk: every request the transport sends must name a documented
resource and method, give every required parameter, no undocumented one, and values of
the documented type (int, boolean, listed values, ranges).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCS_ENV = "IVR_ARI_API_DOCS"
ARI_VERSION = "22.10.1"


def default_docs_dir() -> Path:
    """``$IVR_ARI_API_DOCS``, else the copy shipped beside this module (``api_docs/``)."""
    env = os.environ.get(DOCS_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "api_docs" / ARI_VERSION


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: str  # path, query, body
    required: bool
    data_type: str
    multiple: bool
    allowed: tuple[str, ...] | None
    minimum: int | None


@dataclass(frozen=True, slots=True)
class Operation:
    path: str
    method: str
    nickname: str
    params: tuple[Param, ...]
    pattern: re.Pattern[str]
    websocket: bool


class SwaggerViolationError(ValueError):
    """A request the ARI documents do not allow."""


def _pattern(path: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{regex}$")


class AriSpec:
    """Every documented operation, indexed for request checking."""

    def __init__(self, operations: list[Operation]) -> None:
        self.operations = operations
        self.models: dict[str, Any] = {}

    @classmethod
    def load(cls, folder: Path | None = None) -> AriSpec:
        folder = folder or default_docs_dir()
        operations: list[Operation] = []
        models: dict[str, Any] = {}
        for file in sorted(folder.glob("*.json")):
            doc = json.loads(file.read_text())
            models.update(doc.get("models", {}))
            for api in doc.get("apis", []):
                for op in api.get("operations", []):
                    params = tuple(
                        Param(
                            name=p["name"],
                            kind=p["paramType"],
                            required=bool(p.get("required", False)),
                            data_type=p.get("dataType", "string"),
                            multiple=bool(p.get("allowMultiple", False)),
                            allowed=tuple(p["allowableValues"]["values"])
                            if p.get("allowableValues", {}).get("valueType") == "LIST"
                            else None,
                            minimum=p["allowableValues"].get("min")
                            if p.get("allowableValues", {}).get("valueType") == "RANGE"
                            else None,
                        )
                        for p in op.get("parameters", [])
                    )
                    operations.append(
                        Operation(
                            path=api["path"],
                            method=op["httpMethod"],
                            nickname=op["nickname"],
                            params=params,
                            pattern=_pattern(api["path"]),
                            websocket=op.get("upgrade") == "websocket",
                        )
                    )
        if not operations:
            raise FileNotFoundError(f"no ARI API document in {folder}")
        spec = cls(operations)
        spec.models = models
        return spec

    def match(
        self, method: str, path: str, query: dict[str, str], body: Any = None
    ) -> tuple[Operation, dict[str, str]]:
        """The operation a request calls and its path parameters, or ``SwaggerViolationError``."""
        candidates = [(op, op.pattern.match(path)) for op in self.operations]
        found = [(op, m) for op, m in candidates if m is not None]
        if not found:
            raise SwaggerViolationError(f"{method} {path}: no such resource")
        # A literal segment beats a parameter (``/channels/create`` is not a channel id).
        found.sort(key=lambda item: item[0].path.count("{"))
        for op, m in found:
            if op.method == method:
                self._check(op, m.groupdict(), query, body)
                return op, m.groupdict()
        raise SwaggerViolationError(f"{method} {path}: method not allowed ({found[0][0].path})")

    @staticmethod
    def _check(
        op: Operation, path_params: dict[str, str], query: dict[str, str], body: Any
    ) -> None:
        where = f"{op.method} {op.path} ({op.nickname})"
        documented = {p.name: p for p in op.params if p.kind == "query"}
        for name in query:
            if name not in documented:
                raise SwaggerViolationError(f"{where}: undocumented parameter {name!r}")
        for param in op.params:
            if param.kind == "path":
                value = path_params.get(param.name)
            elif param.kind == "query":
                value = query.get(param.name)
            else:
                if body is not None and param.data_type not in ("containers", "object"):
                    raise SwaggerViolationError(f"{where}: body must be {param.data_type}")
                continue
            if value is None:
                if param.required:
                    raise SwaggerViolationError(
                        f"{where}: missing required parameter {param.name!r}"
                    )
                continue
            values = value.split(",") if param.multiple else [value]
            for item in values:
                _check_value(where, param, item)
        if body is not None and not any(p.kind == "body" for p in op.params):
            raise SwaggerViolationError(f"{where}: takes no body")


def _check_value(where: str, param: Param, value: str) -> None:
    if param.data_type in ("int", "long"):
        if not re.fullmatch(r"-?\d+", value):
            raise SwaggerViolationError(f"{where}: {param.name}={value!r} is not an integer")
        if param.minimum is not None and int(value) < param.minimum:
            raise SwaggerViolationError(f"{where}: {param.name}={value} below {param.minimum}")
    elif param.data_type == "boolean" and value not in ("true", "false"):
        raise SwaggerViolationError(f"{where}: {param.name}={value!r} is not a boolean")
    if param.allowed is not None and value not in param.allowed:
        raise SwaggerViolationError(f"{where}: {param.name}={value!r} not in {list(param.allowed)}")
    if value == "":
        raise SwaggerViolationError(f"{where}: {param.name} is empty")
