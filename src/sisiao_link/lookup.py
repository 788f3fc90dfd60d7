"""Lookups that never block a call: start one, get an id, read its result when the console asks.

Each lookup runs in its own task with a deadline; until it answers, its result is "en cours";
past the deadline, or on any failure, it is "SI SIAO indisponible". Results are kept in memory
for ``retention`` (a lookup belongs to the call that started it, not to the database).
Start lookups from the event loop's thread (async endpoints, the ARI handler).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from sisiao_link.port import Clock, Menage, Personne, SiSiaoError, SiSiaoPort

log = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "SI SIAO indisponible"


class LookupState(StrEnum):
    PENDING = "en_cours"
    FOUND = "trouve"
    NOT_FOUND = "non_trouve"
    UNAVAILABLE = "indisponible"


@dataclass(frozen=True)
class LookupResult:
    """What the console shows for a lookup; ``message`` is French."""

    lookup_id: str
    state: LookupState
    message: str
    personnes: tuple[Personne, ...] = ()
    menages: tuple[Menage, ...] = ()
    reason: str | None = None


class UnknownLookupError(KeyError):
    """No lookup with this id (never started, or forgotten after ``retention``)."""


@dataclass
class _Lookup:
    started_at: datetime
    deadline: datetime
    result: LookupResult
    task: asyncio.Task[None] | None = field(default=None)


Found = tuple[list[Personne], list[Menage]]


class LookupService:
    """Non-blocking SI SIAO lookups for the listener's console."""

    def __init__(
        self,
        port: SiSiaoPort,
        clock: Clock,
        *,
        timeout: float = 4.0,
        max_menages: int = 3,
        retention: timedelta = timedelta(minutes=30),
    ) -> None:
        self._port = port
        self._clock = clock
        self._timeout = timeout
        self._max_menages = max_menages
        self._retention = retention
        self._lookups: dict[str, _Lookup] = {}

    def start_search_by_phone(self, telephone: str) -> str:
        """Households of the persons known under this phone number."""

        async def search() -> Found:
            return await self._with_menages(await self._port.search_personnes_by_phone(telephone))

        return self._start(search, "Aucune personne connue de SI SIAO pour ce numéro")

    def start_search_by_identity(self, nom: str, prenom: str | None, date_naissance: date) -> str:
        """Households of the persons with this name and birth date."""

        async def search() -> Found:
            personnes = await self._port.search_personnes_by_identity(nom, prenom, date_naissance)
            return await self._with_menages(personnes)

        return self._start(search, "Aucune personne connue de SI SIAO sous cette identité")

    def start_get_menage(self, menage_id: str) -> str:
        """One household, by its SI SIAO id."""

        async def read() -> Found:
            menage = await self._port.get_menage(menage_id)
            return ([], []) if menage is None else (list(menage.membres), [menage])

        return self._start(read, f"Ménage {menage_id} introuvable dans SI SIAO")

    def result(self, lookup_id: str) -> LookupResult:
        lookup = self._lookups.get(lookup_id)
        if lookup is None:
            raise UnknownLookupError(lookup_id)
        if lookup.result.state is LookupState.PENDING and self._clock() >= lookup.deadline:
            self._finish(lookup, _unavailable(lookup_id, self._late_reason()))
            if lookup.task is not None:
                lookup.task.cancel()  # nobody will read a later answer
        return lookup.result

    async def wait(self, lookup_id: str) -> LookupResult:
        """The result once it is no longer pending (for callers that can afford to wait)."""
        lookup = self._lookups.get(lookup_id)
        if lookup is None:
            raise UnknownLookupError(lookup_id)
        if lookup.task is not None:
            await asyncio.wait([lookup.task])
        return self.result(lookup_id)

    async def aclose(self) -> None:
        """Cancels the lookups still running (at shutdown)."""
        tasks = [lookup.task for lookup in self._lookups.values() if lookup.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, work: Callable[[], Awaitable[Found]], not_found: str) -> str:
        self._forget_old()
        lookup_id = str(uuid.uuid4())
        now = self._clock()
        lookup = _Lookup(
            started_at=now,
            deadline=now + timedelta(seconds=self._timeout),
            result=LookupResult(lookup_id, LookupState.PENDING, "Recherche SI SIAO en cours…"),
        )
        self._lookups[lookup_id] = lookup
        lookup.task = asyncio.get_running_loop().create_task(
            self._run(lookup, work, not_found), name=f"sisiao-lookup-{lookup_id}"
        )
        return lookup_id

    async def _run(
        self, lookup: _Lookup, work: Callable[[], Awaitable[Found]], not_found: str
    ) -> None:
        lookup_id = lookup.result.lookup_id
        try:
            async with asyncio.timeout(self._timeout):
                personnes, menages = await work()
        except TimeoutError:
            self._finish(lookup, _unavailable(lookup_id, self._late_reason()))
            return
        except SiSiaoError as exc:
            self._finish(lookup, _unavailable(lookup_id, str(exc)))
            return
        except Exception as exc:  # a lookup must end, whatever happened
            log.exception("SI SIAO lookup %s failed", lookup_id)
            self._finish(lookup, _unavailable(lookup_id, type(exc).__name__))
            return
        if not personnes and not menages:
            self._finish(lookup, LookupResult(lookup_id, LookupState.NOT_FOUND, not_found))
            return
        count = len(menages)
        message = (
            f"{count} ménage trouvé dans SI SIAO"
            if count == 1
            else f"{count} ménages trouvés dans SI SIAO"
        )
        self._finish(
            lookup,
            LookupResult(lookup_id, LookupState.FOUND, message, tuple(personnes), tuple(menages)),
        )

    async def _with_menages(self, personnes: list[Personne]) -> Found:
        menage_ids = list(dict.fromkeys(p.menage_id for p in personnes))[: self._max_menages]
        menages = await asyncio.gather(*(self._port.get_menage(m) for m in menage_ids))
        return personnes, [m for m in menages if m is not None]

    def _finish(self, lookup: _Lookup, result: LookupResult) -> None:
        if lookup.result.state is LookupState.PENDING:  # the first ending wins
            lookup.result = result

    def _late_reason(self) -> str:
        return f"pas de réponse en {self._timeout:g} s"

    def _forget_old(self) -> None:
        horizon = self._clock() - self._retention
        for lookup_id, lookup in list(self._lookups.items()):
            if lookup.started_at < horizon and (lookup.task is None or lookup.task.done()):
                del self._lookups[lookup_id]


def _unavailable(lookup_id: str, reason: str) -> LookupResult:
    return LookupResult(lookup_id, LookupState.UNAVAILABLE, UNAVAILABLE_MESSAGE, reason=reason)
