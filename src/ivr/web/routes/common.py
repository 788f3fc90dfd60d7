"""What every console route shares.

``Web`` holds the consoles' collaborators, the templates and the session cookie; each
request finds it through ``web_of`` (``build_console_router`` binds it). The checks
(``ivr.web.routes.checks``, FastAPI dependencies) and the routes raise a ``RefusalError``;
``ConsoleRoute`` turns every refusal into its French page (or JSON answer) in
``refusal_response``, the one place they are worded.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from ivr.records.models import AccountRole
from ivr.web.accounts import Principal, open_session, session_principal
from ivr.web.deps import ConsoleDeps
from ivr.web.routes import params
from ivr.web.security import Session, SessionCodec, same_token
from ivr.web.template_env import TEMPLATES_DIR as TEMPLATES_DIR  # re-exported
from ivr.web.template_env import console_templates

COOKIE = "ivr_session"
PASSWORD_PAGE = "/mot-de-passe"
MAX_LOOKUPS_REMEMBERED = 2000
FORM_EXPIRED = "Formulaire expiré ou invalide : rechargez la page et recommencez."

P = ParamSpec("P")
T = TypeVar("T")


# --------------------------------------------------------------------------- refusals


class RefusalError(Exception):
    """Raised by a check or a route: the request ends with the page it names."""


class SignInRequiredError(RefusalError):
    """Not signed in (or in a session that has ended): the sign-in page, 401."""


class PasswordChangeRequiredError(RefusalError):
    """A temporary password must be changed first: to that page (303)."""


class JsonRefusalError(RefusalError):
    """A refusal for the page's scripts: ``{"detail": …}`` with the status."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


class ForbiddenError(RefusalError):
    """The 403 page, with the reason when there is one."""

    def __init__(self, session: Session, who: Principal | None, reason: str | None = None):
        super().__init__(reason)
        self.session = session
        self.who = who
        self.reason = reason


class PageError(RefusalError):
    """The error page: not found, gone, unavailable…"""

    def __init__(
        self, session: Session, who: Principal, status_code: int, title: str, message: str
    ) -> None:
        super().__init__(title)
        self.session = session
        self.who = who
        self.status_code = status_code
        self.title = title
        self.message = message


def refusal_response(web: Web, request: Request, refusal: RefusalError) -> Response:
    """The page (or JSON answer) of a refusal: the one place they are worded."""
    match refusal:
        case SignInRequiredError():
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return web.sign_in_page(
                request, 401, "Connectez-vous pour accéder à cette page.", target
            )
        case PasswordChangeRequiredError():
            return see_other(PASSWORD_PAGE)
        case JsonRefusalError(status_code=status_code, detail=detail):
            return JSONResponse({"detail": detail}, status_code=status_code)
        case ForbiddenError(session=session, who=who, reason=reason):
            return web.render(
                request, "forbidden.html", session, who, status_code=403, reason=reason
            )
        case PageError(session=session, who=who, status_code=status_code):
            return web.render(
                request,
                "error.html",
                session,
                who,
                status_code=status_code,
                title=refusal.title,
                message=refusal.message,
            )
    raise TypeError(f"unknown refusal: {refusal!r}")  # pragma: no cover


class ConsoleRoute(APIRoute):
    """A console route: a ``RefusalError`` raised by its checks or its body becomes its page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RefusalError as refusal:
                return refusal_response(web_of(request), request, refusal)
            except RequestValidationError as invalid:
                try:
                    return await invalid_response(web_of(request), request, invalid)
                except RefusalError as refusal:
                    return refusal_response(web_of(request), request, refusal)

        return handle


async def invalid_response(web: Web, request: Request, invalid: RequestValidationError) -> Response:
    """A parameter out of its bounds (``params``): a French 404 when the path names nothing
    that can exist, else a 422; the refusal of an unknown visitor comes first."""
    in_path, names = params.invalid_parts(invalid)
    status = 404 if in_path else 422
    title = params.NOT_FOUND_TITLE if in_path else params.INVALID_TITLE
    message = params.NOT_FOUND if in_path else params.invalid_message(names)
    json = request.url.path.endswith(".json")
    ctx = await web.authorize(request, tuple(AccountRole), json=json)
    if json:
        return JSONResponse({"detail": message}, status_code=status)
    raise ctx.error(status, title, message)


# --------------------------------------------------------------------------- small helpers


def see_other(url: str, flash: str | None = None) -> RedirectResponse:
    """303 to ``url``, with the French notice the page shows (``info``)."""
    if flash:
        url += ("&" if "?" in url else "?") + "info=" + quote(flash)
    return RedirectResponse(url, status_code=303)


def field(form: FormData, name: str) -> str:
    """A text field of the form, stripped (empty when absent or a file)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def text(form: FormData, name: str) -> str | None:
    """A text field as typed (passwords), None when absent or a file."""
    value = form.get(name)
    return value if isinstance(value, str) else None


