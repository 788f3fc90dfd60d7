"""Signing in and out, the failed sign-in limits, one's own password, the home redirect."""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ivr.records import tickets
from ivr.records.models import AccountRole
from ivr.runtime.queries import Presence
from ivr.web import throttle
from ivr.web.accounts import (
    AccountError,
    Principal,
    authenticate,
    change_own_password,
    close_session,
    load_principal,
    record_sign_in,
)
from ivr.web.formatting import spaced_number
from ivr.web.routes.checks import (
    EVERYONE,
    AnonymousPostDep,
    AnyoneCtx,
    PasswordCtx,
    PasswordForm,
    WebDep,
)
from ivr.web.routes.common import (
    COOKIE,
    PASSWORD_PAGE,
    ConsoleRoute,
    SignInRequiredError,
    Web,
    field,
    home_of,
    see_other,
    text,
)
from routing.phone import InvalidPhoneNumberError, normalize_number

log = logging.getLogger(__name__)

router = APIRouter(route_class=ConsoleRoute)


@router.get("/", include_in_schema=False)
async def front_door(web: WebDep, request: Request) -> Response:
    """The site's address: a signed-out person is sent to sign in, a signed-in one to the
    home page of their role (a temporary password is changed first)."""
    try:
        ctx = await web.authorize(request, EVERYONE)
    except SignInRequiredError:
        return see_other("/connexion")
    return see_other(home_of(ctx.who))


WRONG = "Identifiant ou mot de passe incorrect."


@router.get("/connexion", response_class=HTMLResponse)
async def login_form(web: WebDep, request: Request, suite: str = "") -> Response:
    return web.sign_in_page(request, 200, next_url=suite)


@router.post("/connexion", response_class=HTMLResponse)
async def login(posted: AnonymousPostDep) -> Response:
    web, request, form = posted.web, posted.request, posted.form
    login_name, password = field(form, "login"), text(form, "password")
    next_url = field(form, "suite")
    if not login_name or password is None:
        return web.sign_in_page(request, 401, WRONG, next_url, login=login_name, error=True)
    address = request.client.host if request.client else None
    keys = [throttle.login_key(login_name), throttle.address_key(address)]
    now = web.deps.clock()
    lock = await web.db(throttle.active_lock, web.deps.records.engine, keys, now)
    if lock is not None:
        await web.audit(
            login_name[:128],
            "login_refused",
            "session",
            None,
            motif=lock.kind,
            adresse=address,
            jusqu_a=lock.until.isoformat(),
        )
        return throttled(web, request, lock, now, next_url, login_name)
    who = await web.db(authenticate, web.deps.records, login_name, password)
    if who is None:
        return await refused(web, request, login_name, keys, address, now, next_url)
    await web.db(throttle.clear, web.deps.records.engine, keys[0])
    await web.db(record_sign_in, web.deps.records, who.login, now)
    await web.audit(who.login, "login", "session", None, adresse=address)
    previous = web.read_session(request)
    if previous is not None and previous.sid:  # signing in again: the old session ends
        await web.db(close_session, web.deps.records, previous.sid)
    flash = await post_at_sign_in(web, who, field(form, "poste"))
    if who.must_change_password:
        next_url = PASSWORD_PAGE
    response = see_other(safe_next(next_url) or home_of(who), flash)
    web.set_cookie(response, await web.signed_in(who))
    return response


async def post_at_sign_in(web: Web, who: Principal, typed: str) -> str | None:
    """A national support agent's post typed at sign-in: they work on it, available (the
    notice their home page shows; None when nothing was typed or the role has no post)."""
    if not typed or not who.has(AccountRole.SUPPORT, AccountRole.ADMIN_NATIONAL):
        return None
    try:
        phone = normalize_number(typed)
    except (InvalidPhoneNumberError, ValueError):
        return "Poste non retenu : le numéro saisi n'est pas un numéro de téléphone valide."
    await web.db(tickets.set_agent, web.deps.records, who.login, phone, "available")
    await web.deps.calls.set_support_presence(who.login, phone, Presence.AVAILABLE)
    return f"Vous êtes disponible sur le poste {spaced_number(phone)}."


def safe_next(next_url: str) -> str:
    """``next_url`` when it is a path of this site (never another host), else empty."""
    parts = urlsplit(next_url)
    if next_url.startswith("/") and not parts.netloc and not next_url.startswith("//"):
        return next_url
    return ""


