"""Retention: recordings and caller data are purged after configurable periods.

Recordings older than ``recordings_days`` (90 by default) lose their file and location;
their metadata stays, marked purged. A caller number with no activity (no call, no
call-back request) for ``caller_months`` (24 by default, as SI SIAO does) is erased from
the calls and call-backs, and its flag removed. Audit entries are kept; the purge itself
is audited.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.records.models import AuditEntry, Call, Callback, FlaggedNumber, Recording

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    recordings_days: int = 90
    caller_months: int = 24


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What a purge removed (or would remove, in a dry run)."""

    recordings: int = 0
    recording_files: int = 0
    callers: int = 0
    calls: int = 0
    callbacks: int = 0
    flags: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """The report in French, as ``ivr purge`` prints it."""

        def n(count: int, one: str, many: str) -> str:
            return f"{count} {one if count <= 1 else many}"

        verb = "à supprimer" if self.dry_run else "supprimés"
        lines = [
            f"Enregistrements {verb} : "
            + n(self.recordings, "enregistrement", "enregistrements")
            + f" ({n(self.recording_files, 'fichier', 'fichiers')})",
            f"Données d'appelants {'à effacer' if self.dry_run else 'effacées'} : "
            + n(self.callers, "numéro", "numéros")
            + f" ({n(self.calls, 'appel', 'appels')}, {n(self.callbacks, 'rappel', 'rappels')}, "
            + f"{n(self.flags, 'signalement', 'signalements')})",
            "Journal d'audit conservé.",
        ]
        if self.dry_run:
            lines.insert(0, "Simulation : rien n'a été modifié.")
        return "\n".join(lines)


def months_before(moment: datetime, months: int) -> datetime:
    """The same day ``months`` calendar months earlier (the month's last day if shorter)."""
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _local_file(location: str, recordings_dir: Path | None) -> Path | None:
    parts = urlsplit(location)
    if parts.scheme == "file":
        return Path(parts.path)
    if parts.scheme:
        return None  # another storage (s3://...): its own lifecycle rules delete the file
    path = Path(location)
    if not path.is_absolute() and recordings_dir is not None:
        path = recordings_dir / path
    return path


def purge(
    engine: sa.Engine,
    policy: RetentionPolicy,
    now: datetime,
    actor: str,
    *,
    recordings_dir: Path | None = None,
    dry_run: bool = False,
) -> PurgeReport:
    """Apply the retention policy as of ``now``; audit it as done by ``actor``."""
    recordings_cutoff = now - timedelta(days=policy.recordings_days)
    callers_cutoff = months_before(now, policy.caller_months)
    with Session(engine) as session, session.begin():
        recordings, files = _purge_recordings(
            session, recordings_cutoff, now, recordings_dir, dry_run
        )
        stale = _stale_callers(session, callers_cutoff)
        calls, callbacks, flags = _erase_callers(session, stale, now, dry_run)
        report = PurgeReport(
            recordings=recordings,
            recording_files=files,
            callers=len(stale),
            calls=calls,
            callbacks=callbacks,
            flags=flags,
            dry_run=dry_run,
        )
        session.add(
            AuditEntry(
                at=now,
                actor=actor,
                action="purge-dry-run" if dry_run else "purge",
                object_type="retention",
                object_id=None,
                detail={**report.as_dict(), **asdict(policy)},
            )
        )
    log.info("purge by %s: %s", actor, report)
    return report


def _purge_recordings(
    session: Session, cutoff: datetime, now: datetime, recordings_dir: Path | None, dry_run: bool
) -> tuple[int, int]:
    """Recordings started before ``cutoff`` lose their file and location: how many, and how
    many files there were."""
    old_recordings = session.scalars(
        sa.select(Recording).where(Recording.started_at < cutoff, Recording.purged_at.is_(None))
    ).all()
    files = 0
    for recording in old_recordings:
        path = _local_file(recording.location, recordings_dir) if recording.location else None
        if path is not None and path.exists():
            files += 1
            if not dry_run:
                path.unlink()
        if not dry_run:
            recording.location = None
            recording.purged_at = now
    return len(old_recordings), files


def _stale_callers(session: Session, cutoff: datetime) -> set[str]:
    """Caller numbers with no call, call-back request or flag since ``cutoff``."""
    recent = (
        sa.select(Call.caller.label("number"))
        .where(Call.caller.is_not(None), Call.arrived_at >= cutoff)
        .union(
            sa.select(Callback.number).where(
                Callback.number.is_not(None), Callback.requested_at >= cutoff
            ),
            sa.select(FlaggedNumber.number).where(FlaggedNumber.flagged_at >= cutoff),
        )
    )
    known = (
        sa.select(Call.caller.label("number"))
        .where(Call.caller.is_not(None))
        .union(
            sa.select(Callback.number).where(Callback.number.is_not(None)),
            sa.select(FlaggedNumber.number).where(FlaggedNumber.flagged_at < cutoff),
        )
    )
    return {
        number
        for number in session.scalars(sa.select(known.subquery().c.number)).all()
        if number is not None
    } - {n for n in session.scalars(sa.select(recent.subquery().c.number)).all()}


def _erase_callers(
    session: Session, stale: set[str], now: datetime, dry_run: bool
) -> tuple[int, int, int]:
    """Erase ``stale`` numbers from calls and call-backs, remove their flags: how many of each."""
    calls = callbacks = flags = 0
    for chunk in _chunks(sorted(stale), 500):
        calls += _count(session, sa.select(Call.id).where(Call.caller.in_(chunk)))
        callbacks += _count(session, sa.select(Callback.id).where(Callback.number.in_(chunk)))
        flags += _count(session, sa.select(FlaggedNumber.id).where(FlaggedNumber.number.in_(chunk)))
        if dry_run:
            continue
        session.execute(
            sa.update(Call).where(Call.caller.in_(chunk)).values(caller=None, caller_purged_at=now)
        )
        session.execute(sa.update(Callback).where(Callback.number.in_(chunk)).values(number=None))
        session.execute(sa.delete(FlaggedNumber).where(FlaggedNumber.number.in_(chunk)))
    return calls, callbacks, flags


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _count(session: Session, query: sa.Select[Any]) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0)