def home_of(who: Principal) -> str:
    """The page a person lands on after signing in."""
    if who.has(AccountRole.LISTENER):
        return "/console"
    if who.has(AccountRole.SUPPORT):
        return "/support"
    if who.has(AccountRole.REFERENT):
        return "/referent"
    return "/admin"


def nav_links(who: Principal | None) -> list[tuple[str, str, str]]:
    """The pages the person's roles open, as (address, French label, element id)."""
    if who is None:
        return []
    links: list[tuple[str, str, str]] = []
    if who.has(AccountRole.LISTENER):
        links.append(("/console", "Console écoutant", "nav-console"))
    if who.has(AccountRole.REFERENT):
        links.append(("/referent", "Référent (palier 1)", "nav-referent"))
    if who.has(AccountRole.SUPPORT, AccountRole.ADMIN_NATIONAL):
        links.append(("/support", "Support national", "nav-support"))
    if who.has(AccountRole.LISTENER, AccountRole.ADMIN_NATIONAL, AccountRole.ADMIN_DEPARTEMENT):
        links.append(("/supervision", "Supervision", "nav-supervision"))
    if who.has(AccountRole.ADMIN_NATIONAL, AccountRole.ADMIN_DEPARTEMENT):
        links += [
            ("/admin", "Administration", "nav-admin"),
            ("/admin/routage", "Routage", "nav-routage"),
            ("/admin/rapport", "Rapport", "nav-rapport"),
            ("/admin/comptes", "Comptes", "nav-comptes"),
            ("/admin/enregistrements", "Enregistrements", "nav-enregistrements"),
        ]
    if who.national_admin:
        links.append(("/admin/journal", "Journal d'audit", "nav-journal"))
    links.append((PASSWORD_PAGE, "Mon mot de passe", "nav-mot-de-passe"))
    return links


def admin_deps(who: Principal) -> list[str] | None:
    """The départements an admin sees; None: every one (national admin)."""
    return None if who.national_admin else who.departements(AccountRole.ADMIN_DEPARTEMENT)


def csrf_ok(form: FormData, session: Session) -> bool:
    return same_token(text(form, "csrf"), session.csrf)


# --------------------------------------------------------------------------- the consoles' state


