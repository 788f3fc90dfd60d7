"""The live wallboard (« supervision »): each 115 platform of a scope now, without any
number or name: calls waiting and the longest wait, listeners available / paused / in a
call, calls received, answered and abandoned since local midnight, whether callers are
being deterred, and the SI SIAO incident.

The live figures come from ``ivr.runtime.queries`` (``CallQueries.platform``); today's
counts from the records (calls are recorded when they end: a call in progress counts once
it is over). Each département's « today » is its own local day.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ivr.records.models import Call
from ivr.records.periods import Scope
from ivr.records.store import RecordStore
from ivr.runtime.queries import CallQueries, PlatformStatus
from ivr.web.formatting import duration
from routing.config import QueueLimits, RoutingConfig

REFRESH_S = 5  # how often the page asks again

DETERRENCE_LABELS = {
    "emergency_closure": "Oui — fermeture d'urgence",
    "closure": "Oui — plateforme fermée",
    "saturation": "Oui — saturation de la file",
    "no_listener": "Aucun écoutant connecté : appels vers la LRO",
    None: "Non",
}


def deterrence(platform: PlatformStatus, limits: QueueLimits) -> str | None:
    """Why a call arriving now would be deterred (or sent to the LRO), as the 115 flow
    decides it (``ivr.flow.emergency``); None: it would be queued."""
    if platform.emergency_closed:
        return "emergency_closure"
    if platform.closed:
        return "closure"
    if platform.listeners_logged_in == 0:
        return "no_listener"
    if (
        platform.waiting >= limits.max_waiting_calls
        or platform.estimated_wait_s > limits.max_estimated_wait_s
    ):
        return "saturation"
    return None


@dataclass(slots=True)
class Today:
    received: int = 0
    answered: int = 0
    abandoned: int = 0


@dataclass(slots=True)
class PlatformRow:
    code: str
    name: str
    waiting: int
    longest_wait_s: float | None  # None: nobody waits (or arrival unknown)
    available: int
    paused: int
    busy: int
    today: Today
    deterrence: str | None

    def as_json(self) -> dict[str, Any]:
        wait = self.longest_wait_s
        return {
            "code": self.code,
            "nom": self.name,
            "en_attente": self.waiting,
            "attente_max_s": round(wait) if wait is not None else None,
            "attente_max": duration(wait) if wait is not None else "—",
            "disponibles": self.available,
            "en_pause": self.paused,
            "en_communication": self.busy,
            "recus": self.today.received,
            "repondus": self.today.answered,
            "abandons": self.today.abandoned,
            "dissuasion": DETERRENCE_LABELS[self.deterrence],
            "dissuasion_active": self.deterrence is not None,
        }


@dataclass(slots=True)
class Board:
    scope: Scope
    at: datetime
    timezone: str
    banner: str | None
    rows: list[PlatformRow] = field(default_factory=list)

    @property
    def total(self) -> PlatformRow:
        waits = [r.longest_wait_s for r in self.rows if r.longest_wait_s is not None]
        today = Today(
            sum(r.today.received for r in self.rows),
            sum(r.today.answered for r in self.rows),
            sum(r.today.abandoned for r in self.rows),
        )
        return PlatformRow(
            code="",
            name=f"Total {self.scope.label}",
            waiting=sum(r.waiting for r in self.rows),
            longest_wait_s=max(waits) if waits else None,
            available=sum(r.available for r in self.rows),
            paused=sum(r.paused for r in self.rows),
            busy=sum(r.busy for r in self.rows),
            today=today,
            deterrence=None,
        )

    @property
    def deterred(self) -> int:
        return sum(1 for r in self.rows if r.deterrence is not None)

    @property
    def deterred_label(self) -> str:
        count = self.deterred
        if not count:
            return "Aucune plateforme"
        return f"{count} plateforme{'s' if count > 1 else ''} sur {len(self.rows)}"

    def as_json(self) -> dict[str, Any]:
        total = self.total.as_json()
        total["dissuasion"] = self.deterred_label
        total["dissuasion_active"] = self.deterred > 0
        return {
            "perimetre": self.scope.label,
            "heure": self.at.astimezone(ZoneInfo(self.timezone)).strftime("%H:%M:%S"),
            "incident": self.banner,
            "total": total,
            "departements": [row.as_json() for row in self.rows],
            "rafraichissement_s": REFRESH_S,
        }


def today_counts(
    store: RecordStore, config: RoutingConfig, codes: list[str], now: datetime
) -> dict[str, Today]:
    """Calls received, answered and abandoned since each département's local midnight
    (blocking: run in a worker thread). One query per time zone."""
    by_zone: dict[str, list[str]] = {}
    for code in codes:
        by_zone.setdefault(config.departements[code].timezone, []).append(code)
    counts = {code: Today() for code in codes}
    abandoned = sa.and_(Call.answered_at.is_(None), Call.outcome == "caller-hung-up")
    with store.engine.connect() as conn:
        for zone, deps in by_zone.items():
            tz = ZoneInfo(zone)
            midnight = datetime.combine(now.astimezone(tz).date(), time(0), tz)
            query = (
                sa.select(
                    Call.departement,
                    sa.func.count(),
                    sa.func.count(Call.answered_at),
                    sa.func.sum(sa.case((abandoned, 1), else_=0)),
                )
                .where(Call.arrived_at >= midnight, Call.departement.in_(deps))
                .group_by(Call.departement)
            )
            for dep, received, answered, lost in conn.execute(query):
                counts[dep] = Today(int(received), int(answered), int(lost or 0))
    return counts


async def build_board(
    calls: CallQueries,
    store: RecordStore,
    config: RoutingConfig,
    scope: Scope,
    now: datetime,
    banner: Callable[[], str | None],
    timezone: str,
) -> Board:
    """The wallboard of a scope now (the départements of the routing file in it)."""
    wanted = scope.departements
    codes = sorted(c for c in config.departements if wanted is None or c in wanted)
    platforms = await asyncio.gather(
        *(
            calls.platform(code, config.departements[code].line_115.queue.default_handling_time_s)
            for code in codes
        )
    )
    today = await asyncio.to_thread(today_counts, store, config, codes, now)
    board = Board(scope, now, timezone, banner())
    for code, platform in zip(codes, platforms, strict=True):
        dep = config.departements[code]
        oldest = platform.oldest_started_at
        board.rows.append(
            PlatformRow(
                code=code,
                name=dep.name,
                waiting=platform.waiting,
                longest_wait_s=max(0.0, (now - oldest).total_seconds()) if oldest else None,
                available=platform.listeners_available,
                paused=platform.listeners_paused,
                busy=platform.listeners_busy,
                today=today[code],
                deterrence=deterrence(platform, dep.line_115.queue),
            )
        )
    return board
