"""Administration: the routing configuration (checked as ``ivr config check`` checks it,
then recorded as a new version and applied), and the audit log.

A submitted file may be hostile: the form is read up to what 2 Mo of routing needs (413
beyond, without reading further: ``ivr.web.limits.BodyLimits`` counts the body), and the
file is checked in a worker thread of its own within ``ConsoleDeps.config_check_timeout``,
so that the service goes on answering meanwhile. A refused file changes nothing: the
routing in force stays.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from ivr.web import queries
from ivr.web.limits import BodyTooLargeError, config_form_limit, is_too_large
from ivr.web.routes.checks import AdminCtx, NationalAdminCtx, Posted
from ivr.web.routes.common import ConsoleRoute, Ctx, see_other, text
from ivr.web.routing_text import touched, upload_summary
from routing.config import RoutingConfig
from routing.loader import ConfigError, ConfigIssue, parse_config
from routing.safe_yaml import MAX_CONFIG_BYTES, TOO_BIG

router = APIRouter(route_class=ConsoleRoute)

DEFAULT_NAME = "departments.yaml"
UNREADABLE_FORM = "formulaire illisible : rechargez la page et envoyez le fichier à nouveau"

# One check at a time, apart from the threads the database work uses: a hostile file
# held up in its check delays the next check, nothing else.
_CHECKS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="config-check")


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(ctx: AdminCtx, info: str = "") -> Response:
    national = ctx.who.national_admin
    versions = await ctx.web.db(queries.config_versions, ctx.deps.records) if national else []
    return ctx.render("admin.html", versions=versions, info=info, issues=None, text="")


class RejectedFileError(Exception):
    """The file cannot be taken as a routing file: its name, problems and text."""

    def __init__(
        self, name: str, issues: Sequence[ConfigIssue], text: str, status_code: int = 422
    ) -> None:
        super().__init__(name)
        self.name = name
        self.issues = issues
        self.text = text
        self.status_code = status_code


def too_big(name: str = DEFAULT_NAME) -> RejectedFileError:
    return RejectedFileError(name, [ConfigIssue(name, None, "", TOO_BIG)], "", 413)


def form_limit(content_type: str) -> int:
    """The most a configuration form may weigh (``ivr.web.limits`` enforces it)."""
    return config_form_limit(content_type)


async def config_form(request: Request) -> FormData:
    """The posted configuration form. ``BodyLimits`` (``ivr.web.limits``) counts the body:
    declared or found over ``form_limit``, the first read past it raises, nothing further
    is read, and the page says so (413)."""
    limit = form_limit(request.headers.get("content-type", ""))
    try:
        return await request.form(max_files=1, max_fields=10, max_part_size=limit)
    except BodyTooLargeError:
        raise too_big() from None
    except HTTPException:  # Starlette's 400 for a malformed form, in English
        if is_too_large(request.scope):
            raise too_big() from None
        issue = ConfigIssue(DEFAULT_NAME, None, "", UNREADABLE_FORM)
        raise RejectedFileError(DEFAULT_NAME, [issue], "") from None


async def submitted(form: FormData) -> tuple[str, str]:
    """The file's name and text: the upload if any, else the text pasted in the form."""
    upload = form.get("fichier")
    content = text(form, "texte") or ""
    name = DEFAULT_NAME
    if isinstance(upload, UploadFile) and upload.filename:
        name = Path(upload.filename).name
        try:
            raw = await upload.read(MAX_CONFIG_BYTES + 1)
        finally:
            await form.close()  # the upload's temporary file
        if len(raw) > MAX_CONFIG_BYTES:
            raise too_big(name)
        try:
            content = raw.decode("utf-8")
        except UnicodeDecodeError:
            issue = ConfigIssue(name, None, "", "le fichier n'est pas en UTF-8")
            raise RejectedFileError(name, [issue], "") from None
    if len(content) > MAX_CONFIG_BYTES or len(content.encode("utf-8")) > MAX_CONFIG_BYTES:
        raise too_big(name)
    return name, content


async def checked(content: str, name: str, timeout_s: float) -> RoutingConfig:
    """``parse_config`` in its worker thread, within ``timeout_s`` (else refused)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            return await loop.run_in_executor(_CHECKS, parse_config, content, name)
    except TimeoutError:
        seconds = f"{timeout_s:g}".replace(".", ",")
        issue = ConfigIssue(
            name, None, "", f"vérification trop longue (plus de {seconds} s) : fichier refusé"
        )
        raise ConfigError([issue], limit="time") from None


@router.post("/admin/configuration", response_class=HTMLResponse)
async def check_config(ctx: NationalAdminCtx) -> Response:
    try:
        posted = Posted(ctx, ctx.check_csrf(await config_form(ctx.request)))
        name, content = await submitted(posted.form)
        timeout_s = ctx.deps.config_check_timeout.total_seconds()
        try:
            config = await checked(content, name, timeout_s)
        except ConfigError as exc:
            raise RejectedFileError(name, exc.issues, content) from exc
    except RejectedFileError as rejected:
        return admin_result(
            ctx, rejected.issues, rejected.text, rejected.name, rejected.status_code
        )
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    comment = posted.field("commentaire") or None
    changed = upload_summary(touched(ctx.deps.config(), config))
    version = await ctx.web.db(
        ctx.deps.records.record_config_version,
        content,
        digest,
        ctx.who.login,
        comment,
        changes=changed,
    )
    if ctx.deps.on_config_accepted is not None:
        outcome = ctx.deps.on_config_accepted(config, content)
        if inspect.isawaitable(outcome):
            await outcome
    return see_other("/admin", f"Configuration valide : version n° {version} enregistrée.")


def admin_result(
    ctx: Ctx, issues: Sequence[ConfigIssue], content: str, name: str, status_code: int = 422
) -> HTMLResponse:
    """The admin page with every problem, worded as ``ivr config check`` words it."""
    count = len(issues)
    return ctx.render(
        "admin.html",
        status_code=status_code,
        issues=issues,
        summary=f"{name} : {count} erreur{'s' if count > 1 else ''}",
        text=content,
        versions=[],
        info="",
    )


@router.get("/admin/journal", response_class=HTMLResponse)
async def audit_log(ctx: NationalAdminCtx) -> Response:
    entries = await ctx.web.db(ctx.deps.records.audit_entries, 300)
    return ctx.render("audit.html", entries=entries)
