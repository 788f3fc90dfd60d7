"""Reading routing YAML within limits, whoever wrote it.

A routing file may come from an admin's upload: it is composed here event by event (over
PyYAML's safe parser, libyaml's when available) instead of by ``yaml.compose``, so that
what it costs is counted before anything is built from it:

- nesting deeper than ``MAX_DEPTH`` levels is refused;
- the nodes the document expands to (an alias ``*name`` counts the whole of the node it
  names, a merge ``<<: *name`` too) are counted as they are read, and the file is refused
  as soon as they pass ``MAX_NODES``: a "billion laughs" file is stopped after reading a
  few hundred bytes, never expanded;
- only YAML's own tags (``!!str``, ``!!int``, ``!!map``…) are accepted: ``!!python/…`` or
  any other is refused, with its line, before anything is constructed;
- keys are plain scalars, numbers are at most ``MAX_NUMBER_CHARS`` long (converting a
  longer one may take quadratic time);
- aliases must name a node already complete (no cycle).

Every refusal is an ``UnsafeYamlError`` naming the limit, the line and the problem in
French. The size limit (``MAX_CONFIG_BYTES``) is checked by the callers, on the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import yaml

MAX_CONFIG_BYTES = 2_000_000
"""A routing file's size limit (bytes of UTF-8), wherever it comes from."""
TOO_BIG = "fichier trop volumineux (2 Mo au plus)"

MAX_DEPTH = 50
"""Nesting levels (the shipped file uses 7)."""
MAX_NODES = 200_000
"""Nodes after alias expansion (the shipped file has about 11,000 for 101 départements)."""
MAX_NUMBER_CHARS = 100
_NODES_SHOWN = f"{MAX_NODES:,}".replace(",", " ")  # "200 000"

Limit = Literal["depth", "nodes", "aliases", "tag", "key", "anchor", "number", "documents"]

YAML_TAG = "tag:yaml.org,2002:"
STANDARD_TAGS = frozenset(
    YAML_TAG + name
    for name in (
        "null",
        "bool",
        "int",
        "float",
        "str",
        "binary",
        "timestamp",
        "seq",
        "map",
        "set",
        "omap",
        "pairs",
        "merge",
    )
)
_NUMBER_TAGS = frozenset({YAML_TAG + "int", YAML_TAG + "float"})
_VALUE_TAG = YAML_TAG + "value"  # a bare "=" resolves to it; PyYAML cannot construct it


