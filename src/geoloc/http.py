"""The AML receiver: ``POST /aml`` (HTTPS form) and ``POST /aml/sms`` (SMS via a gateway).

Both require the ``X-AML-Signature`` HMAC header and fail closed: no key configured means
every message is refused. Refusals are 4xx with a French ``detail`` and are logged with
their reason; nothing a sender puts in a request can cause a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from geoloc.aml import (
    MAX_HTTPS_BODY,
    SIGNATURE_HEADER,
    AmlError,
    AmlReport,
    AmlSignatureError,
    parse_aml_json,
    parse_aml_sms,
    parse_json_object,
    verify_signature,
)
from geoloc.locator import Locator
from geoloc.numbers import normalise_number
from geoloc.store import RecentPositions

logger = logging.getLogger("geoloc.aml")

FUTURE_TOLERANCE = timedelta(minutes=10)


def _refuse(status: int, detail: str, request: Request, route: str) -> JSONResponse:
    client = request.client.host if request.client else "?"
    logger.warning("AML refusé sur %s depuis %s : %s (HTTP %d)", route, client, detail, status)
    return JSONResponse(status_code=status, content={"detail": detail})


def _signature_status(error: AmlSignatureError) -> int:
    return 401 if error.missing else 403


async def _read_body(request: Request) -> bytes | None:
    """The request's body, or ``None`` when it is over ``MAX_HTTPS_BODY``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_HTTPS_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_HTTPS_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _sms_report(body: bytes) -> AmlReport:
    """The AML report of a gateway's SMS envelope, its caller the sender (or ``AmlError``)."""
    envelope = parse_json_object(body, MAX_HTTPS_BODY)
    sender = envelope.get("sender")
    text = envelope.get("text")
    if not isinstance(sender, str) or len(sender) > 32:
        raise AmlError("Champ « sender » : numéro de l'expéditeur attendu.")
    caller = normalise_number(sender)
    if caller is None:
        raise AmlError("Champ « sender » : numéro de l'expéditeur invalide.")
    if not isinstance(text, str):
        raise AmlError("Champ « text » : texte du SMS AML attendu.")
    return replace(parse_aml_sms(text), caller=caller)


class _Receiver:
    """What both AML routes do: check the body and its signature, then store and locate."""

    def __init__(
        self,
        locator: Locator,
        positions: RecentPositions,
        hmac_key: bytes | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.locator = locator
        self.positions = positions
        self.hmac_key = hmac_key
        self.clock = clock

    async def receive(
        self, request: Request, route: str, parse: Callable[[bytes], AmlReport]
    ) -> JSONResponse:
        """A signed body, parsed by ``parse`` into a report that names its caller."""
        if not self.hmac_key:
            return _refuse(
                403, "Réception AML désactivée : aucune clé HMAC configurée.", request, route
            )
        body = await _read_body(request)
        if body is None:
            return _refuse(413, "Message trop volumineux.", request, route)
        try:
            verify_signature(body, request.headers.get(SIGNATURE_HEADER), self.hmac_key)
        except AmlSignatureError as error:
            return _refuse(_signature_status(error), str(error), request, route)
        try:
            report = parse(body)
        except AmlError as error:
            return _refuse(422, str(error), request, route)
        assert report.caller is not None
        return await self.accept(report, report.caller, request, route)

    async def accept(
        self, report: AmlReport, caller: str, request: Request, route: str
    ) -> JSONResponse:
        now = self.clock()
        age = now - report.at
        if age > self.positions.window:
            return _refuse(
                422,
                f"Position trop ancienne ({int(age.total_seconds() // 60)} min) : ignorée.",
                request,
                route,
            )
        if -age > FUTURE_TOLERANCE:
            return _refuse(422, "Horodatage de la position dans le futur.", request, route)
        stored = self.positions.attach(caller, report)
        answer = await run_in_threadpool(self.locator.from_aml_report, report, now)
        logger.info(
            "AML reçu sur %s : %s, département %s (%s)",
            route,
            caller[:-4] + "****",
            answer.departement,
            answer.confidence.value,
        )
        return JSONResponse(
            status_code=202,
            content={"accepted": True, "stored": stored, "caller": caller, **answer.as_dict()},
        )


def build_router(
    locator: Locator,
    positions: RecentPositions,
    hmac_key: bytes | None,
    clock: Callable[[], datetime],
) -> APIRouter:
    """Routes for AML reception; mount them in the composition root."""
    router = APIRouter(tags=["aml"])
    receiver = _Receiver(locator, positions, hmac_key, clock)

    @router.post("/aml", status_code=202)
    async def receive_aml(request: Request) -> JSONResponse:
        """HTTPS form: a signed JSON object (docs/geoloc.md)."""
        return await receiver.receive(request, "/aml", parse_aml_json)

    @router.post("/aml/sms", status_code=202)
    async def receive_aml_sms(request: Request) -> JSONResponse:
        """SMS form relayed by an operator gateway: ``{"sender": "+33…", "text": "A\\"ML=1;…"}``."""
        return await receiver.receive(request, "/aml/sms", _sms_report)

    return router
