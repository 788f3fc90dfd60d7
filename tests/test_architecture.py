"""The layers of docs/architecture.md, enforced: no import runs back up.

Every ``import`` and ``from ... import`` of ``src/`` (those inside functions too) is read
with ``ast``; each module belongs to a unit (a top-level package, or ``ivr.<child>``), and a
unit may import only the units its rule allows. A new unit must be given a rule here.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PROJECT = {"ivr", "routing", "geoloc", "sisiao_link", "resilience"}

DOMAIN = {"routing", "geoloc", "sisiao_link"}
ADAPTERS = {
    "ivr.state",
    "ivr.records",
    "ivr.transports",
    "ivr.sim",
    "ivr.locating",
    "ivr.prompts_audio",
    "ivr.config_sync",
}
# Which units each unit may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    # The domain: the routing file, geolocation, the SI SIAO port. Nothing of the service.
    "resilience": set(),  # retries and backoffs, for everyone
    "routing": set(),
    "geoloc": set(),
    "sisiao_link": set(),
    "ivr.settings": set(),
    # The call flow: pure, the routing file only.
    "ivr.flow": {"routing"},
    # The runtime: calls in progress over the flow, behind its ports.
    "ivr.runtime": {"ivr.flow", "routing"},
    # Adapters: what the ports are implemented with, and the transports. They may use the
    # store of record (the node flushes it, the routing versions live in it).
    **{
        unit: {"ivr.flow", "ivr.runtime", "ivr.settings", "ivr.records", *DOMAIN}
        for unit in ADAPTERS
    },
    # The consoles: the runtime's queries and the records, never the flow or a transport.
    "ivr.web": {"ivr.runtime", "ivr.records", "ivr.settings", *DOMAIN},
    # The composition root wires everything; the app and the CLI sit on it.
    "ivr.composition": {"ivr.flow", "ivr.runtime", "ivr.settings", "ivr.web", *ADAPTERS, *DOMAIN},
    "ivr.app": {"ivr.composition", "ivr.transports", "ivr.web", "ivr.settings", *DOMAIN},
    "ivr.records_cli": {"ivr.records", "ivr.settings", "ivr.sim", "ivr.flow", *DOMAIN},
    "ivr.cli": {
        "ivr.app",
        "ivr.composition",
        "ivr.records_cli",
        "ivr.flow",
        "ivr.settings",
        "ivr.web",
        *ADAPTERS,
        *DOMAIN,
    },
    "ivr": set(),  # the package's __init__
}
# The runtime's internals the consoles must not reach (they ask ``ivr.runtime.queries``).
WEB_MAY_IMPORT_FROM_RUNTIME = {"ivr.runtime.queries"}


def unit_of(module: str) -> str:
    parts = module.split(".")
    return f"ivr.{parts[1]}" if parts[0] == "ivr" and len(parts) > 1 else parts[0]


def module_of(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}:{node.lineno}: relative import (write it absolute)")
    return [(line, name) for line, name in found if name.split(".")[0] in PROJECT]


def violations() -> list[str]:
    wrong: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = module_of(path)
        unit = unit_of(module)
        if unit not in ALLOWED:
            wrong.append(f"{path.relative_to(SRC)}: unit {unit} has no rule in this test")
            continue
        for line, name in imports(path):
            target = unit_of(name)
            where = f"{path.relative_to(SRC)}:{line}"
            if target != unit and target != "resilience" and target not in ALLOWED[unit]:
                wrong.append(f"{where}: {unit} imports {name}")
            if (
                unit == "ivr.web"
                and target == "ivr.runtime"
                and name not in WEB_MAY_IMPORT_FROM_RUNTIME
            ):
                wrong.append(f"{where}: the consoles read runtime internals ({name})")
    return wrong


def test_given_the_sources_then_no_import_runs_back_up_the_layers() -> None:
    assert violations() == []


def test_given_an_arrow_back_up_then_the_check_names_it(tmp_path: Path) -> None:
    # The check itself: a flow module importing the runtime is caught.
    bad = tmp_path / "bad.py"
    bad.write_text("from ivr.runtime.runtime import CallRuntime\nimport routing.config\n")
    found = imports(bad)
    assert found == [(1, "ivr.runtime.runtime"), (2, "routing.config")]
    assert unit_of("ivr.runtime.runtime") not in ALLOWED["ivr.flow"]
    assert unit_of("routing.config") in ALLOWED["ivr.flow"]


def test_given_the_package_then_the_test_servers_and_the_fake_asterisk_do_not_ship_in_it() -> None:
    shipped = {module_of(path) for path in SRC.rglob("*.py")}
    moved = {
        "ivr.state.http",
        "ivr.state.serve",
        "ivr.state.simulated",
        "ivr.transports.ari.testing",
    }
    assert not moved & shipped
