"""Administration: a département's routing edited by form, its versions, restoring one.

A national admin edits any département; a départemental admin only theirs (else 403).
« Vérifier » checks the form with the loader (errors next to their fields), shows what
changes against the version in force and a simulated call on the proposed routing;
« Enregistrer » records it as a new version (author, comment, what changed), applies it
(``on_config_accepted``; other instances follow through ``ivr.config_sync``) and audits
it. A form opened on a version that is no longer the newest is refused (409): nothing is
saved. The editing itself is ``ivr.web.routing_edit`` (pure functions).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ivr.records.store import StaleVersionError
from ivr.web import routing_versions as versions
from ivr.web.routes.checks import AdminCtx
from ivr.web.routes.common import ConsoleRoute, Ctx, admin_deps, see_other
from ivr.web.routes.routing_preview import Moments, moments_from, previews
from ivr.web.routing_edit import GENERAL, Checked, check, form_values, rows_shown
from ivr.web.routing_text import DAY_NAMES, DAYS, changes, dump, section_data, summary_lines
from ivr.web.routing_text import yaml_diff as section_diff
from routing.config import RoutingConfig
from routing.departements import BY_CODE

router = APIRouter(route_class=ConsoleRoute)

STALE = (
    "La configuration a changé depuis l'ouverture de ce formulaire (version n° {latest} "
    "enregistrée entre-temps) : rien n'a été enregistré. Rechargez la page pour repartir de "
    "la version en vigueur, puis refaites vos modifications."
)
CHANGED_SINCE_PREVIEW = (
    "Le formulaire a changé depuis la vérification : vérifiez les différences et "
    "l'aperçu ci-dessous, puis enregistrez."
)
NO_CHANGE = "Aucun changement par rapport à la version en vigueur."
COMMENT_REQUIRED = "Indiquez en quelques mots ce qui change et pourquoi."
FIX_FIELDS = "Rien n'a été enregistré : corrigez les champs signalés."


def may_edit(ctx: Ctx, code: str) -> bool:
    mine = admin_deps(ctx.who)
    return mine is None or code in mine


def departement_of(ctx: Ctx, code: str, config: RoutingConfig) -> str:
    """``code`` if the admin may edit it (else the 403 page; 404 when it does not exist)."""
    code = code.upper()
    if code not in BY_CODE or code not in config.departements:
        raise ctx.error(404, "Département introuvable", f"« {code} » n'est pas un département.")
    if not may_edit(ctx, code):
        raise ctx.forbidden(f"Vous n'administrez pas le département {code}.")
    return code


@router.get("/admin/routage", response_class=HTMLResponse)
async def routing_index(ctx: AdminCtx, info: str = "") -> Response:
    mine = admin_deps(ctx.who)
    config = ctx.deps.config()
    codes = [c for c in config.departements if mine is None or c in mine]
    names = {c: config.departements[c].name for c in codes}
    return ctx.render("routing_index.html", codes=codes, names=names, info=info)


@router.get("/admin/routage/departements/{code}", response_class=HTMLResponse)
async def routing_form(ctx: AdminCtx, code: str, info: str = "") -> Response:
    base = await ctx.web.db(versions.base, ctx.deps.records, ctx.deps.config())
    code = departement_of(ctx, code, base.config)
    values = form_values(base.config.departements[code])
    return page(ctx, code, base, values, moments_from(ctx, base.config, code, {}), info=info)


def page(
    ctx: Ctx,
    code: str,
    base: versions.Base,
    values: Mapping[str, str],
    moments: Moments,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The form page: the form as typed, its errors, and whatever ``context`` adds."""
    dep = base.config.departements[code]
    context.setdefault("errors", {})
    context.setdefault("info", "")
    return ctx.render(
        "routing_edit.html",
        status_code=status_code,
        code=code,
        dep_name=dep.name,
        base=base,
        version=values.get("version", str(base.version)),
        v=values,
        rows={p: rows_shown(values, p) for p in ("referent", "ecoutant", "exception", "lro")},
        days=list(zip(DAYS, DAY_NAMES, strict=True)),
        moments=moments,
        **context,
    )


