"""Administration: the routing configuration (checked as ``ivr config check`` checks it,
then recorded as a new version and applied), and the audit log."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Sequence
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData, UploadFile

from ivr.web import queries
from ivr.web.routes.checks import AdminCtx, NationalAdminCtx, NationalAdminForm
from ivr.web.routes.common import ConsoleRoute, Ctx, see_other, text
from routing.loader import ConfigError, ConfigIssue, parse_config

router = APIRouter(route_class=ConsoleRoute)

MAX_CONFIG_BYTES = 2_000_000
DEFAULT_NAME = "departments.yaml"


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(ctx: AdminCtx, info: str = "") -> Response:
    national = ctx.who.national_admin
    versions = await ctx.web.db(queries.config_versions, ctx.deps.records) if national else []
    return ctx.render("admin.html", versions=versions, info=info, issues=None, text="")


class RejectedFileError(Exception):
    """The file cannot be taken as a routing file: its name, problems and text."""

    def __init__(self, name: str, issues: Sequence[ConfigIssue], text: str) -> None:
        super().__init__(name)
        self.name = name
        self.issues = issues
        self.text = text


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
        try:
            content = raw.decode("utf-8")
        except UnicodeDecodeError:
            issue = ConfigIssue(name, None, "", "le fichier n'est pas en UTF-8")
            raise RejectedFileError(name, [issue], "") from None
    if len(content.encode("utf-8")) > MAX_CONFIG_BYTES:
        issue = ConfigIssue(name, None, "", "fichier trop volumineux (2 Mo au plus)")
        raise RejectedFileError(name, [issue], "")
    return name, content


@router.post("/admin/configuration", response_class=HTMLResponse)
async def check_config(posted: NationalAdminForm) -> Response:
    ctx = posted.ctx
    try:
        name, content = await submitted(posted.form)
        try:
            config = parse_config(content, name)
        except ConfigError as exc:
            raise RejectedFileError(name, exc.issues, content) from exc
    except RejectedFileError as rejected:
        return admin_result(ctx, rejected.issues, rejected.text, rejected.name)
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    comment = posted.field("commentaire") or None
    version = await ctx.web.db(
        ctx.deps.records.record_config_version, content, digest, ctx.who.login, comment
    )
    if ctx.deps.on_config_accepted is not None:
        outcome = ctx.deps.on_config_accepted(config, content)
        if inspect.isawaitable(outcome):
            await outcome
    return see_other("/admin", f"Configuration valide : version n° {version} enregistrée.")


def admin_result(ctx: Ctx, issues: Sequence[ConfigIssue], content: str, name: str) -> HTMLResponse:
    """The admin page with every problem, worded as ``ivr config check`` words it."""
    count = len(issues)
    return ctx.render(
        "admin.html",
        status_code=422,
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
