"""The role check and the CSRF check, as FastAPI dependencies.

A route names what it needs by its parameter's type: ``ListenerCtx`` (a signed-in
listener), ``ListenerForm`` (the same, and their form with its CSRF token checked),
``ListenerJson`` (refusals as JSON, for the page's scripts)… A check that fails raises a
``RefusalError``, which ``ConsoleRoute`` turns into its page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from ivr.records.models import AccountRole
from ivr.web.routes.common import FORM_EXPIRED, Ctx, ForbiddenError, Web, csrf_ok, field, web_of
from ivr.web.security import Session

LISTENER = (AccountRole.LISTENER,)
REFERENT = (AccountRole.REFERENT,)
SUPPORT = (AccountRole.SUPPORT, AccountRole.ADMIN_NATIONAL)
ADMINS = (AccountRole.ADMIN_NATIONAL, AccountRole.ADMIN_DEPARTEMENT)
NATIONAL_ADMIN = (AccountRole.ADMIN_NATIONAL,)
EVERYONE = tuple(AccountRole)


@dataclass(slots=True)
class Posted:
    """A signed-in person's form, its CSRF token checked."""

    ctx: Ctx
    form: FormData

    def field(self, name: str) -> str:
        return field(self.form, name)


@dataclass(slots=True)
class AnonymousPost:
    """A form posted before sign-in (or to sign out), its CSRF token checked."""

    web: Web
    request: Request
    session: Session
    form: FormData


# --------------------------------------------------------------------------- dependencies


def signed_in(
    roles: tuple[AccountRole, ...], *, json: bool = False, pending_password: bool = False
) -> Callable[[Request], Awaitable[Ctx]]:
    """A dependency: the signed-in person holding one of ``roles`` (else the refusal)."""

    async def check(request: Request) -> Ctx:
        web = web_of(request)
        return await web.authorize(request, roles, json=json, pending_password=pending_password)

    return check


def posted(
    roles: tuple[AccountRole, ...], *, pending_password: bool = False
) -> Callable[[Request], Awaitable[Posted]]:
    """A dependency: ``signed_in`` and the posted form with its CSRF token checked."""

    async def check(request: Request) -> Posted:
        web = web_of(request)
        ctx = await web.authorize(request, roles, pending_password=pending_password)
        return Posted(ctx, await ctx.checked_form())

    return check


async def anonymous_post(request: Request) -> AnonymousPost:
    """A dependency: a form posted with the session's CSRF token (signed in or not)."""
    web = web_of(request)
    session = web.read_session(request)
    form = await request.form()
    if session is None or not csrf_ok(form, session):
        raise ForbiddenError(session or web.anonymous(), None, FORM_EXPIRED)
    return AnonymousPost(web, request, session, form)


WebDep = Annotated[Web, Depends(web_of)]
AnyoneCtx = Annotated[Ctx, Depends(signed_in(EVERYONE))]
PasswordCtx = Annotated[Ctx, Depends(signed_in(EVERYONE, pending_password=True))]
PasswordForm = Annotated[Posted, Depends(posted(EVERYONE, pending_password=True))]
ListenerCtx = Annotated[Ctx, Depends(signed_in(LISTENER))]
ListenerJson = Annotated[Ctx, Depends(signed_in(LISTENER, json=True))]
ListenerForm = Annotated[Posted, Depends(posted(LISTENER))]
ReferentCtx = Annotated[Ctx, Depends(signed_in(REFERENT))]
ReferentForm = Annotated[Posted, Depends(posted(REFERENT))]
SupportCtx = Annotated[Ctx, Depends(signed_in(SUPPORT))]
SupportForm = Annotated[Posted, Depends(posted(SUPPORT))]
SupportJson = Annotated[Ctx, Depends(signed_in(SUPPORT, json=True))]
AdminCtx = Annotated[Ctx, Depends(signed_in(ADMINS))]
AdminForm = Annotated[Posted, Depends(posted(ADMINS))]
NationalAdminCtx = Annotated[Ctx, Depends(signed_in(NATIONAL_ADMIN))]
NationalAdminForm = Annotated[Posted, Depends(posted(NATIONAL_ADMIN))]
AnonymousPostDep = Annotated[AnonymousPost, Depends(anonymous_post)]
