"""The dialplan Asterisk runs when the service is not there: rendered from the fallback plan.

With no controller connected, ``Stasis()`` fails at once (``STASISSTATUS=FAILED``) and the
call goes on in ``[ivr-fallback]``, which follows ``routing.fallback`` (the plan the LaML
fallback document follows too): a 115 number rings its département's listeners, then its
LRO chain; the assistance number rings national support while it is open; the last word is
a message. The service also sends a call there when it cannot handle it.

Opening hours are checked in the dialplan itself (``STRFTIME`` of ``EPOCH`` in the hours'
time zone, compared with the weekly ranges, the dated exceptions and the public holidays).
Asterisk cannot compute public holidays, so the file lists them for a window of years,
written in its header; past the window a warning is logged and only the weekly hours and
exceptions apply. Regenerate after every change of the routing file, and once a year::

    python -m ivr.transports.ari.dialplan config/departments.yaml \\
        > deploy/asterisk/extensions_fallback.conf
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from datetime import datetime, time

from ivr.transports.ari.mapping import dial_endpoint
from routing.config import RoutingConfig, TimeRange
from routing.fallback import NATIONAL_115, FallbackPlan, FallbackPlans, OpeningHours
from routing.hours import public_holidays
from routing.loader import load_config

DEFAULT_TEMPLATE = "PJSIP/{number}@operator"
LANGUAGE = "fr"  # the language of the prompts (the transport plays them with lang=fr)
HOLIDAY_YEARS = 5  # how many years of public holidays the generated file lists
_HEADER_YEARS = re.compile(r"^; Jours fériés : (\d{4}) à (\d{4})", re.MULTILINE)


def number_forms(e164: str) -> list[str]:
    """The forms an operator may send a French number in: E.164, national, digits."""
    forms = [e164, e164.lstrip("+")]
    if e164.startswith("+33"):
        forms.append("0" + e164[3:])
    return forms


def context_name(plan: FallbackPlan) -> str:
    return f"ivr-fallback-{plan.name}"


def hours_context(hours: OpeningHours) -> str:
    return f"ivr-fallback-hours-{hours.name}"


def header_years(dialplan: str) -> range | None:
    """The years of public holidays a generated dialplan lists (None: not one of ours)."""
    found = _HEADER_YEARS.search(dialplan)
    if found is None:
        return None
    return range(int(found.group(1)), int(found.group(2)) + 1)


def _plan_context(plan: FallbackPlan, template: str) -> list[str]:
    lines = [
        f"[{context_name(plan)}]",
        f"; {plan.title}",
        "exten => s,1,NoOp(Secours : ${CALLERID(num)} vers ${IVR_CALLED})",
        # The prompts are in <sounds>/fr/ivr/: without the language, Playback looks in
        # en/ and finds nothing (seen on Asterisk 22.10.1: the caller heard silence).
        f" same => n,Set(CHANNEL(language)={LANGUAGE})",
    ]
    for position, step in enumerate(plan.steps, start=1):
        after = f"after{position}"
        lines.append(f" ; {position}. {step.label}")
        if step.only_when_open is not None:
            lines.append(f" same => n,Gosub({hours_context(step.only_when_open)},s,1)")
            lines.append(f' same => n,GotoIf($["${{IVR_OPEN}}" != "1"]?{after})')
        if step.announcement is not None:
            lines.append(" same => n,Answer()")
            lines.append(f" same => n,Playback(ivr/{step.announcement})")
        targets = "&".join(dial_endpoint(template, n) for n in step.numbers)
        lines.append(f" same => n,Dial({targets},{step.ring_timeout_s})")
        lines.append(' same => n,ExecIf($["${DIALSTATUS}" = "ANSWER"]?Hangup())')
        if step.only_when_open is not None:
            lines.append(f" same => n({after}),NoOp()")
    lines += [
        " same => n,Answer()",
        f" same => n,Playback(ivr/{plan.last_word.prompt})",
        " same => n,Hangup()",
        "",
    ]
    return lines


def _minutes(moment: time) -> int:
    """HHMM as a number, as ``STRFTIME(...,%H%M)`` gives it (24:00 is 2400)."""
    return 2400 if moment == time.max else moment.hour * 100 + moment.minute


def _ranges_condition(ranges: Iterable[TimeRange]) -> str | None:
    terms = []
    for r in ranges:
        start, end = _minutes(r.start), _minutes(r.end)
        if end >= 2400:
            terms.append(f"${{hm}} >= {start}")
        else:
            terms.append(f"(${{hm}} >= {start} & ${{hm}} < {end})")
    return " | ".join(terms) if terms else None


def _hours_context(hours: OpeningHours, years: range) -> list[str]:
    zone = hours.timezone
    lines = [
        f"[{hours_context(hours)}]",
        f"; Ouvert maintenant ? IVR_OPEN=1 ou 0 (heure de {zone})",
        f"exten => s,1,Set(LOCAL(day)=${{STRFTIME(${{EPOCH}},{zone},%Y-%m-%d)}})",
        f" same => n,Set(LOCAL(wd)=${{STRFTIME(${{EPOCH}},{zone},%u)}})",
        f" same => n,Set(LOCAL(hm)=${{STRFTIME(${{EPOCH}},{zone},%H%M)}})",
        f" same => n,ExecIf($[${{STRFTIME(${{EPOCH}},{zone},%Y)}} > {years.stop - 1}]"
        f"?Log(WARNING,Jours fériés connus jusqu'en {years.stop - 1} seulement - "
        "régénérer extensions_fallback.conf))",
    ]
    exceptions = []
    for index, exception in enumerate(hours.hours.exceptions):
        label = f"exc{index}"
        lines.append(
            f' same => n,GotoIf($["${{day}}" = "{exception.date.isoformat()}"]?{label})'
            + (f" ; {exception.label}" if exception.label else "")
        )
        condition = None if exception.closed else _ranges_condition(exception.hours)
        exceptions.append((label, condition))
    if hours.hours.closed_on_public_holidays:
        for year in years:
            for day, name in public_holidays(hours.calendar, year):
                lines.append(
                    f' same => n,GotoIf($["${{day}}" = "{day.isoformat()}"]?closed) ; {name}'
                )
    weekly = hours.hours.weekly
    for weekday in range(7):
        condition = _ranges_condition(weekly.for_weekday(weekday))
        if condition is not None:
            lines.append(f" same => n,GotoIf($[${{wd}} = {weekday + 1} & ({condition})]?open)")
    lines.append(" same => n,Goto(closed)")
    for label, condition in exceptions:
        if condition is None:
            lines.append(f" same => n({label}),Goto(closed)")
        else:
            lines.append(f" same => n({label}),GotoIf($[{condition}]?open:closed)")
    lines += [
        " same => n(open),Set(IVR_OPEN=1)",
        " same => n,Return()",
        " same => n(closed),Set(IVR_OPEN=0)",
        " same => n,Return()",
        "",
    ]
    return lines


def fallback_dialplan(
    config: RoutingConfig, template: str = DEFAULT_TEMPLATE, years: range | None = None
) -> str:
    """The ``[ivr-fallback]`` contexts of ``config``, with public holidays for ``years``
    (default: this year and the next ``HOLIDAY_YEARS - 1``)."""
    if years is None:
        first = datetime.now().year
        years = range(first, first + HOLIDAY_YEARS)
    plans = FallbackPlans(config)
    lines = [
        "; Generated by `python -m ivr.transports.ari.dialplan`: do not edit by hand.",
        "; Where calls go when the service is not connected (Stasis() returned FAILED),",
        "; rendered from routing.fallback (the LaML fallback document follows the same plan).",
        f"; Jours fériés : {years.start} à {years.stop - 1}",
        "",
        "[ivr-fallback]",
    ]
    for number, plan in plans.numbers().items():
        for form in number_forms(number):
            lines.append(f"exten => {form},1,Set(IVR_CALLED={number})")
            lines.append(f" same => n,Goto({context_name(plan)},s,1)")
    national = context_name(plans.plan(NATIONAL_115))
    lines.append("; any other number is still an emergency call: the national LRO")
    lines.append("exten => _X.,1,Set(IVR_CALLED=${EXTEN})")
    lines.append(f" same => n,Goto({national},s,1)")
    lines.append("exten => _+X.,1,Set(IVR_CALLED=${EXTEN})")
    lines.append(f" same => n,Goto({national},s,1)")
    lines.append("")
    hours: dict[str, OpeningHours] = {}
    for plan in plans.plans():
        lines += _plan_context(plan, template)
        for step in plan.steps:
            if step.only_when_open is not None:
                hours[step.only_when_open.name] = step.only_when_open
    for opening in hours.values():
        lines += _hours_context(opening, years)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = args[0] if args else "config/departments.yaml"
    template = args[1] if len(args) > 1 else DEFAULT_TEMPLATE
    sys.stdout.write(fallback_dialplan(load_config(path), template))


if __name__ == "__main__":
    main()
