"""Administration of recordings: the list, a call's recordings (audited), and playback
streamed through the service (audited). National admins hear every recording,
départemental admins those of their départements' calls."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from ivr.records.models import AccountRole
from ivr.web import queries
from ivr.web.accounts import Principal
from ivr.web.formatting import LINE_LABELS, OUTCOME_LABELS
from ivr.web.recordings import (
    RecordingNotFoundError,
    RecordingRef,
    RecordingSourceError,
    RecordingStream,
)
from ivr.web.routes.checks import AdminCtx
from ivr.web.routes.common import ConsoleRoute, Ctx, admin_deps
from ivr.web.routes.params import RecordId

log = logging.getLogger(__name__)

router = APIRouter(route_class=ConsoleRoute)

NOT_YOURS = "Vous n'avez pas accès aux enregistrements des appels de ce département."


def may_listen(who: Principal, departement: str | None) -> bool:
    """National admins: every recording; départemental admins: calls of their
    départements (a call whose département is unknown: national admins only)."""
    if who.national_admin:
        return True
    return departement is not None and departement in who.departements(
        AccountRole.ADMIN_DEPARTEMENT
    )


def recording_state(ctx: Ctx, row: queries.RecordingRow) -> str | None:
    """Why a recording cannot be played (French), or None when it can."""
    retention = ctx.deps.recording_retention
    if row.expired(ctx.deps.clock(), retention):
        days = retention.days
        return f"Enregistrement supprimé : la durée de conservation ({days} jours) est échue."
    return None


@router.get("/admin/enregistrements", response_class=HTMLResponse)
async def recordings_list(ctx: AdminCtx, appel: str = "") -> Response:
    rows = await ctx.web.db(
        queries.recordings,
        ctx.deps.records,
        departements=admin_deps(ctx.who),
        call_id=appel.strip() or None,
    )
    return ctx.render(
        "recordings.html",
        rows=rows,
        states={row.id: recording_state(ctx, row) for row in rows},
        appel=appel.strip(),
        line_labels=LINE_LABELS,
    )


@router.get("/admin/appels/{call_id}/enregistrements", response_class=HTMLResponse)
async def call_recordings(ctx: AdminCtx, call_id: str) -> Response:
    call = await ctx.web.db(ctx.deps.records.call, call_id)
    rows = await ctx.web.db(queries.recordings, ctx.deps.records, call_id=call_id)
    departement = (
        call.departement
        if call is not None
        else next((r.departement for r in rows if r.departement), None)
    )
    if call is None and not rows:
        raise ctx.error(404, "Appel introuvable", f"Aucun appel « {call_id} ».")
    if not may_listen(ctx.who, departement):
        raise ctx.forbidden(NOT_YOURS)
    await ctx.audit("read", "call_recordings", call_id, enregistrements=[r.id for r in rows])
    return ctx.render(
        "call_recordings.html",
        call=call,
        call_id=call_id,
        departement=departement,
        rows=rows,
        states={row.id: recording_state(ctx, row) for row in rows},
        line_labels=LINE_LABELS,
        outcome_labels=OUTCOME_LABELS,
    )


async def playable(ctx: Ctx, recording_id: RecordId) -> tuple[queries.RecordingRow, str]:
    """The recording and its location, if this admin may hear it and it is kept; else
    raises the page saying why."""
    row = await ctx.web.db(queries.recording, ctx.deps.records, recording_id)
    if row is None:
        raise ctx.error(
            404, "Enregistrement introuvable", f"Aucun enregistrement n° {recording_id}."
        )
    if not may_listen(ctx.who, row.departement):
        raise ctx.forbidden(NOT_YOURS)
    gone = recording_state(ctx, row)
    if gone is not None or row.location is None:
        raise ctx.error(410, "Enregistrement supprimé", gone or "")
    return row, row.location


async def opened(ctx: Ctx, row: queries.RecordingRow, location: str) -> RecordingStream:
    """The recording's stream from its source; the source's failures as pages."""
    source = ctx.deps.recordings
    if source is None or not source.handles(location):
        raise ctx.error(
            503,
            "Lecture indisponible",
            "La lecture des enregistrements n'est pas configurée sur ce serveur "
            "pour cette source (téléphonie Asterisk ou opérateur).",
        )
    try:
        return await source.open(RecordingRef(row.id, row.call_id, location, row.media_type))
    except RecordingNotFoundError:
        raise ctx.error(
            410,
            "Enregistrement introuvable à la source",
            "Le fichier de cet enregistrement n'existe plus sur le serveur de téléphonie "
            "(supprimé ou purgé de son côté).",
        ) from None
    except RecordingSourceError as exc:
        log.warning("recording %s: source unavailable: %s", row.id, exc)
        raise ctx.error(
            502,
            "Serveur d'enregistrements injoignable",
            "Le serveur de téléphonie qui conserve cet enregistrement ne répond pas. "
            "Réessayez dans quelques minutes ; si cela dure, prévenez l'exploitation.",
        ) from None


@router.get("/admin/enregistrements/{recording_id}/audio")
async def recording_audio(ctx: AdminCtx, recording_id: RecordId) -> Response:
    """The recording's bytes, streamed through the service (audited)."""
    row, location = await playable(ctx, recording_id)
    stream = await opened(ctx, row, location)
    await ctx.audit(
        "listen", "recording", str(row.id), appel=row.call_id, departement=row.departement
    )
    return stream_response(stream, row)


def stream_response(stream: RecordingStream, row: queries.RecordingRow) -> Response:
    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in stream.chunks:
                yield chunk
        finally:
            await stream.aclose()

    extension = {"audio/mpeg": ".mp3", "audio/ogg": ".ogg"}.get(stream.content_type, ".wav")
    headers = {
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'inline; filename="enregistrement-{row.id}{extension}"',
    }
    if stream.size is not None:
        headers["Content-Length"] = str(stream.size)
    return StreamingResponse(body(), media_type=stream.content_type, headers=headers)
