"""The web consoles (French pages): sign-in, listener console, national support, referents,
admin. Server-rendered Jinja2; a few lines of vanilla JS poll two small JSON endpoints.

Every endpoint checks the signed session and the person's role; every form carries the
session's CSRF token; every read of a caller's number or a household is audited.
Database work runs in worker threads (``RecordStore`` and ``Outbox`` are synchronous).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import inspect
import io
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from ivr.flow.common import MENU_PROMPTS
from ivr.flow.engine import CallState, Phase
from ivr.records.models import AccountRole, Callback, CallbackStatus, EscalationStatus
from ivr.runtime.commands import decode_media
from ivr.runtime.live_state import Presence
from ivr.runtime.runtime import MediaCommand, ringing_phones
from ivr.web import queries, throttle
from ivr.web.accounts import (
    LOCAL_ROLES,
    NATIONAL_ROLES,
    ROLE_LABELS,
    AccountError,
    AccountView,
    Grant,
    Principal,
    authenticate,
    change_own_password,
    create_account,
    get_account,
    list_accounts,
    load_principal,
    record_sign_in,
    set_active,
    set_password,
    update_account,
    within_scope,
)
from ivr.web.callbacks import CallbackError
from ivr.web.deps import ConsoleDeps
from ivr.web.formatting import (
    CALLBACK_LABELS,
    ESCALATION_LABELS,
    LINE_LABELS,
    OUTCOME_LABELS,
    PRESENCE_LABELS,
    duration,
    local_time,
    spaced_number,
)
from ivr.web.recordings import (
    RecordingNotFoundError,
    RecordingRef,
    RecordingSourceError,
    RecordingStream,
)
from ivr.web.security import Session, SessionCodec, same_token
from routing.config import RoutingConfig
from routing.index import RouteIndex
from routing.loader import ConfigError, ConfigIssue, parse_config
from sisiao_link.lookup import LookupState, UnknownLookupError
from sisiao_link.port import Composition, NouvelleDemandeUrgence, NouvellePersonne, Sexe

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
COOKIE = "ivr_session"
MAX_LOOKUPS_REMEMBERED = 2000
MAX_CONFIG_BYTES = 2_000_000

LISTENER = (AccountRole.LISTENER,)
REFERENT = (AccountRole.REFERENT,)
SUPPORT = (AccountRole.SUPPORT, AccountRole.ADMIN_NATIONAL)
ADMINS = (AccountRole.ADMIN_NATIONAL, AccountRole.ADMIN_DEPARTEMENT)
EVERYONE = tuple(AccountRole)
PASSWORD_PAGE = "/mot-de-passe"

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(slots=True)
class Ctx:
    """One request's signed-in person and session."""

    request: Request
    who: Principal
    session: Session


