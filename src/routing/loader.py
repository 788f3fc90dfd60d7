"""Loading ``departments.yaml`` with errors a person can act on.

Each error names the file, the line, the field path and what is wrong, in French:
``config/departments.yaml:412: departements.2A.assistance.referents[1].number : « 06 12 »
n'est pas un numéro de téléphone valide``.

The file may come from anyone with the admin page: it is read within limits
(``routing.safe_yaml``: 2 Mo, nesting, alias expansion, YAML's own tags only) and refused,
with a ``ConfigError`` naming the limit, before it is expanded or built.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from routing.config import LocatedValueError, RoutingConfig
from routing.departements import BY_CODE
from routing.safe_yaml import MAX_CONFIG_BYTES, TOO_BIG, UnsafeYamlError, compose

Loc = tuple[str | int, ...]

MAX_ISSUES = 100
"""Problems listed at most (a hostile file may have a million): the rest are counted."""

# What YAML allows in a file (YAML 1.1, as PyYAML reads it): anything else stops its reader.
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in the routing file."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path} : {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """The routing file cannot be used; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[ConfigIssue], limit: str | None = None) -> None:
        self.issues = tuple(issues)
        # The limit the file went over, when it was refused before being read in full:
        # "size", "time" or a ``routing.safe_yaml.Limit`` ("aliases", "depth", "tag"…).
        self.limit = limit
        super().__init__("\n".join(str(issue) for issue in self.issues))


def too_big(file: str) -> ConfigError:
    return ConfigError([ConfigIssue(file, None, "", TOO_BIG)], limit="size")


def load_config(path: str | Path) -> RoutingConfig:
    """Read and validate a routing file, raising ``ConfigError`` with every problem."""
    file = str(path)
    try:
        with Path(path).open("rb") as stream:
            raw = stream.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise too_big(file)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(file, None, "", "fichier introuvable")]) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigIssue(file, None, "", "le fichier n'est pas en UTF-8")]) from None
    except OSError as exc:
        raise ConfigError([ConfigIssue(file, None, "", f"lecture impossible ({exc})")]) from None
    return parse_config(text, file)


def parse_config(text: str, file: str = "<config>") -> RoutingConfig:
    """Validate routing YAML given as text; ``file`` is only used in messages."""
    if len(text) > MAX_CONFIG_BYTES or len(text.encode("utf-8")) > MAX_CONFIG_BYTES:
        raise too_big(file)
    unprintable = _NOT_PRINTABLE.search(text)
    if unprintable is not None:
        line = text.count("\n", 0, unprintable.start()) + 1
        code = f"U+{ord(unprintable.group()):04X}"
        raise ConfigError(
            [ConfigIssue(file, line, "", f"caractère non permis dans un fichier YAML ({code})")]
        )
    try:
        composed = compose(text)
    except UnsafeYamlError as exc:
        raise ConfigError([ConfigIssue(file, exc.line, "", exc.message)], limit=exc.limit) from None
    except yaml.YAMLError as exc:
        raise _syntax_error(file, exc) from None
    node = composed.node
    if node is None:
        raise ConfigError([ConfigIssue(file, None, "", "le fichier est vide")])
    lines: dict[Loc, int] = {}
    duplicates = list(_index_lines(node, (), lines))
    if duplicates:
        raise ConfigError(
            [
                ConfigIssue(file, line, format_loc(loc), "cette clé apparaît deux fois")
                for loc, line in duplicates
            ]
        )
    try:
        data: Any = composed.construct()
    except yaml.YAMLError as exc:
        raise _syntax_error(file, exc) from None
    if not isinstance(data, dict):
        raise ConfigError(
            [
                ConfigIssue(
                    file, 1, "", "le fichier doit contenir une table (national, departements)"
                )
            ]
        )
    issues = _check_departement_codes(file, data, lines)
    try:
        config = RoutingConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        issues += [_issue(file, e, lines) for e in errors if not _consequence(e, errors)]
    if issues:
        raise ConfigError(_at_most(issues, file))
    return config


def _at_most(issues: list[ConfigIssue], file: str) -> list[ConfigIssue]:
    if len(issues) <= MAX_ISSUES:
        return issues
    more = len(issues) - MAX_ISSUES
    return [
        *issues[:MAX_ISSUES],
        ConfigIssue(
            file,
            None,
            "",
            f"… et {more} autre{'s' if more > 1 else ''} erreur{'s' if more > 1 else ''}",
        ),
    ]


def _syntax_error(file: str, exc: yaml.YAMLError) -> ConfigError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or ""
        if isinstance(exc, yaml.constructor.ConstructorError):
            message = f"valeur illisible : {_constructor_problem(problem)}"
        else:
            message = f"erreur de syntaxe YAML : {_yaml_problem(problem)}"
        return ConfigError([ConfigIssue(file, line, "", message)])
    return ConfigError([ConfigIssue(file, None, "", f"erreur de syntaxe YAML ({exc})")])


def _consequence(error: ErrorDetails, errors: list[ErrorDetails]) -> bool:
    """A list reported too short only because one of its items failed: not worth a line."""
    if error["type"] != "too_short":
        return False
    loc = error["loc"]
    return any(len(o["loc"]) > len(loc) and o["loc"][: len(loc)] == loc for o in errors)