class UnsafeYamlError(Exception):
    """The document was refused while it was read, before it was expanded or built."""

    def __init__(self, limit: Limit, line: int | None, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.line = line
        self.message = message


def shown_tag(tag: str) -> str:
    """A tag as it is written in a file: ``!!python/name:os.system``, ``!local``."""
    return "!!" + tag.removeprefix(YAML_TAG) if tag.startswith(YAML_TAG) else tag


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


class _LocatedFailures(yaml.constructor.SafeConstructor):
    """Scalar constructors' own failures (``!!int abc``, ``!!bool 3``…) as located YAML
    errors instead of bare exceptions."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return super().construct_object(node, deep)
        try:
            return super().construct_object(node, deep)
        except (ValueError, KeyError, AttributeError, TypeError, OverflowError):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"« {node.value[:40]} » ne peut pas être lu comme {shown_tag(node.tag)}",
                node.start_mark,
            ) from None


class PurePythonLoader(_LocatedFailures, yaml.SafeLoader):
    """PyYAML's own parser, when it was built without libyaml."""


_Loader: type[yaml.SafeLoader] = PurePythonLoader
if hasattr(yaml, "CSafeLoader"):

    class _LibyamlLoader(_LocatedFailures, yaml.CSafeLoader):
        """libyaml's parser: the same events and marks, faster."""

    _Loader = _LibyamlLoader  # type: ignore[assignment]
LOADER = _Loader
"""The loader ``compose`` uses (libyaml's when available)."""


@dataclass(slots=True)
class _Anchor:
    node: yaml.Node
    size: int  # nodes it expands to; -1 while it is still being read


class _Composer:
    """Builds the node graph from the parser's events, counting as it goes."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader: Any = loader  # the stubs leave its event methods untyped
        self.anchors: dict[str, _Anchor] = {}
        self.expanded = 0  # nodes of the document once every alias is expanded
        self.aliases = 0

    def document(self) -> yaml.Node | None:
        loader = self.loader
        loader.get_event()  # stream start
        node = None
        if not loader.check_event(yaml.StreamEndEvent):
            loader.get_event()  # document start
            node = self.node(1)
            loader.get_event()  # document end
            if not loader.check_event(yaml.StreamEndEvent):
                event = loader.peek_event()
                raise UnsafeYamlError(
                    "documents",
                    _line(event.start_mark),
                    "le fichier contient plusieurs documents YAML (« --- ») : un seul est attendu",
                )
        loader.get_event()  # stream end
        return node

    def count(self, nodes: int, line: int | None) -> None:
        self.expanded += nodes
        if self.expanded > MAX_NODES:
            if self.aliases:
                raise UnsafeYamlError(
                    "aliases",
                    line,
                    f"les alias YAML (*nom) développent le fichier au-delà de {_NODES_SHOWN} "
                    "éléments : fichier refusé sans être développé",
                )
            raise UnsafeYamlError(
                "nodes",
                line,
                f"le fichier compte plus de {_NODES_SHOWN} éléments",
            )

    def node(self, depth: int) -> yaml.Node:
        loader = self.loader
        event = loader.get_event()
        begin: Any = event.start_mark  # yaml.error.Mark, or libyaml's
        line = _line(begin)
        if isinstance(event, yaml.AliasEvent):
            return self.alias(str(event.anchor), line)
        anchor: str | None = event.anchor
        if anchor is not None and anchor in self.anchors:
            first = _line(self.anchors[anchor].node.start_mark)
            raise UnsafeYamlError(
                "anchor", line, f"l'ancre « &{anchor} » est définie deux fois (déjà ligne {first})"
            )
        tag: str | None = event.tag
        if tag is not None and tag != "!" and tag not in STANDARD_TAGS:
            raise UnsafeYamlError(
                "tag",
                line,
                f"l'étiquette YAML « {shown_tag(tag)} » n'est pas permise "
                "(seules celles de YAML, comme !!str ou !!int, le sont)",
            )
        start = self.expanded
        self.count(1, line)
        node: yaml.Node
        if isinstance(event, yaml.ScalarEvent):
            if tag is None or tag == "!":
                tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            if tag == _VALUE_TAG:
                tag = YAML_TAG + "str"
            if tag in _NUMBER_TAGS and len(event.value) > MAX_NUMBER_CHARS:
                raise UnsafeYamlError(
                    "number",
                    line,
                    f"nombre trop long ({MAX_NUMBER_CHARS} caractères au plus)",
                )
            end: Any = event.end_mark
            node = yaml.ScalarNode(tag, event.value, begin, end, style=event.style)
            self.remember(anchor, node, start)
            return node
        if depth > MAX_DEPTH:
            raise UnsafeYamlError(
                "depth",
                line,
                f"imbrication trop profonde (plus de {MAX_DEPTH} niveaux de listes ou de tables)",
            )
        if isinstance(event, yaml.SequenceStartEvent):
            if tag is None or tag == "!":
                tag = loader.resolve(yaml.SequenceNode, None, event.implicit)
            items: list[yaml.Node] = []
            node = yaml.SequenceNode(tag, items, begin, None, flow_style=event.flow_style)
            self.reading(anchor, node)
            while not loader.check_event(yaml.SequenceEndEvent):
                items.append(self.node(depth + 1))
        else:
            if tag is None or tag == "!":
                tag = loader.resolve(yaml.MappingNode, None, event.implicit)
            pairs: list[tuple[yaml.Node, yaml.Node]] = []
            node = yaml.MappingNode(tag, pairs, begin, None, flow_style=event.flow_style)
            self.reading(anchor, node)
            while not loader.check_event(yaml.MappingEndEvent):
                key = self.node(depth + 1)
                if not isinstance(key, yaml.ScalarNode):
                    raise UnsafeYamlError(
                        "key",
                        _line(key.start_mark),
                        "une clé doit être un simple texte (pas une liste ni une table)",
                    )
                pairs.append((key, self.node(depth + 1)))
        node.end_mark = loader.get_event().end_mark
        self.remember(anchor, node, start)
        return node

    def reading(self, anchor: str | None, node: yaml.Node) -> None:
        if anchor is not None:
            self.anchors[anchor] = _Anchor(node, -1)

    def remember(self, anchor: str | None, node: yaml.Node, start: int) -> None:
        if anchor is not None:
            self.anchors[anchor] = _Anchor(node, self.expanded - start)

    def alias(self, name: str, line: int | None) -> yaml.Node:
        anchor = self.anchors.get(name)
        if anchor is None:
            raise UnsafeYamlError(
                "aliases", line, f"l'alias « *{name} » ne renvoie à aucune ancre « &{name} »"
            )
        if anchor.size < 0:
            raise UnsafeYamlError(
                "aliases", line, f"l'alias « *{name} » renvoie à un élément qui le contient"
            )
        self.aliases += 1
        self.count(anchor.size, line)
        return anchor.node


@dataclass(slots=True)
class Composed:
    """A document read within the limits: its node graph (None when empty), and what
    builds its Python data (after the caller has read the lines off the nodes: building
    merges ``<<`` keys into the nodes)."""

    node: yaml.Node | None
    loader: yaml.SafeLoader

    def construct(self) -> Any:
        return self.loader.construct_document(self.node) if self.node is not None else None


def compose(text: str, loader_class: type[yaml.SafeLoader] | None = None) -> Composed:
    """Read ``text`` within the limits (with ``LOADER`` unless told). Raises
    ``UnsafeYamlError`` over a limit, else the parser's ``yaml.YAMLError`` (``construct``
    raises the constructor's)."""
    loader = (loader_class or LOADER)(text)
    try:
        return Composed(_Composer(loader).document(), loader)
    finally:
        loader.dispose()  # the parser's state; constructing does not need it
