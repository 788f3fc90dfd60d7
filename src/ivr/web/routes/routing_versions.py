"""Administration: the routing versions (author, date, comment, what changed) and restoring
an earlier one, which records a new version.

A national admin may restore a whole file (every département and the national section)
or one département's section; a départemental admin only the section of a département
they administer, taken from the earlier version and put into the version in force. The
page shows what the restoration changes before it is confirmed; a confirmation made on a
version that is no longer the newest is refused (409).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ivr.records.models import ConfigVersion
from ivr.records.store import StaleVersionError
from ivr.web import routing_versions as versions
from ivr.web.routes.checks import AdminCtx
from ivr.web.routes.common import ConsoleRoute, Ctx, admin_deps, see_other
from ivr.web.routes.params import RecordId
from ivr.web.routes.routing_edit import STALE, may_edit, record
from ivr.web.routing_edit import GENERAL, Checked, with_departement
from ivr.web.routing_text import changes, summary_lines, touched, yaml_diff
from routing.config import RoutingConfig
from routing.loader import ConfigError

router = APIRouter(route_class=ConsoleRoute)

WHOLE_FILE_NATIONAL = "Seul un administrateur national peut restaurer un fichier entier."
NO_LONGER_VALID = "Cette version ne passe plus la vérification du fichier de routage : "
IDENTICAL = "Cette version est identique à la version en vigueur : rien à restaurer."


def _visible(row: ConfigVersion, mine: list[str] | None) -> bool:
    if mine is None or row.departements is None:
        return True
    return any(code in mine for code in row.departements.split(","))


@router.get("/admin/routage/versions", response_class=HTMLResponse)
async def versions_page(ctx: AdminCtx, info: str = "") -> Response:
    mine = admin_deps(ctx.who)
    rows = await ctx.web.db(versions.listing, ctx.deps.records, 50)
    latest = rows[0].id if rows else 0
    shown = [r for r in rows if _visible(r, mine)]
    restorable: dict[int, list[str]] = {}
    for row in shown:
        touched_codes = row.departements.split(",") if row.departements else []
        codes = mine if mine is not None else [c for c in touched_codes if c != "national"]
        restorable[row.id] = [] if row.id == latest else list(codes)
    return ctx.render(
        "routing_versions.html", rows=shown, latest=latest, restorable=restorable, info=info
    )


def _target(ctx: Ctx, row: ConfigVersion | None, dep: str) -> RoutingConfig:
    if row is None:
        raise ctx.error(404, "Version introuvable", "Cette version de routage n'existe pas.")
    if dep and not may_edit(ctx, dep):
        raise ctx.forbidden(f"Vous n'administrez pas le département {dep}.")
    if not dep and not ctx.who.national_admin:
        raise ctx.forbidden(WHOLE_FILE_NATIONAL)
    try:
        config = versions.parsed(row.content, row.sha256, f"version n° {row.id}")
    except ConfigError as exc:
        first = "; ".join(str(issue) for issue in exc.issues[:3])
        raise ctx.error(422, "Version non restaurable", NO_LONGER_VALID + first) from None
    if dep and dep not in config.departements:
        raise ctx.error(404, "Département introuvable", f"Le {dep} est absent de cette version.")
    return config


def _restoration(
    base: versions.Base, row: ConfigVersion, target: RoutingConfig, dep: str
) -> tuple[Checked, list[str], list[dict[str, Any]]]:
    """The routing once restored, the lines of « what changed », and the page's details."""
    if dep:
        checked = with_departement(base.config, base.text, dep, target.departements[dep])
        old, new = base.config.departements.get(dep), target.departements[dep]
        found = changes(old, new)
        details = [{"code": dep, "changes": found, "yaml_diff": yaml_diff(old, new, dep)}]
        return checked, summary_lines(dep, found), details
    checked = Checked(target, row.content, {})
    lines: list[str] = []
    details = []
    for code in touched(base.config, target):
        if code == "national":
            lines.append("national : section nationale")
            continue
        before, after = base.config.departements.get(code), target.departements.get(code)
        found = changes(before, after)
        lines += summary_lines(code, found)
        diff = yaml_diff(before, after, code)
        details.append({"code": code, "changes": found, "yaml_diff": diff})
    return checked, lines, details


async def _prepare(
    ctx: Ctx, version_id: int, dep: str
) -> tuple[versions.Base, ConfigVersion, Checked, list[str], list[dict[str, Any]]]:
    dep = dep.strip().upper()
    row = await ctx.web.db(versions.version, ctx.deps.records, version_id)
    target = await ctx.web.db(_target, ctx, row, dep)
    assert row is not None
    base = await ctx.web.db(versions.base, ctx.deps.records, ctx.deps.config())
    checked, lines, details = await ctx.web.db(_restoration, base, row, target, dep)
    return base, row, checked, lines, details


def _page(
    ctx: Ctx,
    base: versions.Base,
    row: ConfigVersion,
    dep: str,
    lines: list[str],
    details: list[dict[str, Any]],
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("errors", {})
    return ctx.render(
        "routing_restore.html",
        status_code=status_code,
        base=base,
        row=row,
        dep=dep.strip().upper(),
        lines=lines,
        details=details,
        identical=not lines,
        **context,
    )


@router.get("/admin/routage/versions/{version_id}/restaurer", response_class=HTMLResponse)
async def restore_page(ctx: AdminCtx, version_id: RecordId, dep: str = "") -> Response:
    base, row, checked, lines, details = await _prepare(ctx, version_id, dep)
    errors = dict(checked.errors)
    return _page(ctx, base, row, dep, lines, details, 422 if errors else 200, errors=errors)


@router.post("/admin/routage/versions/{version_id}/restaurer", response_class=HTMLResponse)
async def restore(ctx: AdminCtx, version_id: RecordId) -> Response:
    form = await ctx.checked_form()
    dep = str(form.get("dep") or "").strip().upper()
    base, row, checked, lines, details = await _prepare(ctx, version_id, dep)
    if str(form.get("version") or "") != str(base.version):
        errors = {GENERAL: [STALE.format(latest=base.version)]}
        return _page(ctx, base, row, dep, lines, details, 409, errors=errors)
    if checked.errors or checked.config is None:
        return _page(ctx, base, row, dep, lines, details, 422, errors=checked.errors)
    if not lines:
        return _page(ctx, base, row, dep, lines, details, 409, errors={GENERAL: [IDENTICAL]})
    typed = " ".join(str(form.get("commentaire") or "").split())
    what = f"le {dep}" if dep else "tout le fichier"
    comment = f"Restauration de la version n° {row.id} ({what})" + (f" : {typed}" if typed else "")
    codes = [dep] if dep else None
    try:
        vid = await record(ctx, checked, base, codes, lines, comment, restored_from=row.id)
    except StaleVersionError as stale:
        errors = {GENERAL: [STALE.format(latest=stale.latest)]}
        return _page(ctx, base, row, dep, lines, details, 409, errors=errors)
    await ctx.audit("restore", "config_version", str(row.id), version=vid, departement=dep or None)
    flash = f"Version n° {row.id} restaurée ({what}) : nouvelle version n° {vid} appliquée."
    return see_other("/admin/routage/versions", flash)
