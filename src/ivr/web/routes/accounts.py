"""Administration of accounts: list and create, then per account its roles, activation,
password and sign-in lock. A départemental admin manages only the accounts all of whose
roles are in their départements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from ivr.records.models import AccountRole
from ivr.web import throttle
from ivr.web.accounts import (
    LOCAL_ROLES,
    NATIONAL_ROLES,
    ROLE_LABELS,
    AccountError,
    AccountView,
    Grant,
    Principal,
    create_account,
    end_sessions,
    get_account,
    list_accounts,
    open_sessions,
    set_active,
    set_password,
    update_account,
    within_scope,
)
from ivr.web.formatting import spaced_number
from ivr.web.routes.checks import AdminCtx, AdminForm, Posted
from ivr.web.routes.common import ConsoleRoute, Ctx, field, see_other, text

router = APIRouter(route_class=ConsoleRoute)

VALUE_FIELDS = (
    "login",
    "nom",
    "telephone",
    "email",
    *(f"dep_{r.value}" for r in LOCAL_ROLES),
    *(f"role_{r.value}" for r in NATIONAL_ROLES),
)


def grants_from(form: FormData) -> list[Grant]:
    """Roles from the account form: a département list per local role (« 91, 2A »), a
    checkbox per national role."""
    grants: list[Grant] = []
    for role in LOCAL_ROLES:
        for dep in field(form, f"dep_{role.value}").replace(",", " ").split():
            grants.append((role, dep.upper()))
    for role in NATIONAL_ROLES:
        if field(form, f"role_{role.value}"):
            grants.append((role, None))
    return grants


def scope_refusal(who: Principal) -> str:
    mine = ", ".join(who.departements(AccountRole.ADMIN_DEPARTEMENT))
    return (
        "Un administrateur départemental ne gère que les comptes dont tous les rôles "
        f"sont dans son département ({mine}), sans rôle national."
    )


def account_url(login: str) -> str:
    return "/admin/comptes/" + quote(login, safe="")


def checked_grants(ctx: Ctx, form: FormData) -> list[Grant]:
    """The roles the form gives; raises the 403 page when the admin may not give them."""
    grants = grants_from(form)
    if grants and not within_scope(ctx.who, grants):
        raise ctx.forbidden(scope_refusal(ctx.who))
    return grants


async def accounts_page(
    ctx: Ctx,
    *,
    status_code: int = 200,
    info: str = "",
    errors: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    values = values or {}
    every = await ctx.web.db(list_accounts, ctx.deps.records)
    accounts = [a for a in every if within_scope(ctx.who, a.grants)]
    locks = await ctx.web.db(throttle.locks, ctx.deps.records.engine, ctx.deps.clock())
    return ctx.render(
        "accounts.html",
        status_code=status_code,
        accounts=accounts,
        locked={
            a.login: locks[throttle.login_key(a.login)]
            for a in accounts
            if throttle.login_key(a.login) in locks
        },
        role_labels=ROLE_LABELS,
        local_roles=LOCAL_ROLES,
        national_roles=NATIONAL_ROLES if ctx.who.national_admin else (),
        info=info,
        **form_context(values, errors),
    )


def form_context(values: dict[str, str], errors: dict[str, list[str]] | None) -> dict[str, Any]:
    """The account form as typed (or as recorded) and its errors by field."""
    return {
        "values": values,
        "errors": errors or {},
        "form_deps": {r.value: values.get(f"dep_{r.value}", "") for r in LOCAL_ROLES},
        "form_nationals": {r.value for r in NATIONAL_ROLES if values.get(f"role_{r.value}")},
    }


def recorded_values(account: AccountView) -> dict[str, str]:
    """An account's fields as its form shows them before any change."""
    values = {
        "nom": account.display_name,
        "telephone": spaced_number(account.phone) if account.phone else "",
        "email": account.email or "",
    }
    for role in LOCAL_ROLES:
        values[f"dep_{role.value}"] = account.departements(role)
    for role in NATIONAL_ROLES:
        values[f"role_{role.value}"] = "1" if account.holds(role) else ""
    return values


def typed_values(form: FormData) -> dict[str, str]:
    return {k: field(form, k) for k in VALUE_FIELDS}


