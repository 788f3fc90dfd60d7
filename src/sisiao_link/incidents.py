"""SI SIAO incidents and their timelines, kept in the service database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from sisiao_link.outbox import sisiao_incident_events, sisiao_incidents, utc


class IncidentEventKind(StrEnum):
    PREMIER_ECHEC = "premier_echec"
    INCIDENT_OUVERT = "incident_ouvert"
    ALERTE_ENVOYEE = "alerte_envoyee"
    ALERTE_EN_ECHEC = "alerte_en_echec"
    RETABLISSEMENT = "retablissement"


@dataclass(frozen=True)
class IncidentEvent:
    at: datetime
    kind: IncidentEventKind
    detail: str


@dataclass(frozen=True)
class Incident:
    id: int
    failing_since: datetime
    opened_at: datetime
    closed_at: datetime | None
    summary: str
    timeline: tuple[IncidentEvent, ...]

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def banner(self, tz: tzinfo) -> str:
        """The French banner every console shows while the incident is open."""
        since = self.failing_since.astimezone(tz)
        return (
            f"Incident SI SIAO en cours depuis le {since:%d/%m/%Y} à {since:%H} h {since:%M} : "
            f"{self.summary}. L'astreinte Dihal est prévenue. Les demandes d'urgence sont "
            "conservées et seront envoyées au rétablissement."
        )


class IncidentStore:
    """Incidents in the service database (tables from ``sisiao_link.outbox``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def open(
        self,
        failing_since: datetime,
        opened_at: datetime,
        summary: str,
        events: Sequence[IncidentEvent] = (),
    ) -> Incident:
        with self._engine.begin() as conn:
            incident_id = conn.execute(
                sisiao_incidents.insert()
                .values(failing_since=failing_since, opened_at=opened_at, summary=summary)
                .returning(sisiao_incidents.c.id)
            ).scalar_one()
            _insert_events(conn, incident_id, events)
        incident = self.get(incident_id)
        assert incident is not None  # just created
        return incident

    def add_events(self, incident_id: int, events: Sequence[IncidentEvent]) -> None:
        with self._engine.begin() as conn:
            _insert_events(conn, incident_id, events)

    def close(self, incident_id: int, closed_at: datetime, events: Sequence[IncidentEvent]) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                sisiao_incidents.update()
                .where(sisiao_incidents.c.id == incident_id)
                .values(closed_at=closed_at)
            )
            _insert_events(conn, incident_id, events)

    def current(self) -> Incident | None:
        """The open incident, if any (the latest, should there ever be several)."""
        with self._engine.connect() as conn:
            incident_id = conn.execute(
                sa.select(sisiao_incidents.c.id)
                .where(sisiao_incidents.c.closed_at.is_(None))
                .order_by(sisiao_incidents.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        return None if incident_id is None else self.get(incident_id)

    def get(self, incident_id: int) -> Incident | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(sisiao_incidents).where(sisiao_incidents.c.id == incident_id)
            ).first()
            if row is None:
                return None
            events = conn.execute(
                sa.select(sisiao_incident_events)
                .where(sisiao_incident_events.c.incident_id == incident_id)
                .order_by(sisiao_incident_events.c.at, sisiao_incident_events.c.id)
            ).all()
        return _incident(row, events)

    def recent(self, limit: int = 20) -> list[Incident]:
        """The latest incidents, newest first, with their timelines."""
        with self._engine.connect() as conn:
            ids = conn.execute(
                sa.select(sisiao_incidents.c.id).order_by(sisiao_incidents.c.id.desc()).limit(limit)
            ).scalars()
            wanted = list(ids)
        return [incident for i in wanted if (incident := self.get(i)) is not None]


def _insert_events(conn: sa.Connection, incident_id: int, events: Sequence[IncidentEvent]) -> None:
    if events:
        conn.execute(
            sisiao_incident_events.insert(),
            [
                {"incident_id": incident_id, "at": e.at, "kind": e.kind, "detail": e.detail}
                for e in events
            ],
        )


def _incident(row: sa.Row[Any], events: Sequence[sa.Row[Any]]) -> Incident:
    return Incident(
        id=row.id,
        failing_since=utc(row.failing_since),
        opened_at=utc(row.opened_at),
        closed_at=utc(row.closed_at) if row.closed_at is not None else None,
        summary=row.summary,
        timeline=tuple(
            IncidentEvent(utc(e.at), IncidentEventKind(e.kind), e.detail) for e in events
        ),
    )