def _check_departement_codes(
    file: str, data: dict[Any, Any], lines: dict[Loc, int]
) -> list[ConfigIssue]:
    """Report every unknown or unquoted département key, then drop them from ``data``.

    Done before the model validation so that each bad key gets its own line, and the rest
    of the file is still checked.
    """
    deps = data.get("departements")
    if not isinstance(deps, dict):
        return []
    issues: list[ConfigIssue] = []
    for key in list(deps):
        loc: Loc = ("departements", str(key))
        if not isinstance(key, str):
            message = (
                f"le code de département {key!r} doit être écrit entre guillemets "
                f'(par exemple « "{str(key).zfill(2)}" »)'
            )
        elif key not in BY_CODE:
            message = f"« {key} » n'est pas un code de département connu"
        else:
            continue
        issues.append(ConfigIssue(file, lines.get(loc), format_loc(loc), message))
        del deps[key]
    return issues


_YAML_PROBLEMS = (
    ("mapping values are not allowed", "deux-points inattendu (une valeur contient-elle « : » ?)"),
    ("cannot start any token", "caractère interdit à cet endroit (tabulation ?)"),
    ("could not find expected ':'", "deux-points attendu après la clé"),
    ("expected <block end>", "indentation incohérente"),
    ("found unexpected end of stream", "guillemet ou crochet non refermé"),
    ("did not find expected", "indentation ou ponctuation incohérente"),
)


_CONSTRUCTOR_PROBLEMS = (
    ("expected a mapping node", "une table (clé: valeur) est attendue avec cette étiquette"),
    ("expected a sequence node", "une liste est attendue avec cette étiquette"),
    ("expected a scalar node", "une valeur simple est attendue avec cette étiquette"),
    ("failed to convert base64", "données !!binary invalides (base64 attendu)"),
    ("failed to decode base64", "données !!binary invalides (base64 attendu)"),
    ("expected a mapping for merging", "« << » doit fusionner une table ou une liste de tables"),
    (
        "expected a mapping or list of mappings",
        "« << » doit fusionner une table ou une liste de tables",
    ),
    ("found unhashable key", "une clé doit être un simple texte"),
    ("expected a mapping of length 1", "chaque élément doit être une table d'une seule clé"),
    ("expected a sequence, but found", "une liste est attendue avec cette étiquette"),
)


def _constructor_problem(problem: str) -> str:
    for english, french in _CONSTRUCTOR_PROBLEMS:
        if english in problem:
            return french
    return problem or "valeur invalide"


def _yaml_problem(problem: str) -> str:
    for english, french in _YAML_PROBLEMS:
        if english in problem:
            return french
    return f"structure invalide ({problem})" if problem else "structure invalide"


def _index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> Iterator[tuple[Loc, int]]:
    """Record the line of every node by its path; yield the duplicate keys found."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*loc, key)
            if key in seen:
                yield child, key_node.start_mark.line + 1
                continue
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            yield from _index_lines(value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1  # the key's line reads best
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _index_lines(item, (*loc, index), lines)


def format_loc(loc: Loc) -> str:
    """``('departements', '2A', 'assistance', 'referents', 1, 'number')`` as
    ``departements.2A.assistance.referents[1].number``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _clean_loc(loc: tuple[str | int, ...]) -> Loc:
    # pydantic adds internal steps for unions and tagged validators ("function-after[...]").
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in {"str", "none"})))


def _issue(file: str, error: ErrorDetails, lines: dict[Loc, int]) -> ConfigIssue:
    cause = (error.get("ctx") or {}).get("error")
    loc = cause.loc if isinstance(cause, LocatedValueError) else _clean_loc(error["loc"])
    line = None
    probe: Loc = loc
    while True:
        if probe in lines:
            line = lines[probe]
            break
        if not probe:
            break
        probe = probe[:-1]
    return ConfigIssue(file, line, format_loc(loc), _french(error))


def _french(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    expected = str(ctx.get("expected", "")).replace("' or '", "' ou '").replace(" or ", " ou ")
    if kind == "value_error":
        cause = ctx.get("error")
        return str(cause) if cause is not None else error["msg"]
    if kind == "assertion_error":
        return error["msg"]
    messages: dict[str, str] = {
        "missing": "champ obligatoire manquant",
        "extra_forbidden": "champ inconnu",
        "string_type": "une chaîne de caractères est attendue",
        "int_type": "un nombre entier est attendu",
        "int_parsing": f"« {given} » n'est pas un nombre entier",
        "int_from_float": f"« {given} » n'est pas un nombre entier",
        "bool_type": "oui/non (true/false) est attendu",
        "bool_parsing": f"« {given} » n'est ni true ni false",
        "dict_type": "une table (clé: valeur) est attendue",
        "list_type": "une liste est attendue",
        "tuple_type": "une liste est attendue",
        "model_type": "une table (clé: valeur) est attendue",
        "date_type": "une date AAAA-MM-JJ est attendue",
        "date_parsing": f"« {given} » n'est pas une date AAAA-MM-JJ",
        "date_from_datetime_parsing": f"« {given} » n'est pas une date AAAA-MM-JJ",
        "enum": f"« {given} » n'est pas une valeur permise ({expected})",
        "literal_error": f"« {given} » n'est pas une valeur permise ({expected})",
        "greater_than_equal": f"{given} est trop petit (minimum {ctx.get('ge')})",
        "less_than_equal": f"{given} est trop grand (maximum {ctx.get('le')})",
        "too_short": "la liste ne peut pas être vide"
        if ctx.get("min_length") == 1 and not isinstance(given, str)
        else f"trop court (au moins {ctx.get('min_length')})",
        "string_too_short": f"texte trop court (au moins {ctx.get('min_length')} caractères)",
        "string_pattern_mismatch": f"« {given} » n'a pas la forme attendue",
    }
    return messages.get(kind, f"valeur invalide ({error['msg']})")
