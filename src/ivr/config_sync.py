"""Every instance routes by the routing file last applied, across restarts.

The routing file on disk (``IVR_CONFIG_PATH``) is how a deployment starts; an admin may then
apply a new version from the admin page, which the records keep (``config_versions``). This
module decides which one is in force:

- at start, the newer of the two: the file when it was modified after the last version was
  applied (a deployment; the file is then recorded as a new version, author ``fichier``),
  the last applied version otherwise (an admin's change survives a restart). A stored
  version that no longer validates is skipped with an error in the log: the file is used.
- while running, every instance polls the records and applies a version another instance
  accepted (``ConfigSync.run``), so that they all route alike within a poll period.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.records.models import ConfigVersion
from ivr.records.store import FILE_AUTHOR, RecordStore
from routing.config import RoutingConfig
from routing.loader import ConfigError, parse_config

log = logging.getLogger(__name__)

DEFAULT_POLL_S = 10.0


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredVersion:
    id: int
    sha256: str
    content: str
    applied_at: datetime | None


@dataclass(frozen=True, slots=True)
class Chosen:
    """The routing in force at start, and where it came from (for the log and tests)."""

    config: RoutingConfig
    text: str
    version: int | None
    source: str  # "file" or "records"


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite gives naive datetimes back; everything stored is UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def latest_version(store: RecordStore, after: int = 0) -> StoredVersion | None:
    """The newest applied version (with an id above ``after``), or None."""
    with Session(store.engine) as session:
        row = session.scalars(
            sa.select(ConfigVersion)
            .where(ConfigVersion.id > after)
            .order_by(ConfigVersion.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return StoredVersion(row.id, row.sha256, row.content, _aware(row.applied_at))


def choose_at_start(
    store: RecordStore, path: Path, file_config: RoutingConfig, file_text: str
) -> Chosen:
    """Pick the routing in force at start (see the module's docstring)."""
    latest = latest_version(store)
    file_sha = digest(file_text)
    if latest is not None and latest.sha256 == file_sha:
        return Chosen(file_config, file_text, latest.id, "file")
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    if latest is not None and latest.applied_at is not None and latest.applied_at > modified:
        try:
            config = parse_config(latest.content, f"version n° {latest.id}")
        except ConfigError as exc:
            log.error(
                "routing version %d no longer validates (%s): %s is used",
                latest.id,
                "; ".join(str(issue) for issue in exc.issues[:3]),
                path,
            )
        else:
            log.warning(
                "routing: version %d applied on %s is newer than %s, which is not used",
                latest.id,
                latest.applied_at.isoformat(),
                path,
            )
            return Chosen(config, latest.content, latest.id, "records")
    # The file's name only: its place on the server is not shown on the pages.
    version = store.record_config_version(file_text, file_sha, FILE_AUTHOR, path.name)
    return Chosen(file_config, file_text, version, "file")


class ConfigSync:
    """Applies, on this instance, the versions other instances accepted."""

    def __init__(
        self,
        store: RecordStore,
        apply: Callable[[RoutingConfig, str], None],
        applied_sha: Callable[[], str | None],
        current: int | None,
        poll_s: float = DEFAULT_POLL_S,
    ) -> None:
        self.store = store
        self.apply = apply
        self.applied_sha = applied_sha  # of the text in force here (set by ``apply``)
        self.current = current or 0
        self.poll_s = poll_s

    async def check(self) -> bool:
        """Apply a newer stored version if there is one; True when one was applied."""
        latest = await asyncio.to_thread(latest_version, self.store, self.current)
        if latest is None:
            return False
        self.current = latest.id
        if latest.sha256 == self.applied_sha():
            return False  # accepted on this instance's own admin page: already in force
        try:  # off the event loop: a 2 Mo file takes a while to validate
            config = await asyncio.to_thread(
                parse_config, latest.content, f"version n° {latest.id}"
            )
        except ConfigError as exc:  # validated when accepted: a newer release's rules?
            log.error("routing version %d does not validate here: %s", latest.id, exc)
            return False
        self.apply(config, latest.content)
        log.info("routing version %d applied (accepted on another instance)", latest.id)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await stop.wait()
            if stop.is_set():
                return
            try:
                await self.check()
            except Exception:  # the database may be away for a while: try again later
                log.exception("routing versions could not be read")