async def refused(
    web: Web,
    request: Request,
    login_name: str,
    keys: list[str],
    address: str | None,
    now: datetime,
    next_url: str,
) -> Response:
    """A wrong login or password: counted for the login and for the address (the second
    lock, or the first, may start now)."""
    actor = login_name[:128]
    await web.audit(actor, "login_failed", "session", None, adresse=address)
    policy, engine = web.deps.throttle, web.deps.records.engine
    started = [
        await web.db(throttle.record_failure, engine, keys[0], policy.login_failures, policy, now),
        await web.db(
            throttle.record_failure, engine, keys[1], policy.address_failures, policy, now
        ),
    ]
    for new_lock in (found for found in started if found is not None):
        await web.audit(
            actor,
            "lockout",
            new_lock.kind,
            actor if new_lock.kind == "login" else address,
            jusqu_a=new_lock.until.isoformat(),
            adresse=address,
        )
    locked = next((found for found in started if found is not None), None)
    if locked is not None:
        return throttled(web, request, locked, now, next_url, login_name)
    return web.sign_in_page(request, 401, WRONG, next_url, login=login_name, error=True)


def throttled(
    web: Web, request: Request, lock: throttle.Lock, now: datetime, next_url: str, login: str
) -> Response:
    """429: too many failures for this login or from this address (the same words for a
    login that exists and one that does not)."""
    minutes = max(1, -(-int((lock.until - now).total_seconds()) // 60))
    wait = f"{minutes} minute{'s' if minutes > 1 else ''}"
    if lock.kind == "login":
        message = (
            "Trop de tentatives de connexion infructueuses pour cet identifiant. "
            f"Réessayez dans {wait}, ou demandez à un administrateur de débloquer le compte."
        )
    else:
        message = (
            "Trop de tentatives de connexion infructueuses depuis cette adresse. "
            f"Réessayez dans {wait}."
        )
    response = web.sign_in_page(request, 429, message, next_url, login=login, error=True)
    response.headers["Retry-After"] = str(minutes * 60)
    return response


@router.post("/deconnexion")
async def logout(posted: AnonymousPostDep) -> Response:
    web, session = posted.web, posted.session
    if session.sid:  # ended for good: the cookie, kept or copied, opens nothing any more
        await web.db(close_session, web.deps.records, session.sid)
    if session.login:
        await web.audit(session.login, "logout", "session", None)
        await offline_at_sign_out(web, session.login)
    response = web.sign_in_page(posted.request, 200, "Vous êtes déconnecté.")
    response.delete_cookie(COOKIE, path="/")
    web.set_cookie(response, web.anonymous())
    return response


async def offline_at_sign_out(web: Web, login: str) -> None:
    """A national support agent who signs out is no longer rung: « déconnecté » on their
    post (the row keeps it, audited ``presence``) and in the live state the tier-2 hunt
    reads. Nothing for who never used the support page. A failure is logged: signing out
    goes on."""
    try:
        row = await web.db(tickets.agent, web.deps.records, login)
        if row is None:
            return
        if row.presence != "offline":
            await web.db(tickets.set_agent, web.deps.records, login, row.phone, "offline")
        await web.deps.calls.set_support_presence(login, row.phone, Presence.OFFLINE)
    except Exception:
        log.exception("sign-out: support presence of %s not set offline", login)


# --------------------------------------------------------------------------- own password


@router.get(PASSWORD_PAGE, response_class=HTMLResponse)
async def password_form(ctx: PasswordCtx, info: str = "") -> Response:
    return ctx.render("password.html", info=info, error=None)


@router.post(PASSWORD_PAGE, response_class=HTMLResponse)
async def change_password(posted: PasswordForm) -> Response:
    ctx, form = posted.ctx, posted.form
    old, new, again = (text(form, n) for n in ("ancien", "nouveau", "confirmation"))
    error = None
    if old is None or new is None or again is None:
        error = "Remplissez les trois champs."
    elif new != again:
        error = "Les deux saisies du nouveau mot de passe diffèrent."
    else:
        try:
            await ctx.web.db(change_own_password, ctx.deps.records, ctx.who.login, old, new)
        except AccountError as exc:
            error = str(exc)
    if error is not None:
        return ctx.render("password.html", status_code=422, error=error)
    who: Principal | None = await ctx.web.db(load_principal, ctx.deps.records, ctx.who.login)
    assert who is not None
    response = see_other(home_of(who), "Votre mot de passe est modifié.")
    # The change ended every session of the account, this one too: a new one for here.
    ctx.web.set_cookie(response, await ctx.web.signed_in(who))
    return response


@router.get("/accueil")
async def home(ctx: AnyoneCtx) -> Response:
    return see_other(home_of(ctx.who))