def build_console_router(deps: ConsoleDeps) -> APIRouter:
    """The consoles' routes; mount the static files at ``deps.static_url`` beside it."""
    router = APIRouter()
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.filters["heure"] = lambda v: local_time(v, deps.timezone)
    env.filters["duree"] = duration
    env.filters["numero"] = spaced_number
    codec = SessionCodec(deps.session_secret)
    lookup_owners: OrderedDict[str, tuple[str, str | None]] = OrderedDict()

    async def db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    def audit(who: Principal, action: str, kind: str, obj: str | None, **detail: Any) -> None:
        deps.records.audit(who.login, action, kind, obj, detail or None)

    # ------------------------------------------------------------------ sessions

    def set_cookie(response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            codec.encode(session),
            max_age=int(deps.session_lifetime.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=deps.secure_cookies,
            path="/",
        )

    def read_session(request: Request) -> Session | None:
        return codec.decode(request.cookies.get(COOKIE), deps.clock())

    def render(
        request: Request,
        name: str,
        session: Session,
        who: Principal | None = None,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        context.update(
            request=request,
            who=who,
            csrf=session.csrf,
            banner=safe_banner(),
            static=deps.static_url.rstrip("/"),
            roles=AccountRole,
        )
        response = templates.TemplateResponse(request, name, context, status_code=status_code)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    def safe_banner() -> str | None:
        try:
            return deps.banner()
        except Exception:  # a database hiccup must not take the console down
            return "État de SI SIAO inconnu (le suivi des incidents ne répond pas)."

    def sign_in_page(
        request: Request, status_code: int, message: str | None = None, next_url: str = ""
    ) -> HTMLResponse:
        session = read_session(request)
        if session is None or session.login is not None:
            session = Session.anonymous(deps.clock(), deps.session_lifetime)
        response = render(
            request,
            "login.html",
            session,
            status_code=status_code,
            message=message,
            next_url=next_url,
        )
        set_cookie(response, session)
        return response

    async def authorize(
        request: Request,
        roles: tuple[AccountRole, ...],
        *,
        json: bool = False,
        pending_password: bool = False,
    ) -> Ctx | Response:
        """The signed-in person if they hold one of ``roles``; else a 401 or 403 page.

        A session signed in with an older password counts as signed out. A person who must
        change a temporary password is sent to that page first (unless
        ``pending_password``: the page itself).
        """
        session = read_session(request)
        who = (
            await db(load_principal, deps.records, session.login)
            if session and session.login
            else None
        )
        if who is not None and session is not None and session.stamp != who.stamp:
            who = None
        if session is None or who is None:
            if json:
                return JSONResponse({"detail": "Connexion requise."}, status_code=401)
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return sign_in_page(request, 401, "Connectez-vous pour accéder à cette page.", target)
        if who.must_change_password and not pending_password:
            if json:
                return JSONResponse({"detail": "Changez d'abord votre mot de passe."}, 403)
            return see_other(PASSWORD_PAGE)
        if not who.has(*roles):
            if json:
                return JSONResponse({"detail": "Accès refusé."}, status_code=403)
            return render(request, "forbidden.html", session, who, status_code=403)
        return Ctx(request, who, session)

    async def checked_form(ctx: Ctx) -> FormData | Response:
        """The posted form, or a 403 page when its CSRF token is missing or wrong."""
        form = await ctx.request.form()
        token = form.get("csrf")
        if not same_token(token if isinstance(token, str) else None, ctx.session.csrf):
            return forbidden_csrf(ctx.request, ctx.session, ctx.who)
        return form

    def forbidden(ctx: Ctx, reason: str | None = None) -> HTMLResponse:
        return render(
            ctx.request, "forbidden.html", ctx.session, ctx.who, status_code=403, reason=reason
        )

    def error_page(ctx: Ctx, status_code: int, title: str, message: str) -> HTMLResponse:
        return render(
            ctx.request,
            "error.html",
            ctx.session,
            ctx.who,
            status_code=status_code,
            title=title,
            message=message,
        )

    def forbidden_csrf(request: Request, session: Session, who: Principal | None) -> HTMLResponse:
        return render(
            request,
            "forbidden.html",
            session,
            who,
            status_code=403,
            reason="Formulaire expiré ou invalide : rechargez la page et recommencez.",
        )

    def home_of(who: Principal) -> str:
        if who.has(AccountRole.LISTENER):
            return "/console"
        if who.has(AccountRole.SUPPORT):
            return "/support"
        if who.has(AccountRole.REFERENT):
            return "/referent"
        return "/admin"

    def field(form: FormData, name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    def see_other(url: str, flash: str | None = None) -> RedirectResponse:
        if flash:
            url += ("&" if "?" in url else "?") + "info=" + quote(flash)
        return RedirectResponse(url, status_code=303)

    # ------------------------------------------------------------------ sign-in

    @router.get("/connexion", response_class=HTMLResponse)
    async def login_form(request: Request, suite: str = "") -> Response:
        return sign_in_page(request, 200, next_url=suite)

    @router.post("/connexion", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        session = read_session(request)
        form = await request.form()
        token = form.get("csrf")
        if session is None or not same_token(
            token if isinstance(token, str) else None, session.csrf
        ):
            return forbidden_csrf(
                request, session or Session.anonymous(deps.clock(), deps.session_lifetime), None
            )
        login_name, password = field(form, "login"), form.get("password")
        next_url = field(form, "suite")
        if not login_name or not isinstance(password, str):
            return sign_in_page(request, 401, "Identifiant ou mot de passe incorrect.", next_url)
        address = request.client.host if request.client else None
        keys = [throttle.login_key(login_name), throttle.address_key(address)]
        engine = deps.records.engine
        now = deps.clock()
        lock = await db(throttle.active_lock, engine, keys, now)
        if lock is not None:
            await db(
                deps.records.audit,
                login_name[:128],
                "login_refused",
                "session",
                None,
                {"motif": lock.kind, "adresse": address, "jusqu_a": lock.until.isoformat()},
            )
            return throttled(request, lock, now, next_url)
        who = await db(authenticate, deps.records, login_name, password)
        if who is None:
            await db(
                deps.records.audit,
                login_name[:128],
                "login_failed",
                "session",
                None,
                {"adresse": address},
            )
            policy = deps.throttle
            started = [
                await db(
                    throttle.record_failure, engine, keys[0], policy.login_failures, policy, now
                ),
                await db(
                    throttle.record_failure, engine, keys[1], policy.address_failures, policy, now
                ),
            ]
            for new_lock in (found for found in started if found is not None):
                await db(
                    deps.records.audit,
                    login_name[:128],
                    "lockout",
                    new_lock.kind,
                    login_name[:128] if new_lock.kind == "login" else address,
                    {"jusqu_a": new_lock.until.isoformat(), "adresse": address},
                )
            locked = next((found for found in started if found is not None), None)
            if locked is not None:
                return throttled(request, locked, now, next_url)
            return sign_in_page(request, 401, "Identifiant ou mot de passe incorrect.", next_url)
        await db(throttle.clear, engine, keys[0])
        await db(record_sign_in, deps.records, who.login, now)
        await db(deps.records.audit, who.login, "login", "session", None, {"adresse": address})
        if who.must_change_password:
            next_url = PASSWORD_PAGE
        parts = urlsplit(next_url)
        safe_next = (
            next_url
            if next_url.startswith("/") and not parts.netloc and not next_url.startswith("//")
            else ""
        )
        response = see_other(safe_next or home_of(who))
        set_cookie(
            response,
            Session.signed_in(who.login, deps.clock(), deps.session_lifetime, who.stamp),
        )
        return response

    def throttled(request: Request, lock: throttle.Lock, now: datetime, next_url: str) -> Response:
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
        response = sign_in_page(request, 429, message, next_url)
        response.headers["Retry-After"] = str(minutes * 60)
        return response

    # ------------------------------------------------------------------ own password

    @router.get(PASSWORD_PAGE, response_class=HTMLResponse)
    async def password_form(request: Request, info: str = "") -> Response:
        ctx = await authorize(request, EVERYONE, pending_password=True)
        if not isinstance(ctx, Ctx):
            return ctx
        return render(request, "password.html", ctx.session, ctx.who, info=info, error=None)

    @router.post(PASSWORD_PAGE, response_class=HTMLResponse)
    async def change_password(request: Request) -> Response:
        ctx = await authorize(request, EVERYONE, pending_password=True)
        if not isinstance(ctx, Ctx):
            return ctx
        form = await checked_form(ctx)
        if not isinstance(form, FormData):
            return form
        old, new, again = (form.get(n) for n in ("ancien", "nouveau", "confirmation"))
        error = None
        if not all(isinstance(v, str) for v in (old, new, again)):
            error = "Remplissez les trois champs."
        elif new != again:
            error = "Les deux saisies du nouveau mot de passe diffèrent."
        else:
            try:
                await db(change_own_password, deps.records, ctx.who.login, str(old), str(new))
            except AccountError as exc:
                error = str(exc)
        if error is not None:
            return render(
                request, "password.html", ctx.session, ctx.who, status_code=422, error=error
            )
        who = await db(load_principal, deps.records, ctx.who.login)
        assert who is not None
        response = see_other(home_of(who), "Votre mot de passe est modifié.")
        set_cookie(
            response, Session.signed_in(who.login, deps.clock(), deps.session_lifetime, who.stamp)
        )
        return response

    @router.post("/deconnexion")
    async def logout(request: Request) -> Response:
        session = read_session(request)
        form = await request.form()
        token = form.get("csrf")
        if session is None or not same_token(
            token if isinstance(token, str) else None, session.csrf
        ):
            return forbidden_csrf(
                request, session or Session.anonymous(deps.clock(), deps.session_lifetime), None
            )
        if session.login:
            await db(deps.records.audit, session.login, "logout", "session")
        response = sign_in_page(request, 200, "Vous êtes déconnecté.")
        response.delete_cookie(COOKIE, path="/")
        set_cookie(response, Session.anonymous(deps.clock(), deps.session_lifetime))
        return response

    # ------------------------------------------------------------------ listener console

    async def listener_post(request: Request) -> tuple[Ctx, FormData, str] | Response:
        """A listener's checked form and the département it acts for; else the refusal."""
        ctx = await authorize(request, LISTENER)
        if not isinstance(ctx, Ctx):
            return ctx
        form = await checked_form(ctx)
        if not isinstance(form, FormData):
            return form
        departement = listener_dep(ctx.who, field(form, "dep"))
        if departement is None:
            return render(request, "forbidden.html", ctx.session, ctx.who, status_code=403)
        return ctx, form, departement

    def listener_dep(who: Principal, dep: str | None) -> str | None:
        mine = who.departements(AccountRole.LISTENER)
        if dep is None or dep == "":
            return mine[0] if mine else None
        return dep if dep in mine else None

    def status_of(
        phone: str, state: CallState, listener: str | None, pending: Sequence[MediaCommand]
    ) -> str | None:
        """How the call stands for this listener: connected, ringing, or not theirs."""
        if listener == phone or state.summary.connected_to == phone:
            return "en communication"
        if phone in ringing_phones(state, pending):
            return "sonne"
        return None

    async def call_of(phone: str | None, dep: str) -> tuple[CallState, str] | None:
        """The call ringing or connected to this listener, and its state: among the calls
        this instance holds, else through the registry's listener index (a call another
        instance holds)."""
        if not phone:
            return None
        for call in list(deps.runtime.calls.values()):
            if call.state.departement != dep:
                continue
            status = status_of(phone, call.state, call.listener, call.pending)
            if status is not None:
                return call.state, status
        registry = deps.runtime.registry
        if registry is None:
            return None
        snapshot = await registry.listener_call(phone)
        if snapshot is None:
            return None
        try:
            state = CallState.from_dict(snapshot.state)
            pending = [decode_media(raw) for raw in snapshot.pending]
        except (KeyError, TypeError, ValueError):  # a snapshot from another release
            log.warning("snapshot of call %s not readable here", snapshot.call_id)
            return None
        if state.departement != dep or deps.runtime.flow.finished(state):
            return None
        status = status_of(phone, state, snapshot.listener, pending)
        return (state, status) if status is not None else None

    async def queue_of(dep: str) -> list[dict[str, Any]]:
        now = deps.clock()
        waiting = await deps.runtime.live.waiting_calls(dep)
        rows = []
        for position, call_id in enumerate(waiting, start=1):
            started: datetime | None = None
            local = deps.runtime.calls.get(call_id)
            if local is not None:
                started = local.state.started_at
            elif deps.runtime.registry is not None:
                snapshot = await deps.runtime.registry.load_call(call_id)
                if snapshot is not None and snapshot.state.get("started_at"):
                    started = datetime.fromisoformat(snapshot.state["started_at"])
            wait = (now - started).total_seconds() if started else None
            rows.append(
                {
                    "position": position,
                    "wait_s": wait,
                    "wait": duration(wait) if wait is not None else "inconnue",
                }
            )
        return rows

    async def presence_of(dep: str, phone: str | None) -> Presence:
        if not phone:
            return Presence.OFFLINE
        for state in await deps.runtime.live.listeners(dep):
            if state.number == phone:
                return state.presence
        return Presence.OFFLINE

    def how_found(config: RoutingConfig, called: str, prompts: list[str]) -> str:
        route = RouteIndex(config).route(called)
        if route is not None and route.departement is not None:
            return "par le numéro 115 composé (réseau)"
        if MENU_PROMPTS[Phase.DEPT_MENU][0] in prompts:
            return "par la réponse de l'appelant au menu des départements"
        return "par géolocalisation (numéro de l'appelant ou position AML)"

    def call_context(who: Principal, state: CallState, status: str) -> dict[str, Any]:
        """The current call's context for the listener, audited as a read of personal data."""
        now = deps.clock()
        config = deps.config()
        caller = state.caller
        dep = state.departement or ""
        position = None
        if caller:
            report = deps.positions.latest(caller, now)
            if report is not None:
                answer = deps.locator.from_aml_report(report, now)
                position = {
                    "lat": f"{report.lat:.5f}",
                    "lon": f"{report.lon:.5f}",
                    "accuracy": f"{report.accuracy_m:.0f} m"
                    if report.accuracy_m is not None
                    else "inconnue",
                    "age": duration(report.age_seconds(now)),
                    "method": report.method_label,
                    "departement": answer.departement,
                    "commune": answer.commune_name,
                    "detail": answer.detail,
                }
        earlier = queries.calls_from(deps.records, caller, exclude=state.call_id) if caller else []
        flag = queries.flag_of(deps.records, caller) if caller else None
        dep_config = config.departement(dep)
        audit(
            who,
            "read",
            "call",
            state.call_id,
            champs=["numero", "position", "appels_precedents", "signalement"],
        )
        return {
            "call_id": state.call_id,
            "status": status,
            "caller": caller,
            "departement": dep,
            "departement_name": dep_config.name if dep_config else dep,
            "found_by": how_found(config, state.called, state.summary.prompts),
            "since": duration((now - state.started_at).total_seconds()) if state.started_at else "",
            "position": position,
            "earlier": earlier,
            "flag": flag,
        }

    @router.get("/console", response_class=HTMLResponse)
    async def console(
        request: Request, dep: str | None = None, info: str = "", recherche: str = ""
    ) -> Response:
        ctx = await authorize(request, LISTENER)
        if not isinstance(ctx, Ctx):
            return ctx
        who = ctx.who
        departement = listener_dep(who, dep)
        if departement is None:
            return render(
                request,
                "forbidden.html",
                ctx.session,
                who,
                status_code=403,
                reason=f"Vous n'êtes pas écoutant du département {dep}.",
            )
        presence = await presence_of(departement, who.phone)
        queue = await queue_of(departement)
        found = await call_of(who.phone, departement)
        context = await db(call_context, who, *found) if found else None
        pending, done = await db(queries.callbacks_of, deps.records, departement)
        if pending or done:
            await db(
                audit, who, "read", "callback_list", departement, nombre=len(pending) + len(done)
            )
        demandes = await db(deps.outbox.list_for_user, who.login, 20)
        config = deps.config()
        dep_config = config.departement(departement)
        return render(
            request,
            "console.html",
            ctx.session,
            who,
            departement=departement,
            departement_name=dep_config.name if dep_config else departement,
            departements=who.departements(AccountRole.LISTENER),
            presence=presence,
            presence_label=PRESENCE_LABELS[presence],
            presences=[
                (p.value, PRESENCE_LABELS[p])
                for p in (Presence.AVAILABLE, Presence.PAUSED, Presence.OFFLINE)
            ],
            queue=queue,
            call=context,
            pending=pending,
            done=done,
            can_call_back=deps.callbacks is not None and bool(who.phone),
            callback_labels=CALLBACK_LABELS,
            outcome_labels=OUTCOME_LABELS,
            demandes=demandes,
            compositions=[c.value for c in Composition],
            info=info,
            lookup_id=recherche if recherche in lookup_owners else "",
        )

    @router.get("/console/etat.json")
    async def console_state(request: Request, dep: str | None = None) -> Response:
        """Queue and current call id, for the page's polling (no personal data)."""
        ctx = await authorize(request, LISTENER, json=True)
        if not isinstance(ctx, Ctx):
            return ctx
        departement = listener_dep(ctx.who, dep)
        if departement is None:
            return JSONResponse({"detail": "Accès refusé."}, status_code=403)
        presence = await presence_of(departement, ctx.who.phone)
        found = await call_of(ctx.who.phone, departement)
        return JSONResponse(
            {
                "presence": presence.value,
                "presence_label": PRESENCE_LABELS[presence],
                "queue": await queue_of(departement),
                "call_id": found[0].call_id if found else None,
                "call_status": found[1] if found else None,
                "banner": safe_banner(),
            },
            headers={"Cache-Control": "no-store"},
        )

    @router.post("/console/disponibilite")
    async def set_presence(request: Request) -> Response:
        posted = await listener_post(request)
        if isinstance(posted, Response):
            return posted
        ctx, form, departement = posted
        try:
            presence = Presence(field(form, "presence"))
        except ValueError:
            presence = Presence.BUSY
        if presence is Presence.BUSY or not ctx.who.phone:
            return see_other(f"/console?dep={departement}", "Disponibilité non modifiée.")
        await deps.runtime.set_listener_presence(departement, ctx.who.phone, presence)
        await db(
            deps.records.audit,
            ctx.who.login,
            "presence",
            "listener",
            departement,
            {"presence": presence.value},
        )
        return see_other(f"/console?dep={departement}", f"Vous êtes {PRESENCE_LABELS[presence]}.")

    @router.post("/console/sisiao/recherche")
    async def start_lookup(request: Request) -> Response:
        ctx = await authorize(request, LISTENER)
        if not isinstance(ctx, Ctx):
            return ctx
        form = await checked_form(ctx)
        if not isinstance(form, FormData):
            return form
        departement = listener_dep(ctx.who, field(form, "dep"))
        number = field(form, "telephone")
        if departement is None or not number:
            return see_other(
                f"/console?dep={departement or ''}", "Indiquez un numéro de téléphone."
            )
        lookup_id = deps.lookups.start_search_by_phone(number)
        lookup_owners[lookup_id] = (ctx.who.login, field(form, "call_id") or None)
        while len(lookup_owners) > MAX_LOOKUPS_REMEMBERED:
            lookup_owners.popitem(last=False)
        await db(
            deps.records.audit,
            ctx.who.login,
            "read",
            "sisiao_household_search",
            field(form, "call_id") or None,
            {"numero_fin": number[-2:]},
        )
        if request.headers.get("accept", "").startswith("application/json"):
            return JSONResponse(
                {"lookup_id": lookup_id, "url": f"/console/sisiao/recherche/{lookup_id}"}
            )
        return see_other(f"/console?dep={departement}&recherche={lookup_id}")

    @router.get("/console/sisiao/recherche/{lookup_id}")
    async def lookup_result(request: Request, lookup_id: str) -> Response:
        ctx = await authorize(request, LISTENER, json=True)
        if not isinstance(ctx, Ctx):
            return ctx
        owner = lookup_owners.get(lookup_id)
        if owner is None or owner[0] != ctx.who.login:
            return JSONResponse({"detail": "Recherche inconnue."}, status_code=404)
        try:
            result = deps.lookups.result(lookup_id)
        except UnknownLookupError:
            return JSONResponse({"detail": "Recherche inconnue."}, status_code=404)
        if result.state is LookupState.FOUND:
            await db(
                deps.records.audit,
                ctx.who.login,
                "read",
                "sisiao_household",
                owner[1],
                {"menages": [m.id for m in result.menages]},
            )
        return JSONResponse(
            {
                "state": result.state.value,
                "message": result.message,
                "reason": result.reason,
                "menages": [
                    {
                        "id": m.id,
                        "composition": m.composition.value,
                        "publics": [p.value for p in m.publics_specifiques],
                        "membres": [
                            {
                                "nom": p.nom,
                                "prenom": p.prenom,
                                "date_naissance": p.date_naissance.strftime("%d/%m/%Y")
                                if p.date_naissance
                                else None,
                            }
                            for p in m.membres
                        ],
                        "demandes_ouvertes": [d.id for d in m.demandes_ouvertes],
                    }
                    for m in result.menages
                ],
            },
            headers={"Cache-Control": "no-store"},
        )

    @router.post("/console/demandes")
    async def create_request(request: Request) -> Response:
        posted = await listener_post(request)
        if isinstance(posted, Response):
            return posted
        ctx, form, departement = posted
        back = f"/console?dep={departement}"
        menage_id = field(form, "menage_id")
        try:
            if menage_id:
                demande = NouvelleDemandeUrgence(
                    menage_id=menage_id,
                    departement=departement,
                    observations=field(form, "observations"),
                )
            else:
                birth = field(form, "date_naissance")
                sexe = field(form, "sexe")
                composition = field(form, "composition")
                demande = NouvelleDemandeUrgence(
                    nouvelle_personne=NouvellePersonne(
                        nom=field(form, "nom"),
                        prenom=field(form, "prenom"),
                        date_naissance=date.fromisoformat(birth) if birth else None,
                        sexe=Sexe(sexe) if sexe else None,
                        telephone=field(form, "telephone") or None,
                    ),
                    composition=Composition(composition) if composition else None,
                    departement=departement,
                    observations=field(form, "observations"),
                )
        except (ValidationError, ValueError):
            return see_other(
                back,
                "Demande incomplète : choisissez un ménage trouvé, "
                "ou indiquez au moins le nom et le prénom.",
            )
        call_id = field(form, "call_id") or None
        local_id = await db(deps.outbox.submit, demande, ctx.who.login, call_ref=call_id)
        await db(
            deps.records.audit,
            ctx.who.login,
            "create",
            "sisiao_demande",
            local_id,
            {"appel": call_id},
        )
        return see_other(back, "Demande d'urgence enregistrée : en attente d'envoi à SI SIAO.")

    async def listener_callback(
        request: Request, callback_id: int
    ) -> tuple[Ctx, Callback] | Response:
        """A listener's POST on a call-back of one of their départements (CSRF checked)."""
        ctx = await authorize(request, LISTENER)
        if not isinstance(ctx, Ctx):
            return ctx
        form = await checked_form(ctx)
        if not isinstance(form, FormData):
            return form
        found = await db(queries.callback, deps.records, callback_id)
        if found is None or found.departement not in ctx.who.departements(AccountRole.LISTENER):
            return render(request, "forbidden.html", ctx.session, ctx.who, status_code=403)
        return ctx, found

    @router.post("/console/rappels/{callback_id}")
    async def callback_done(request: Request, callback_id: int) -> Response:
        checked = await listener_callback(request, callback_id)
        if not isinstance(checked, tuple):
            return checked
        ctx, found = checked
        await db(deps.records.complete_callback, callback_id, ctx.who.login)
        return see_other(f"/console?dep={found.departement}", "Rappel noté comme fait.")

    @router.post("/console/rappels/{callback_id}/appeler")
    async def callback_place(request: Request, callback_id: int) -> Response:
        """Ring the listener's phone, then the person's, presenting the call-back number."""
        checked = await listener_callback(request, callback_id)
        if not isinstance(checked, tuple):
            return checked
        ctx, found = checked
        back = f"/console?dep={found.departement}"
        if found.status != CallbackStatus.REQUESTED.value:
            return see_other(back, "Ce rappel a déjà été traité.")
        if deps.callbacks is None:
            return see_other(
                back,
                "Aucune téléphonie n'est configurée pour lancer le rappel : "
                "composez le numéro depuis votre poste.",
            )
        if not ctx.who.phone:
            return see_other(
                back, "Votre compte n'a pas de numéro de poste : un administrateur doit l'ajouter."
            )
        if not found.number:
            return see_other(back, "Ce rappel n'a pas de numéro.")
        try:
            placed = await deps.callbacks.place(found.departement, ctx.who.phone, found.number)
        except CallbackError as exc:
            await db(audit, ctx.who, "fail", "callback", str(callback_id), raison=str(exc))
            return see_other(
                back,
                f"Le rappel n'a pas pu être lancé : {exc}. "
                "Réessayez, ou composez le numéro depuis votre poste.",
            )
        await db(audit, ctx.who, "place", "callback", str(callback_id), appel=placed)
        return see_other(
            back,
            "Rappel lancé : votre téléphone va sonner, puis celui de la personne "
            "(le 0 800 112 112 s'affiche chez elle). Marquez le rappel comme fait "
            "une fois l'échange terminé.",
        )

    @router.post("/console/signalements")
    async def flag(request: Request) -> Response:
        ctx = await authorize(request, LISTENER)
        if not isinstance(ctx, Ctx):
            return ctx
        form = await checked_form(ctx)
        if not isinstance(form, FormData):
            return form
        departement = listener_dep(ctx.who, field(form, "dep"))
        number, reason = field(form, "numero"), field(form, "motif")
        if departement is None:
            return render(request, "forbidden.html", ctx.session, ctx.who, status_code=403)
        if not number or not reason:
            return see_other(
                f"/console?dep={departement}",
                "Pour signaler un numéro, indiquez le numéro et le motif.",
            )
        await db(deps.records.flag_number, number, reason, ctx.who.login, departement)
        return see_other(f"/console?dep={departement}", "Numéro signalé.")

    # ------------------------------------------------------------------ referents (tier 1)

    def reasons(config: RoutingConfig) -> dict[str, str]:
        return {
            r.code: f"{t.label} — {r.label} (niveau {r.level})"
            for t in config.national.nomenclature
            for r in t.reasons
        }

    @router.get("/referent", response_class=HTMLResponse)
    async def referent_page(request: Request, info: str = "") -> Response:
        ctx = await authorize(request, REFERENT)
        if not isinstance(ctx, Ctx):
            return ctx
        mine = ctx.who.departements(AccountRole.REFERENT)
        tickets = await db(queries.escalations, deps.records, departements=mine)
        return render(
            request,
            "referent.html",
            ctx.session,
            ctx.who,
            departements=mine,
            reasons=reasons(deps.config()),
            tickets=tickets,
            status_labels=ESCALATION_LABELS,
            info=info,
        )

    @router.post("/referent/escalades")
    async def escalate(request: Request) -> Response:
        ctx = await authorize(request, REFERENT)
        if not isinstance(ctx, Ctx):
            return ctx
        form = await checked_form(ctx)
        if not isinstance(form, FormData):
            return form
        departement, reason = field(form, "dep"), field(form, "motif")
        if departement not in ctx.who.departements(AccountRole.REFERENT):
            return render(request, "forbidden.html", ctx.session, ctx.who, status_code=403)
        if reason not in reasons(deps.config()):
            return see_other("/referent", "Choisissez un motif de la nomenclature.")
        await db(
            deps.records.escalate,
            reason_code=reason,
            by=ctx.who.login,
            note=field(form, "note"),
            call_id=field(form, "call_id") or None,
            departement=departement,
        )
        return see_other("/referent", "Escalade transmise au support national.")

    # ------------------------------------------------------------------ national support (tier 2)

    @router.get("/support", response_class=HTMLResponse)
    async def support_page(request: Request, statut: str = "", info: str = "") -> Response:
        ctx = await authorize(request, SUPPORT)
        if not isinstance(ctx, Ctx):
            return ctx
        status = statut if statut in ESCALATION_LABELS else ""
        tickets = await db(queries.escalations, deps.records, status=status or None)
        call_ids = [t.call_id for t in tickets if t.call_id]
        callers = await db(queries.callers_of, deps.records, call_ids)
        if callers:
            await db(
                deps.records.audit,
                ctx.who.login,
                "read",
                "escalation_callers",
                None,
                {"appels": sorted(callers)},
            )
        return render(
            request,
            "support.html",
            ctx.session,
            ctx.who,
            tickets=tickets,
            callers=callers,
            reasons=reasons(deps.config()),
            status_labels=ESCALATION_LABELS,
            statut=status,
            info=info,
        )

    @router.post("/support/escalades/{escalation_id}")
    async def escalation_status(request: Request, escalation_id: int) -> Response:
        ctx = await authorize(request, SUPPORT)
        if not isinstance(ctx, Ctx):
            return ctx
        form = await checked_form(ctx)
        if not isinstance(form, FormData):
            return form
        try:
            status = EscalationStatus(field(form, "statut"))
        except ValueError:
            return see_other("/support", "Statut inconnu.")
        if await db(queries.escalation, deps.records, escalation_id) is None:
            return HTMLResponse("Escalade introuvable.", status_code=404)
        await db(deps.records.set_escalation_status, escalation_id, status, ctx.who.login)
        return see_other(
            "/support", f"Escalade n° {escalation_id} : {ESCALATION_LABELS[status.value]}."
        )

    # ------------------------------------------------------------------ admin

    def admin_deps(who: Principal) -> list[str] | None:
        """None: every département (national admin)."""
        return None if who.national_admin else who.departements(AccountRole.ADMIN_DEPARTEMENT)

    @router.get("/admin", response_class=HTMLResponse)
    async def admin_page(request: Request, info: str = "") -> Response:
        ctx = await authorize(request, ADMINS)
        if not isinstance(ctx, Ctx):
            return ctx
        versions = await db(queries.config_versions, deps.records) if ctx.who.national_admin else []
        return render(
            request,
            "admin.html",
            ctx.session,
            ctx.who,
            versions=versions,
            info=info,
            issues=None,
            text="",
        )

    @router.post("/admin/configuration", response_class=HTMLResponse)
    async def check_config(request: Request) -> Response:
        ctx = await authorize(request, (AccountRole.ADMIN_NATIONAL,))
        if not isinstance(ctx, Ctx):
            return ctx
        form = await checked_form(ctx)
        if not isinstance(form, FormData):
            return form
        upload = form.get("fichier")
        raw_text = form.get("texte")
        text = raw_text if isinstance(raw_text, str) else ""
        name = "departments.yaml"
        if isinstance(upload, UploadFile) and upload.filename:
            name = Path(upload.filename).name
            try:
                raw = await upload.read(MAX_CONFIG_BYTES + 1)
            finally:
                await form.close()  # the upload's temporary file
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                issue = ConfigIssue(name, None, "", "le fichier n'est pas en UTF-8")
                return admin_result(ctx, [issue], "", name)
        if len(text.encode("utf-8")) > MAX_CONFIG_BYTES:
            issue = ConfigIssue(name, None, "", "fichier trop volumineux (2 Mo au plus)")
            return admin_result(ctx, [issue], "", name)
        try:
            config = parse_config(text, name)
        except ConfigError as exc:
            return admin_result(ctx, exc.issues, text, name)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        comment = field(form, "commentaire") or None
        version = await db(deps.records.record_config_version, text, digest, ctx.who.login, comment)
        if deps.on_config_accepted is not None:
            outcome = deps.on_config_accepted(config, text)
            if inspect.isawaitable(outcome):
                await outcome
        return see_other("/admin", f"Configuration valide : version n° {version} enregistrée.")

    def admin_result(ctx: Ctx, issues: Sequence[ConfigIssue], text: str, name: str) -> HTMLResponse:
        """The admin page with every problem, worded as ``ivr config check`` words it."""
        count = len(issues)
        return render(
            ctx.request,
            "admin.html",
            ctx.session,
            ctx.who,
            status_code=422,
            issues=issues,
            summary=f"{name} : {count} erreur{'s' if count > 1 else ''}",
            text=text,
            versions=[],
            info="",
        )

    @router.get("/admin/journal", response_class=HTMLResponse)
    async def audit_log(request: Request) -> Response:
        ctx = await authorize(request, (AccountRole.ADMIN_NATIONAL,))
        if not isinstance(ctx, Ctx):
            return ctx
        entries = await db(deps.records.audit_entries, 300)
        return render(request, "audit.html", ctx.session, ctx.who, entries=entries)

    def week_bounds(semaine: str) -> tuple[datetime, datetime, date]:
        tz = ZoneInfo(deps.timezone)
        today = deps.clock().astimezone(tz).date()
        try:
            monday = (
                date.fromisoformat(semaine)
                if semaine
                else today - timedelta(days=today.weekday() + 7)
            )
        except ValueError:
            monday = today - timedelta(days=today.weekday() + 7)
        monday -= timedelta(days=monday.weekday())
        start = datetime.combine(monday, time(0), tz)
        end = datetime.combine(monday + timedelta(days=7), time(0), tz)
        return start, end, monday

    @router.get("/admin/rapport", response_class=HTMLResponse)
    async def report_page(request: Request, semaine: str = "") -> Response:
        ctx = await authorize(request, ADMINS)
        if not isinstance(ctx, Ctx):
            return ctx
        start, end, monday = week_bounds(semaine)
        report = await db(queries.weekly_report, deps.records, start, end, admin_deps(ctx.who))
        return render(
            request,
            "report.html",
            ctx.session,
            ctx.who,
            report=report,
            monday=monday,
            sunday=monday + timedelta(days=6),
            previous=monday - timedelta(days=7),
            following=monday + timedelta(days=7),
            line_labels=LINE_LABELS,
        )

    @router.get("/admin/rapport.csv")
    async def report_csv(request: Request, semaine: str = "") -> Response:
        ctx = await authorize(request, ADMINS)
        if not isinstance(ctx, Ctx):
            return ctx
        start, end, monday = week_bounds(semaine)
        report = await db(queries.weekly_report, deps.records, start, end, admin_deps(ctx.who))
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(
            [
                "Semaine du",
                "Département",
                "Ligne",
                "Appels reçus",
                "Appels répondus",
                "Appels abandonnés",
                "Dissuasion",
                "LRO",
                "Rappels demandés",
                "Taux de réponse",
            ]
        )
        for row in report.rows:
            writer.writerow(
                [
                    monday.strftime("%d/%m/%Y"),
                    row.departement or "non déterminé",
                    LINE_LABELS.get(row.line, row.line or "inconnue"),
                    row.received,
                    row.answered,
                    row.abandoned,
                    row.deterrence,
                    row.lro,
                    row.callbacks,
                    row.answer_rate,
                ]
            )
        filename = f"rapport-{monday.isoformat()}.csv"
        return Response(
            ("\ufeff" + out.getvalue()).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
        )

    # ------------------------------------------------------------------ admin: accounts

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

    async def accounts_page(
        ctx: Ctx,
        *,
        status_code: int = 200,
        info: str = "",
        error: str | None = None,
        values: dict[str, str] | None = None,
    ) -> HTMLResponse:
        values = values or {}
        accounts = [
            a for a in await db(list_accounts, deps.records) if within_scope(ctx.who, a.grants)
        ]
        locks = await db(throttle.locks, deps.records.engine, deps.clock())
        return render(
            ctx.request,
            "accounts.html",
            ctx.session,
            ctx.who,
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
            error=error,
            values=values,
            form_deps={r.value: values.get(f"dep_{r.value}", "") for r in LOCAL_ROLES},
            form_nationals={r.value for r in NATIONAL_ROLES if values.get(f"role_{r.value}")},
        )

    async def managed_account(ctx: Ctx, login: str) -> AccountView | Response:
        """The account if it exists and the admin may manage it; else a 404 or 403 page."""
        account = await db(get_account, deps.records, login)
        if account is None:
            return error_page(ctx, 404, "Compte introuvable", f"Aucun compte « {login} ».")
        if not within_scope(ctx.who, account.grants):
            return forbidden(ctx, scope_refusal(ctx.who))
        return account

    async def account_page(
        ctx: Ctx,
        account: AccountView,
        *,
        status_code: int = 200,
        info: str = "",
        error: str | None = None,
    ) -> HTMLResponse:
        locks = await db(throttle.locks, deps.records.engine, deps.clock())
        return render(
            ctx.request,
            "account.html",
            ctx.session,
            ctx.who,
            status_code=status_code,
            account=account,
            locked_until=locks.get(throttle.login_key(account.login)),
            role_labels=ROLE_LABELS,
            local_roles=LOCAL_ROLES,
            national_roles=NATIONAL_ROLES if ctx.who.national_admin else (),
            myself=account.login == ctx.who.login,
            info=info,
            error=error,
            form_deps={r.value: account.departements(r) for r in LOCAL_ROLES},
            form_nationals={r.value for r in NATIONAL_ROLES if account.holds(r)},
        )

    @router.get("/admin/comptes", response_class=HTMLResponse)
    async def accounts_list(request: Request, info: str = "") -> Response:
        ctx = await authorize(request, ADMINS)
        if not isinstance(ctx, Ctx):
            return ctx
        return await accounts_page(ctx, info=info)

    @router.post("/admin/comptes", response_class=HTMLResponse)
    async def account_create(request: Request) -> Response:
        ctx = await authorize(request, ADMINS)
        if not isinstance(ctx, Ctx):
            return ctx
        form = await checked_form(ctx)
        if not isinstance(form, FormData):
            return form
        grants = grants_from(form)
        if grants and not within_scope(ctx.who, grants):
            return forbidden(ctx, scope_refusal(ctx.who))
        login = field(form, "login")
        password = form.get("mot_de_passe")
        try:
            await db(
                create_account,
                deps.records,
                login,
                password if isinstance(password, str) else "",
                grants,
                display_name=field(form, "nom") or None,
                phone=field(form, "telephone") or None,
                email=field(form, "email") or None,
                by=ctx.who.login,
                must_change_password=bool(field(form, "changer")),
            )
        except AccountError as exc:
            values = {
                k: field(form, k)
                for k in (
                    "login",
                    "nom",
                    "telephone",
                    "email",
                    *(f"dep_{r.value}" for r in LOCAL_ROLES),
                    *(f"role_{r.value}" for r in NATIONAL_ROLES),
                )
            }
            return await accounts_page(ctx, status_code=422, error=str(exc), values=values)
        return see_other("/admin/comptes", f"Compte « {login} » créé.")

    @router.get("/admin/comptes/{login}", response_class=HTMLResponse)
    async def account_detail(request: Request, login: str, info: str = "") -> Response:
        ctx = await authorize(request, ADMINS)
        if not isinstance(ctx, Ctx):
            return ctx
        account = await managed_account(ctx, login)
        if not isinstance(account, AccountView):
            return account
        return await account_page(ctx, account, info=info)

    async def account_post(
        request: Request, login: str
    ) -> tuple[Ctx, FormData, AccountView] | Response:
        """An admin's checked form about an account they may manage; else the refusal."""
        ctx = await authorize(request, ADMINS)
        if not isinstance(ctx, Ctx):
            return ctx
        form = await checked_form(ctx)
        if not isinstance(form, FormData):
            return form
        account = await managed_account(ctx, login)
        if not isinstance(account, AccountView):
            return account
        return ctx, form, account

    def account_url(login: str) -> str:
        return "/admin/comptes/" + quote(login, safe="")

    @router.post("/admin/comptes/{login}/roles", response_class=HTMLResponse)
    async def account_update(request: Request, login: str) -> Response:
        posted = await account_post(request, login)
        if isinstance(posted, Response):
            return posted
        ctx, form, account = posted
        grants = grants_from(form)
        if grants and not within_scope(ctx.who, grants):
            return forbidden(ctx, scope_refusal(ctx.who))
        if account.login == ctx.who.login and set(grants) != set(account.grants):
            return forbidden(
                ctx,
                "Vous ne pouvez pas modifier vos propres rôles : "
                "demandez-le à un autre administrateur.",
            )
        try:
            await db(
                update_account,
                deps.records,
                account.login,
                grants,
                display_name=field(form, "nom"),
                phone=field(form, "telephone") or None,
                email=field(form, "email") or None,
                by=ctx.who.login,
            )
        except AccountError as exc:
            return await account_page(ctx, account, status_code=422, error=str(exc))
        return see_other(account_url(account.login), "Compte modifié.")

    @router.post("/admin/comptes/{login}/activation", response_class=HTMLResponse)
    async def account_activation(request: Request, login: str) -> Response:
        posted = await account_post(request, login)
        if isinstance(posted, Response):
            return posted
        ctx, form, account = posted
        active = field(form, "actif") == "1"
        if account.login == ctx.who.login and not active:
            return forbidden(ctx, "Vous ne pouvez pas désactiver votre propre compte.")
        await db(set_active, deps.records, account.login, active, ctx.who.login)
        return see_other(
            account_url(account.login), "Compte réactivé." if active else "Compte désactivé."
        )

    @router.post("/admin/comptes/{login}/mot-de-passe", response_class=HTMLResponse)
    async def account_password(request: Request, login: str) -> Response:
        posted = await account_post(request, login)
        if isinstance(posted, Response):
            return posted
        ctx, form, account = posted
        password = form.get("mot_de_passe")
        temporary = bool(field(form, "changer"))
        try:
            await db(
                set_password,
                deps.records,
                account.login,
                password if isinstance(password, str) else "",
                ctx.who.login,
                must_change=temporary,
            )
        except AccountError as exc:
            return await account_page(ctx, account, status_code=422, error=str(exc))
        flash = "Mot de passe remplacé" + (
            " : à changer à la prochaine connexion." if temporary else "."
        )
        return see_other(account_url(account.login), flash)

    @router.post("/admin/comptes/{login}/deblocage", response_class=HTMLResponse)
    async def account_unlock(request: Request, login: str) -> Response:
        posted = await account_post(request, login)
        if isinstance(posted, Response):
            return posted
        ctx, _, account = posted
        had = await db(throttle.clear, deps.records.engine, throttle.login_key(account.login))
        await db(
            deps.records.audit, ctx.who.login, "unlock", "account", account.login, {"bloque": had}
        )
        return see_other(account_url(account.login), "Compte débloqué.")

    # ------------------------------------------------------------------ admin: recordings

    def may_listen(who: Principal, departement: str | None) -> bool:
        """National admins: every recording; départemental admins: calls of their
        départements (a call whose département is unknown: national admins only)."""
        if who.national_admin:
            return True
        return departement is not None and departement in who.departements(
            AccountRole.ADMIN_DEPARTEMENT
        )

    def recording_state(row: queries.RecordingRow) -> str | None:
        """Why a recording cannot be played (French), or None when it can."""
        if row.expired(deps.clock(), deps.recording_retention):
            days = deps.recording_retention.days
            return f"Enregistrement supprimé : la durée de conservation ({days} jours) est échue."
        return None

    @router.get("/admin/enregistrements", response_class=HTMLResponse)
    async def recordings_list(request: Request, appel: str = "") -> Response:
        ctx = await authorize(request, ADMINS)
        if not isinstance(ctx, Ctx):
            return ctx
        rows = await db(
            queries.recordings,
            deps.records,
            departements=admin_deps(ctx.who),
            call_id=appel.strip() or None,
        )
        return render(
            request,
            "recordings.html",
            ctx.session,
            ctx.who,
            rows=rows,
            states={row.id: recording_state(row) for row in rows},
            appel=appel.strip(),
            line_labels=LINE_LABELS,
        )

    @router.get("/admin/appels/{call_id}/enregistrements", response_class=HTMLResponse)
    async def call_recordings(request: Request, call_id: str) -> Response:
        ctx = await authorize(request, ADMINS)
        if not isinstance(ctx, Ctx):
            return ctx
        call = await db(deps.records.call, call_id)
        rows = await db(queries.recordings, deps.records, call_id=call_id)
        departement = (
            call.departement
            if call is not None
            else next((r.departement for r in rows if r.departement), None)
        )
        if call is None and not rows:
            return error_page(ctx, 404, "Appel introuvable", f"Aucun appel « {call_id} ».")
        if not may_listen(ctx.who, departement):
            return forbidden(
                ctx, "Vous n'avez pas accès aux enregistrements des appels de ce département."
            )
        await db(
            deps.records.audit,
            ctx.who.login,
            "read",
            "call_recordings",
            call_id,
            {"enregistrements": [r.id for r in rows]},
        )
        return render(
            request,
            "call_recordings.html",
            ctx.session,
            ctx.who,
            call=call,
            call_id=call_id,
            departement=departement,
            rows=rows,
            states={row.id: recording_state(row) for row in rows},
            line_labels=LINE_LABELS,
            outcome_labels=OUTCOME_LABELS,
        )

    @router.get("/admin/enregistrements/{recording_id}/audio")
    async def recording_audio(request: Request, recording_id: int) -> Response:
        """The recording's bytes, streamed through the service (audited)."""
        ctx = await authorize(request, ADMINS)
        if not isinstance(ctx, Ctx):
            return ctx
        row = await db(queries.recording, deps.records, recording_id)
        if row is None:
            return error_page(
                ctx, 404, "Enregistrement introuvable", f"Aucun enregistrement n° {recording_id}."
            )
        if not may_listen(ctx.who, row.departement):
            return forbidden(
                ctx, "Vous n'avez pas accès aux enregistrements des appels de ce département."
            )
        gone = recording_state(row)
        if gone is not None or row.location is None:
            return error_page(ctx, 410, "Enregistrement supprimé", gone or "")
        source = deps.recordings
        if source is None or not source.handles(row.location):
            return error_page(
                ctx,
                503,
                "Lecture indisponible",
                "La lecture des enregistrements n'est pas configurée sur ce serveur "
                "pour cette source (téléphonie Asterisk ou opérateur).",
            )
        ref = RecordingRef(row.id, row.call_id, row.location, row.media_type)
        try:
            stream = await source.open(ref)
        except RecordingNotFoundError:
            return error_page(
                ctx,
                410,
                "Enregistrement introuvable à la source",
                "Le fichier de cet enregistrement n'existe plus sur le serveur de téléphonie "
                "(supprimé ou purgé de son côté).",
            )
        except RecordingSourceError as exc:
            log.warning("recording %s: source unavailable: %s", recording_id, exc)
            return error_page(
                ctx,
                502,
                "Serveur d'enregistrements injoignable",
                "Le serveur de téléphonie qui conserve cet enregistrement ne répond pas. "
                "Réessayez dans quelques minutes ; si cela dure, prévenez l'exploitation.",
            )
        await db(
            deps.records.audit,
            ctx.who.login,
            "listen",
            "recording",
            str(row.id),
            {"appel": row.call_id, "departement": row.departement},
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

    @router.get("/accueil")
    async def home(request: Request) -> Response:
        ctx = await authorize(request, tuple(AccountRole))
        if not isinstance(ctx, Ctx):
            return ctx
        return see_other(home_of(ctx.who))

    return router