async def account_page(
    ctx: Ctx,
    account: AccountView,
    *,
    status_code: int = 200,
    info: str = "",
    errors: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    locks = await ctx.web.db(throttle.locks, ctx.deps.records.engine, ctx.deps.clock())
    sessions = await ctx.web.db(open_sessions, ctx.deps.records, ctx.deps.clock())
    return ctx.render(
        "account.html",
        status_code=status_code,
        account=account,
        sessions=sessions.get(account.login, 0),
        locked_until=locks.get(throttle.login_key(account.login)),
        role_labels=ROLE_LABELS,
        local_roles=LOCAL_ROLES,
        national_roles=NATIONAL_ROLES if ctx.who.national_admin else (),
        myself=account.login == ctx.who.login,
        info=info,
        **form_context(values if values is not None else recorded_values(account), errors),
    )


async def managed_account(ctx: Ctx, login: str) -> AccountView:
    """The account if it exists and the admin may manage it; else raises the 404 or 403."""
    account = await ctx.web.db(get_account, ctx.deps.records, login)
    if account is None:
        raise ctx.error(404, "Compte introuvable", f"Aucun compte « {login} ».")
    if not within_scope(ctx.who, account.grants):
        raise ctx.forbidden(scope_refusal(ctx.who))
    return account


@dataclass(slots=True)
class AccountPost:
    """An admin's checked form about an account they may manage."""

    ctx: Ctx
    posted: Posted
    account: AccountView


async def account_post(posted: AdminForm, login: str) -> AccountPost:
    """A dependency: the form and the account it is about (else the refusal)."""
    return AccountPost(posted.ctx, posted, await managed_account(posted.ctx, login))


AccountForm = Annotated[AccountPost, Depends(account_post)]


# --------------------------------------------------------------------------- routes


@router.get("/admin/comptes", response_class=HTMLResponse)
async def accounts_list(ctx: AdminCtx, info: str = "") -> Response:
    return await accounts_page(ctx, info=info)


@router.post("/admin/comptes", response_class=HTMLResponse)
async def account_create(posted: AdminForm) -> Response:
    ctx, form = posted.ctx, posted.form
    grants = checked_grants(ctx, form)
    login = field(form, "login")
    try:
        await ctx.web.db(
            create_account,
            ctx.deps.records,
            login,
            text(form, "mot_de_passe") or "",
            grants,
            display_name=field(form, "nom") or None,
            phone=field(form, "telephone") or None,
            email=field(form, "email") or None,
            by=ctx.who.login,
            must_change_password=bool(field(form, "changer")),
        )
    except AccountError as exc:
        return await accounts_page(
            ctx, status_code=422, errors=exc.errors, values=typed_values(form)
        )
    return see_other("/admin/comptes", f"Compte « {login} » créé.")


@router.post("/admin/comptes/fermer-sessions", response_class=HTMLResponse)
async def accounts_end_sessions(posted: AdminForm) -> Response:
    """« Fermer toutes les sessions »: every account the admin manages signs in again on
    every instance (the admin's own current session excepted)."""
    ctx = posted.ctx
    every = await ctx.web.db(list_accounts, ctx.deps.records)
    logins = [a.login for a in every if within_scope(ctx.who, a.grants)]
    ended = await ctx.web.db(end_sessions, ctx.deps.records, logins, keep=ctx.session.sid)
    await ctx.audit("end_sessions", "accounts", None, comptes=len(logins), sessions=ended)
    return see_other(
        "/admin/comptes",
        f"Sessions fermées : {ended}. Les personnes concernées doivent se reconnecter "
        "(votre session en cours est conservée).",
    )


@router.get("/admin/comptes/{login}", response_class=HTMLResponse)
async def account_detail(ctx: AdminCtx, login: str, info: str = "") -> Response:
    return await account_page(ctx, await managed_account(ctx, login), info=info)


@router.post("/admin/comptes/{login}/roles", response_class=HTMLResponse)
async def account_update(posted: AccountForm) -> Response:
    ctx, form, account = posted.ctx, posted.posted.form, posted.account
    grants = checked_grants(ctx, form)
    if account.login == ctx.who.login and set(grants) != set(account.grants):
        raise ctx.forbidden(
            "Vous ne pouvez pas modifier vos propres rôles : demandez-le à un autre administrateur."
        )
    try:
        await ctx.web.db(
            update_account,
            ctx.deps.records,
            account.login,
            grants,
            display_name=field(form, "nom"),
            phone=field(form, "telephone") or None,
            email=field(form, "email") or None,
            by=ctx.who.login,
        )
    except AccountError as exc:
        return await account_page(
            ctx, account, status_code=422, errors=exc.errors, values=typed_values(form)
        )
    return see_other(account_url(account.login), "Compte modifié.")


@router.post("/admin/comptes/{login}/activation", response_class=HTMLResponse)
async def account_activation(posted: AccountForm) -> Response:
    ctx, account = posted.ctx, posted.account
    active = posted.posted.field("actif") == "1"
    if account.login == ctx.who.login and not active:
        raise ctx.forbidden("Vous ne pouvez pas désactiver votre propre compte.")
    await ctx.web.db(set_active, ctx.deps.records, account.login, active, ctx.who.login)
    return see_other(
        account_url(account.login), "Compte réactivé." if active else "Compte désactivé."
    )


@router.post("/admin/comptes/{login}/mot-de-passe", response_class=HTMLResponse)
async def account_password(posted: AccountForm) -> Response:
    ctx, form, account = posted.ctx, posted.posted.form, posted.account
    temporary = bool(field(form, "changer"))
    try:
        await ctx.web.db(
            set_password,
            ctx.deps.records,
            account.login,
            text(form, "mot_de_passe") or "",
            ctx.who.login,
            must_change=temporary,
        )
    except AccountError as exc:
        return await account_page(ctx, account, status_code=422, errors=exc.errors)
    flash = "Mot de passe remplacé" + (
        " : à changer à la prochaine connexion." if temporary else "."
    )
    return see_other(account_url(account.login), flash)


@router.post("/admin/comptes/{login}/deblocage", response_class=HTMLResponse)
async def account_unlock(posted: AccountForm) -> Response:
    ctx, account = posted.ctx, posted.account
    key = throttle.login_key(account.login)
    had = await ctx.web.db(throttle.clear, ctx.deps.records.engine, key)
    await ctx.audit("unlock", "account", account.login, bloque=had)
    return see_other(account_url(account.login), "Compte débloqué.")


@router.post("/admin/comptes/{login}/fermer-sessions", response_class=HTMLResponse)
async def account_end_sessions(posted: AccountForm) -> Response:
    """« Fermer les sessions » of one account, on every instance (for the admin's own
    account, all but the current session)."""
    ctx, account = posted.ctx, posted.account
    keep = ctx.session.sid if account.login == ctx.who.login else None
    ended = await ctx.web.db(end_sessions, ctx.deps.records, [account.login], keep=keep)
    await ctx.audit("end_sessions", "account", account.login, sessions=ended)
    return see_other(
        account_url(account.login),
        f"Sessions fermées : {ended}. La personne doit se reconnecter.",
    )
