"""Generated national traffic for the report tests and ``bench/bench_reports.py``.

Calls of both lines over a span of days, spread over the 101 départements (Paris and the
Île-de-France heaviest, a few calls whose département was never known), with a day's
profile (quiet nights, busy late mornings), callers who call again (each département has a
pool of fictitious numbers, 06 39 98 …: ARCEP's range for fiction), answered calls with
millisecond waits, abandons in the menu, in the queue and while ringing (the ``abandon``
event the store writes), deterrence, the LRO, call-back offers, reasons on the assistance
line. Seeded: the same arguments give the same calls.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta

from ivr.records.store import CallRecord, EventRecord
from routing.departements import BY_CODE

HOURLY = (
    2, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 8, 8, 9, 9, 8, 7, 6, 5, 4, 4, 3, 2,
)  # fmt: skip
HEAVY = {"75": 14.0, "93": 4.0, "92": 3.0, "94": 3.0, "91": 3.0, "95": 3.0, "13": 3.0}
HEAVY.update({"69": 3.0, "59": 3.0, "77": 2.0, "78": 2.0, "31": 2.0, "33": 2.0, "974": 1.5})


def departements() -> tuple[list[str], list[float]]:
    codes = sorted(BY_CODE)
    return [*codes, ""], [*(HEAVY.get(c, 0.6) for c in codes), 0.3]


class Traffic:
    """``per_day`` calls a day on average, from ``first`` for ``days`` days (UTC)."""

    def __init__(
        self,
        first: date,
        days: int,
        per_day: int,
        reasons: Sequence[str] = ("connexion", "compte", "rgpd", "incident"),
        seed: int = 115,
    ) -> None:
        self.first, self.days, self.per_day = first, days, per_day
        self.reasons = list(reasons)
        self.rng = random.Random(seed)
        self.codes, self.weights = departements()

    def calls(self) -> Iterator[CallRecord]:
        rng = self.rng
        hours = list(range(24))
        n = 0
        for offset in range(self.days):
            day = datetime.combine(self.first + timedelta(days=offset), datetime.min.time(), UTC)
            count = max(1, int(rng.gauss(self.per_day, self.per_day * 0.1)))
            deps = rng.choices(self.codes, self.weights, k=count)
            hour_of = rng.choices(hours, HOURLY, k=count)
            for dep, hour in zip(deps, hour_of, strict=True):
                arrived = day + timedelta(hours=hour, seconds=rng.uniform(0, 3600))
                n += 1
                yield self._call(f"gen-{n}", dep, arrived)

    def _call(self, call_id: str, dep: str, arrived: datetime) -> CallRecord:
        rng = self.rng
        line = "assistance" if rng.random() < 0.2 else "115"
        pool = 40 + 400 * int(HEAVY.get(dep, 0.6) * 10)
        caller = None if rng.random() < 0.05 else f"+3363998{rng.randrange(pool):04d}"
        reason = rng.choice(self.reasons) if line == "assistance" and rng.random() < 0.9 else None
        events: list[EventRecord] = []
        answered = None
        deterrence = None
        lro = callback = False
        draw = rng.random()
        if draw < 0.35:
            outcome = "connected"
            answered = arrived + timedelta(milliseconds=rng.randrange(1_000, 1_800_000))
            ended = answered + timedelta(milliseconds=rng.randrange(10_000, 1_200_000))
            lro = rng.random() < 0.03
        elif draw < 0.75:
            outcome = "caller-hung-up"
            phase = rng.choice(("menu", "queue", "queue", "ringing"))
            ended = arrived + timedelta(milliseconds=rng.randrange(2_000, 900_000))
            events.append(EventRecord("abandon", phase, ended))
        elif draw < 0.9:
            deterrence = rng.choice(("saturation", "saturation", "closure", "max_wait"))
            callback = line == "115" and caller is not None and rng.random() < 0.4
            outcome = "callback" if callback else "message"
            ended = arrived + timedelta(seconds=rng.randrange(20, 90))
        else:
            outcome = "message"
            ended = arrived + timedelta(seconds=rng.randrange(10, 60))
        return CallRecord(
            call_id=call_id,
            line=line,
            departement=dep or None,
            caller=caller,
            called="+33353010750" if line == "115" else "+33806000156",
            arrived_at=arrived,
            ended_at=ended,
            answered_at=answered,
            outcome=outcome,
            reason=reason,
            deterrence=deterrence,
            lro_used=lro,
            callback_registered=callback,
            events=tuple(events),
        )


def tz_of(departement: str) -> str:
    """Each département's time zone, as the routing file says."""
    return {
        "971": "America/Guadeloupe",
        "972": "America/Martinique",
        "973": "America/Cayenne",
        "974": "Indian/Reunion",
        "976": "Indian/Mayotte",
    }.get(departement, "Europe/Paris")
