"""The routing versions as the routing edit pages read them (records' ``config_versions``).

The version in force is the newest recorded one (every instance applies it:
``ivr.config_sync``). Its text is parsed once per process and kept (a few versions), so
that opening a form does not re-check a 2 Mo file each time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import PurePath

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.records.models import ConfigVersion
from ivr.records.store import FILE_AUTHOR, RecordStore
from ivr.web.routing_text import whole_text
from routing.config import RoutingConfig
from routing.loader import ConfigError, parse_config

_KEPT = 4
_parsed: OrderedDict[str, RoutingConfig] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Base:
    """The routing an edit starts from: its version id (0: none recorded yet) and text."""

    version: int
    config: RoutingConfig
    text: str
    author: str = ""


def author_text(author: str) -> str:
    """Who recorded a version, as the pages say it (the file at start: a deployment)."""
    return "fichier de démarrage" if author == FILE_AUTHOR else author


def comment_text(author: str, comment: str | None) -> str:
    """A version's comment as shown: for the file at start, its name only (versions
    recorded before kept the file's path on the server, which is not shown)."""
    if not comment:
        return ""
    if author == FILE_AUTHOR and ("/" in comment or "\\" in comment):
        return PurePath(comment.replace("\\", "/")).name
    return comment


def parsed(content: str, sha256: str, name: str) -> RoutingConfig:
    """A recorded version's routing (validated when it was recorded)."""
    with _lock:
        if sha256 in _parsed:
            _parsed.move_to_end(sha256)
            return _parsed[sha256]
    config = parse_config(content, name)
    with _lock:
        _parsed[sha256] = config
        while len(_parsed) > _KEPT:
            _parsed.popitem(last=False)
    return config


def latest_id(store: RecordStore) -> int:
    with Session(store.engine) as session:
        return session.scalar(sa.select(sa.func.max(ConfigVersion.id))) or 0


def version(store: RecordStore, version_id: int) -> ConfigVersion | None:
    with Session(store.engine, expire_on_commit=False) as session:
        return session.get(ConfigVersion, version_id)


def base(store: RecordStore, in_force: RoutingConfig) -> Base:
    """The newest recorded version, or the routing in force when none is recorded."""
    with Session(store.engine, expire_on_commit=False) as session:
        row = session.scalars(
            sa.select(ConfigVersion).order_by(ConfigVersion.id.desc()).limit(1)
        ).first()
    if row is None:
        return Base(0, in_force, whole_text(in_force))
    try:
        config = parsed(row.content, row.sha256, f"version n° {row.id}")
    except ConfigError:  # a newer release's rules: the instances route by ``in_force``
        return Base(row.id, in_force, whole_text(in_force), row.author)
    return Base(row.id, config, row.content, row.author)


def listing(store: RecordStore, limit: int = 50) -> list[ConfigVersion]:
    """The latest versions, newest first (their text is not loaded)."""
    with Session(store.engine, expire_on_commit=False) as session:
        rows = session.scalars(
            sa.select(ConfigVersion)
            .options(sa.orm.defer(ConfigVersion.content))
            .order_by(ConfigVersion.id.desc())
            .limit(limit)
        )
        return list(rows)