class Web:
    """The consoles' collaborators, templates, session cookie, and the SI SIAO lookups
    started here (who may read their result)."""

    def __init__(self, deps: ConsoleDeps) -> None:
        self.deps = deps
        self.templates = console_templates(deps.timezone)
        self.codec = SessionCodec(deps.session_secret)
        self.lookup_owners: OrderedDict[str, tuple[str, str | None]] = OrderedDict()

    async def bind(self, request: Request) -> None:
        """The router's first dependency: later ones find this ``Web`` with ``web_of``."""
        request.state.ivr_web = self

    async def db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking database work in a worker thread."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def audit(
        self, actor: str, action: str, kind: str, obj: str | None, **detail: Any
    ) -> None:
        await self.db(self.deps.records.audit, actor, action, kind, obj, detail or None)

    # ------------------------------------------------------------------ sessions and pages

    def anonymous(self) -> Session:
        return Session.anonymous(self.deps.clock(), self.deps.session_lifetime)

    async def signed_in(self, who: Principal) -> Session:
        """A new server-side session for ``who`` (just authenticated), and its cookie's."""
        now, lifetime = self.deps.clock(), self.deps.session_lifetime
        sid = await self.db(open_session, self.deps.records, who.login, now, lifetime)
        return Session.signed_in(who.login, sid, now, lifetime)

    def set_cookie(self, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self.codec.encode(session),
            max_age=int(self.deps.session_lifetime.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=self.deps.secure_cookies,
            path="/",
        )

    def read_session(self, request: Request) -> Session | None:
        return self.codec.decode(request.cookies.get(COOKIE), self.deps.clock())

    def render(
        self,
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
            banner=self.safe_banner(),
            static=self.deps.static_url.rstrip("/"),
            roles=AccountRole,
            nav=nav_links(who),
            home=home_of(who) if who is not None else None,
            current_path=request.url.path,
        )
        response = self.templates.TemplateResponse(request, name, context, status_code=status_code)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    def safe_banner(self) -> str | None:
        try:
            return self.deps.banner()
        except Exception:  # a database hiccup must not take the console down
            return "État de SI SIAO inconnu (le suivi des incidents ne répond pas)."

    def sign_in_page(
        self,
        request: Request,
        status_code: int,
        message: str | None = None,
        next_url: str = "",
        *,
        login: str = "",
        error: bool = False,
    ) -> HTMLResponse:
        """The sign-in page with its notice, or its error (``error``: a refused attempt,
        the ``login`` typed kept; never the password)."""
        session = self.read_session(request)
        if session is None or session.login is not None:
            session = self.anonymous()
        response = self.render(
            request,
            "login.html",
            session,
            status_code=status_code,
            message=message,
            next_url=next_url,
            typed_login=login,
            error=error,
        )
        self.set_cookie(response, session)
        return response

    # ------------------------------------------------------------------ checks

    async def authorize(
        self,
        request: Request,
        roles: tuple[AccountRole, ...],
        *,
        json: bool = False,
        pending_password: bool = False,
    ) -> Ctx:
        """The signed-in person if they hold one of ``roles``; else raises the refusal.

        A cookie whose server-side session has ended (signed out, password changed,
        account deactivated, sessions closed by an admin) counts as signed out, on every
        instance: the session is looked up in the records on every request, never cached.
        A person who must change a temporary password is sent to that page first (unless
        ``pending_password``: the page itself).
        """
        session = self.read_session(request)
        who = (
            await self.db(
                session_principal,
                self.deps.records,
                session.login,
                session.sid,
                self.deps.clock(),
            )
            if session and session.login
            else None
        )
        if session is None or who is None:
            raise JsonRefusalError(401, "Connexion requise.") if json else SignInRequiredError()
        if who.must_change_password and not pending_password:
            if json:
                raise JsonRefusalError(403, "Changez d'abord votre mot de passe.")
            raise PasswordChangeRequiredError()
        if not who.has(*roles):
            raise JsonRefusalError(403, "Accès refusé.") if json else ForbiddenError(session, who)
        return Ctx(self, request, who, session)


def web_of(request: Request) -> Web:
    """The ``Web`` of the router serving this request."""
    return cast(Web, request.state.ivr_web)


@dataclass(slots=True)
class Ctx:
    """One request's signed-in person and session."""

    web: Web
    request: Request
    who: Principal
    session: Session

    @property
    def deps(self) -> ConsoleDeps:
        return self.web.deps

    def render(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return self.web.render(self.request, name, self.session, self.who, status_code, **context)

    def forbidden(self, reason: str | None = None) -> ForbiddenError:
        return ForbiddenError(self.session, self.who, reason)

    def error(self, status_code: int, title: str, message: str) -> PageError:
        return PageError(self.session, self.who, status_code, title, message)

    async def audit(self, action: str, kind: str, obj: str | None = None, **detail: Any) -> None:
        await self.web.audit(self.who.login, action, kind, obj, **detail)

    async def checked_form(self) -> FormData:
        """The posted form; raises the 403 page when its CSRF token is missing or wrong."""
        return self.check_csrf(await self.request.form())

    def check_csrf(self, form: FormData) -> FormData:
        """``form`` when its CSRF token is the session's; else raises the 403 page."""
        if not csrf_ok(form, self.session):
            raise ForbiddenError(self.session, self.who, FORM_EXPIRED)
        return form
