"""The outbox: an emergency request is written here first, then sent to SI SIAO when it answers.

Guarantees: nothing is lost (the row is committed before ``submit`` returns), requests go out
in submission order (a request SI SIAO cannot take yet holds back the ones behind it), and each
is created once in SI SIAO (its idempotency key is stored with it and reused on every attempt,
across restarts). Rejected requests are kept, with SI SIAO's reason, until corrected.

Synchronous SQLAlchemy run in ``asyncio.to_thread``: the same ``Engine`` serves the sync
callers (console endpoints, CLI, Alembic) and works on SQLite, whose async driver (aiosqlite)
is not in our lock file.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from resilience import Backoff
from sisiao_link.port import (
    MAX_LOT,
    Clock,
    ElementLot,
    NouvelleDemandeUrgence,
    SiSiaoError,
    SiSiaoPort,
    SiSiaoRejected,
)

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

outbox_metadata = sa.MetaData()
"""The tables of ``sisiao_link`` (outbox, incidents); the integrator's migrations import it."""

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only

sisiao_outbox = sa.Table(
    "sisiao_outbox",
    outbox_metadata,
    sa.Column("seq", _BigId, primary_key=True, autoincrement=True),
    sa.Column("local_id", sa.String(36), nullable=False, unique=True),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("utilisateur", sa.String(200), nullable=False, index=True),
    sa.Column("call_ref", sa.String(100), nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("sisiao_demande_id", sa.String(64), nullable=True),
    sa.Column("rejection_reason", sa.Text, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_sisiao_outbox_state_seq", "state", "seq"),
)

sisiao_incidents = sa.Table(
    "sisiao_incidents",
    outbox_metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column("failing_since", sa.DateTime(timezone=True), nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True, index=True),
    sa.Column("summary", sa.Text, nullable=False),
)

sisiao_incident_events = sa.Table(
    "sisiao_incident_events",
    outbox_metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "incident_id",
        _BigId,
        sa.ForeignKey("sisiao_incidents.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)


def create_schema(engine: sa.Engine) -> None:
    """Creates the ``sisiao_link`` tables if absent (until they join the Alembic migrations)."""
    outbox_metadata.create_all(engine)


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class OutboxState(StrEnum):
    EN_ATTENTE = "en_attente"
    ENVOYEE = "envoyee"
    REJETEE = "rejetee"


@dataclass(frozen=True)
class OutboxStatus:
    """What the listener who created a request sees of it."""

    local_id: str
    state: OutboxState
    utilisateur: str
    demande: NouvelleDemandeUrgence
    sisiao_demande_id: str | None
    rejection_reason: str | None
    last_error: str | None
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    call_ref: str | None

    @property
    def label(self) -> str:
        """French label for the console."""
        if self.state is OutboxState.ENVOYEE:
            return f"envoyée (n° SI SIAO {self.sisiao_demande_id})"
        if self.state is OutboxState.REJETEE:
            return f"rejetée : {self.rejection_reason}"
        return "en attente d'envoi"


@dataclass(frozen=True)
class DrainReport:
    sent: int = 0
    rejected: int = 0
    unavailable: bool = False
    error: str | None = None
    batch_full: bool = False


class OutboxError(Exception):
    """A request the outbox cannot act on; the message is French, for the console."""


@dataclass(frozen=True)
class _Pending:
    seq: int
    local_id: str
    key: str
    utilisateur: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class _Outcome:
    seq: int
    key: str
    state: OutboxState
    sisiao_demande_id: str | None
    rejection_reason: str | None
    at: datetime

    @classmethod
    def sent(cls, item: _Pending, demande_id: str, at: datetime) -> _Outcome:
        return cls(item.seq, item.key, OutboxState.ENVOYEE, demande_id, None, at)

    @classmethod
    def refused(cls, item: _Pending, reason: str, at: datetime) -> _Outcome:
        return cls(item.seq, item.key, OutboxState.REJETEE, None, reason, at)


class Outbox:
    """Emergency requests on their way to SI SIAO."""

    def __init__(
        self,
        engine: sa.Engine,
        port: SiSiaoPort,
        clock: Clock,
        *,
        batch_size: int = 500,
        send_batch: int = 50,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        idle_poll: float = 5.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._engine = engine
        self._port = port
        self._clock = clock
        self._batch_size = batch_size
        self._send_batch = max(1, min(send_batch, MAX_LOT))
        self._backoff = Backoff(backoff_initial, maximum_s=backoff_max, jitter=False)
        self._idle_poll = idle_poll
        self._sleep = sleep
        self._drain_lock = asyncio.Lock()
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- writes from the console (synchronous: one short transaction each) -----------------

    def submit(
        self, demande: NouvelleDemandeUrgence, utilisateur: str, *, call_ref: str | None = None
    ) -> str:
        """Stores the request for sending and returns its local id at once."""
        local_id = str(uuid.uuid4())
        now = self._clock()
        with self._engine.begin() as conn:
            conn.execute(
                sisiao_outbox.insert().values(
                    local_id=local_id,
                    idempotency_key=str(uuid.uuid4()),
                    utilisateur=utilisateur,
                    call_ref=call_ref,
                    payload=demande.model_dump(mode="json", exclude_none=True),
                    state=OutboxState.EN_ATTENTE,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        self._notify()
        return local_id

    def correct_and_resubmit(
        self, local_id: str, demande: NouvelleDemandeUrgence, utilisateur: str
    ) -> OutboxStatus:
        """Replaces a rejected request's content and queues it again, under a new key (SI
        SIAO refuses a key reused for another body)."""
        now = self._clock()
        with self._engine.begin() as conn:
            updated = conn.execute(
                sisiao_outbox.update()
                .where(
                    sisiao_outbox.c.local_id == local_id,
                    sisiao_outbox.c.state == OutboxState.REJETEE,
                )
                .values(
                    payload=demande.model_dump(mode="json", exclude_none=True),
                    utilisateur=utilisateur,
                    idempotency_key=str(uuid.uuid4()),
                    state=OutboxState.EN_ATTENTE,
                    rejection_reason=None,
                    last_error=None,
                    updated_at=now,
                )
            ).rowcount
        if not updated:
            current = self.status(local_id)
            if current is None:
                raise OutboxError(f"Demande {local_id} inconnue.")
            raise OutboxError(
                f"Seule une demande rejetée peut être corrigée (celle-ci est {current.label})."
            )
        self._notify()
        status = self.status(local_id)
        assert status is not None  # we just updated it
        return status

    # -- reads ------------------------------------------------------------------------------

    def status(self, local_id: str) -> OutboxStatus | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(sisiao_outbox).where(sisiao_outbox.c.local_id == local_id)
            ).first()
        return None if row is None else _status(row)

    def list_for_user(self, utilisateur: str, limit: int = 50) -> list[OutboxStatus]:
        """The listener's latest requests, newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(sisiao_outbox)
                .where(sisiao_outbox.c.utilisateur == utilisateur)
                .order_by(sisiao_outbox.c.seq.desc())
                .limit(limit)
            ).all()
        return [_status(row) for row in rows]

    def pending_count(self) -> int:
        with self._engine.connect() as conn:
            query = sa.select(sa.func.count()).where(
                sisiao_outbox.c.state == OutboxState.EN_ATTENTE
            )
            return int(conn.execute(query.select_from(sisiao_outbox)).scalar_one())

    # -- sending ----------------------------------------------------------------------------

    async def drain_once(self) -> DrainReport:
        """Sends pending requests in order until none is left in this round or SI SIAO is
        unavailable; ``send_batch`` at a time, in one call each."""
        async with self._drain_lock:
            pending = await asyncio.to_thread(self._fetch_pending)
            sent = rejected = 0
            for start in range(0, len(pending), self._send_batch):
                chunk = pending[start : start + self._send_batch]
                outcomes, error = await self._send_chunk(chunk)
                if outcomes:
                    # Shielded: a cancelled drain still records what SI SIAO accepted. Were
                    # this write lost (crash), the next attempt would reuse the stored keys and
                    # SI SIAO would answer with the same requests: a late record, no duplicate.
                    await asyncio.shield(asyncio.to_thread(self._record, outcomes))
                sent += sum(1 for o in outcomes if o.state is OutboxState.ENVOYEE)
                rejected += sum(1 for o in outcomes if o.state is OutboxState.REJETEE)
                if error is not None:
                    await asyncio.to_thread(self._record_failure, chunk[len(outcomes)], error)
                    return DrainReport(sent, rejected, unavailable=True, error=error)
            return DrainReport(sent, rejected, batch_full=len(pending) >= self._batch_size)

    async def run(self, stop_event: asyncio.Event) -> None:
        """Drains until ``stop_event`` is set: at once when a request is submitted, every
        ``idle_poll`` seconds otherwise, with exponential backoff while SI SIAO is down."""
        self._loop = asyncio.get_running_loop()
        failures = 0
        while not stop_event.is_set():
            try:
                report = await self.drain_once()
            except Exception:  # the loop must outlive any bug or database hiccup
                log.exception("SI SIAO outbox: drain failed")
                report = DrainReport(unavailable=True, error="erreur interne")
            if report.unavailable:
                failures += 1
                delay = self._backoff.delay(failures - 1)
                await self._wait(delay, stop_event, wake_on_submit=False)
            else:
                failures = 0
                if report.batch_full:
                    await asyncio.sleep(0)
                    continue
                await self._wait(self._idle_poll, stop_event, wake_on_submit=True)

    async def _send_chunk(self, chunk: Sequence[_Pending]) -> tuple[list[_Outcome], str | None]:
        """Outcomes of the leading items SI SIAO settled, in order, and why it stopped if it
        did (the first item without an outcome is then still to send)."""
        lot = [
            ElementLot(
                cle_idempotence=item.key,
                utilisateur=item.utilisateur,
                demande=NouvelleDemandeUrgence.model_validate(item.payload),
            )
            for item in chunk
        ]
        try:
            resultats = await self._port.create_demandes_urgence(lot)
        except SiSiaoRejected:
            # SI SIAO refused the batch as a whole: sending one by one tells which request.
            return await self._send_one_by_one(chunk, lot)
        except SiSiaoError as exc:
            return [], str(exc)
        outcomes: list[_Outcome] = []
        for item, resultat in zip(chunk, resultats, strict=True):
            if resultat.created and resultat.demande is not None:
                outcomes.append(_Outcome.sent(item, resultat.demande.id, self._clock()))
            elif resultat.rejected:
                outcomes.append(_Outcome.refused(item, resultat.reason, self._clock()))
            else:
                return outcomes, f"SI SIAO indisponible (HTTP {resultat.statut})"
        return outcomes, None

    async def _send_one_by_one(
        self, chunk: Sequence[_Pending], lot: Sequence[ElementLot]
    ) -> tuple[list[_Outcome], str | None]:
        outcomes: list[_Outcome] = []
        for item, element in zip(chunk, lot, strict=True):
            try:
                created = await self._port.create_demande_urgence(
                    element.demande, element.utilisateur, element.cle_idempotence
                )
            except SiSiaoRejected as exc:
                outcomes.append(_Outcome.refused(item, exc.reason, self._clock()))
            except SiSiaoError as exc:
                return outcomes, str(exc)
            else:
                outcomes.append(_Outcome.sent(item, created.id, self._clock()))
        return outcomes, None

    def _fetch_pending(self) -> list[_Pending]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    sisiao_outbox.c.seq,
                    sisiao_outbox.c.local_id,
                    sisiao_outbox.c.idempotency_key,
                    sisiao_outbox.c.utilisateur,
                    sisiao_outbox.c.payload,
                )
                .where(sisiao_outbox.c.state == OutboxState.EN_ATTENTE)
                .order_by(sisiao_outbox.c.seq)
                .limit(self._batch_size)
            ).all()
        return [
            _Pending(r.seq, r.local_id, r.idempotency_key, r.utilisateur, r.payload) for r in rows
        ]

    def _record(self, outcomes: Sequence[_Outcome]) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                sisiao_outbox.update()
                .where(
                    sisiao_outbox.c.seq == sa.bindparam("b_seq"),
                    sisiao_outbox.c.idempotency_key == sa.bindparam("b_key"),
                    sisiao_outbox.c.state == OutboxState.EN_ATTENTE,
                )
                .values(
                    state=sa.bindparam("b_state"),
                    sisiao_demande_id=sa.bindparam("b_demande"),
                    rejection_reason=sa.bindparam("b_reason"),
                    sent_at=sa.bindparam("b_sent_at"),
                    updated_at=sa.bindparam("b_at"),
                    last_error=None,
                    attempts=sisiao_outbox.c.attempts + 1,
                ),
                [
                    {
                        "b_seq": o.seq,
                        "b_key": o.key,
                        "b_state": o.state,
                        "b_demande": o.sisiao_demande_id,
                        "b_reason": o.rejection_reason,
                        "b_sent_at": o.at if o.state is OutboxState.ENVOYEE else None,
                        "b_at": o.at,
                    }
                    for o in outcomes
                ],
            )

    def _record_failure(self, item: _Pending, error: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                sisiao_outbox.update()
                .where(sisiao_outbox.c.seq == item.seq)
                .values(
                    attempts=sisiao_outbox.c.attempts + 1,
                    last_error=error,
                    updated_at=self._clock(),
                )
            )

    def _notify(self) -> None:
        # submit() may run in a worker thread (sync endpoints): wake the loop thread-safely.
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wakeup.set)

    async def _wait(self, delay: float, stop_event: asyncio.Event, *, wake_on_submit: bool) -> None:
        waiters = [
            asyncio.ensure_future(self._sleep(delay)),
            asyncio.ensure_future(stop_event.wait()),
        ]
        if wake_on_submit:
            waiters.append(asyncio.ensure_future(self._wakeup.wait()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        self._wakeup.clear()


def _status(row: sa.Row[Any]) -> OutboxStatus:
    return OutboxStatus(
        local_id=row.local_id,
        state=OutboxState(row.state),
        utilisateur=row.utilisateur,
        demande=NouvelleDemandeUrgence.model_validate(row.payload),
        sisiao_demande_id=row.sisiao_demande_id,
        rejection_reason=row.rejection_reason,
        last_error=row.last_error,
        attempts=row.attempts,
        created_at=utc(row.created_at),
        sent_at=utc(row.sent_at) if row.sent_at is not None else None,
        call_ref=row.call_ref,
    )