def fingerprint(section: dict[str, Any]) -> str:
    return hashlib.sha256(dump(section).encode("utf-8")).hexdigest()


@router.post("/admin/routage/departements/{code}", response_class=HTMLResponse)
async def routing_post(ctx: AdminCtx, code: str) -> Response:
    form = await ctx.checked_form()
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    base = await ctx.web.db(versions.base, ctx.deps.records, ctx.deps.config())
    code = departement_of(ctx, code, base.config)
    moments = moments_from(ctx, base.config, code, values)
    opened = values.get("version", "")
    if opened != str(base.version):
        message = STALE.format(latest=base.version)
        return page(ctx, code, base, values, moments, 409, errors={GENERAL: [message]})
    checked = await ctx.web.db(check, base.config, base.text, code, values)
    errors = {**checked.errors, **moments.errors}
    if errors or checked.config is None:
        errors.setdefault(GENERAL, []).insert(0, FIX_FIELDS)
        return page(ctx, code, base, values, moments, 422, errors=errors)
    new_dep = checked.config.departements[code]
    found = changes(base.config.departements[code], new_dep)
    if not found:
        simulated = await previews(ctx, base.config, code, moments)
        return page(ctx, code, base, values, moments, info=NO_CHANGE, previews=simulated)
    proposal = fingerprint(section_data(new_dep))
    shown = await preview_context(ctx, checked.config, code, moments, base, found)
    if values.get("action") != "enregistrer":
        return page(ctx, code, base, values, moments, empreinte=proposal, **shown)
    if values.get("empreinte") != proposal:
        return page(ctx, code, base, values, moments, 409, empreinte=proposal,
                    errors={GENERAL: [CHANGED_SINCE_PREVIEW]}, **shown)  # fmt: skip
    comment = " ".join(values.get("commentaire", "").split())
    if not comment:
        return page(ctx, code, base, values, moments, 422, empreinte=proposal,
                    errors={"commentaire": [COMMENT_REQUIRED]}, **shown)  # fmt: skip
    try:
        vid = await record(ctx, checked, base, [code], summary_lines(code, found), comment)
    except StaleVersionError as stale:
        message = STALE.format(latest=stale.latest)
        return page(ctx, code, base, values, moments, 409, errors={GENERAL: [message]})
    await ctx.audit("update", "routing_departement", code, version=vid, comment=comment)
    flash = f"Version n° {vid} enregistrée et appliquée : {len(found)} changement(s) du {code}."
    return see_other(f"/admin/routage/departements/{code}", flash)


async def preview_context(
    ctx: Ctx,
    config: RoutingConfig,
    code: str,
    moments: Moments,
    base: versions.Base,
    found: list[Any],
) -> dict[str, Any]:
    """What the page shows once the form is valid: the changes and the simulated calls."""
    old = base.config.departements[code]
    new = config.departements[code]
    return {
        "changes": found,
        "yaml_diff": section_diff(old, new, code),
        "previews": await previews(ctx, config, code, moments),
    }


async def record(
    ctx: Ctx,
    checked: Checked,
    base: versions.Base,
    codes: list[str] | None,
    lines: list[str],
    comment: str,
    restored_from: int | None = None,
) -> int:
    """Record the checked routing as a new version (if ``base`` is still the newest) and
    apply it here; the other instances apply it at their next poll."""
    assert checked.config is not None
    digest = hashlib.sha256(checked.text.encode("utf-8")).hexdigest()
    vid = await ctx.web.db(
        ctx.deps.records.record_config_version,
        checked.text,
        digest,
        ctx.who.login,
        comment,
        departements=codes,
        changes=lines,
        restored_from=restored_from,
        expected_latest=base.version,
    )
    if ctx.deps.on_config_accepted is not None:
        outcome = ctx.deps.on_config_accepted(checked.config, checked.text)
        if inspect.isawaitable(outcome):
            await outcome
    return vid
