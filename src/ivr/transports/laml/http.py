"""The webhook routes: signature first, then the form, then the transport.

Every route is a POST of a urlencoded form, signed by the provider. A request whose
signature is missing or wrong gets a 403 and a log line that says why, before anything is
parsed into an event; nothing else about the request is trusted until then.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ivr.runtime.runtime import CallRuntime, Clock
from ivr.transports.laml import verbs
from ivr.transports.laml.client import ProviderCalls
from ivr.transports.laml.config import PREFIX, LamlConfig
from ivr.transports.laml.documents import fallback_document
from ivr.transports.laml.events import ProviderEventSink
from ivr.transports.laml.schemas import (
    FORM_CONTENT_TYPE,
    Form,
    WebhookError,
    parse_form,
    phone_number,
)
from ivr.transports.laml.service import LamlTransport, Query
from ivr.transports.laml.signature import SIGNATURE_HEADERS, SignatureChecker

log = logging.getLogger(__name__)

Handler = Callable[[Form, Query], Awaitable[bytes]]
FORBIDDEN = "Requête refusée : signature du fournisseur absente ou invalide."


def build_laml_router(
    runtime: CallRuntime,
    *,
    auth_token: str,
    public_base_url: str,
    provider: ProviderCalls,
    clock: Clock,
    account_sid: str | None = None,
    prompts_base_url: str | None = None,
    hold_music_url: str | None = None,
    say_voice: str | None = None,
    events: ProviderEventSink | None = None,
) -> APIRouter:
    """The ``/laml/*`` routes over a new ``LamlTransport`` (see ``laml_router``)."""
    config = LamlConfig(
        auth_token=auth_token,
        public_base_url=public_base_url,
        account_sid=account_sid,
        prompts_base_url=prompts_base_url,
        hold_music_url=hold_music_url,
        say_voice=say_voice,
    )
    return laml_router(LamlTransport(runtime, config, provider, clock, events))


def laml_router(transport: LamlTransport) -> APIRouter:
    """The ``/laml/*`` routes of an existing transport (keep it for call-backs, shutdown)."""
    checker = SignatureChecker(transport.config.auth_token, transport.config.public_base_url)
    account_sid = transport.config.account_sid
    # Routes the caller's call runs: an unexpected failure answers the fallback document
    # (the caller goes to the LRO) rather than a 500 the provider would turn into silence.
    caller_facing: dict[str, Handler] = {
        "/voice": transport.incoming,
        "/gather": transport.gather,
        "/no-input": transport.no_input,
        "/dial": transport.dial_ended,
        "/queue": transport.queue_left,
        "/wait": transport.wait,
        "/wait/digits": transport.wait_digits,
        "/resume": transport.resume,
        "/fallback": transport.fallback,
    }
    others: dict[str, Handler] = {
        "/dial/answered": transport.dial_answered,
        "/status": transport.call_status,
        "/recording": transport.recording_status,
        "/listener/answer": transport.listener_answered,
        "/listener/status": transport.listener_status,
        "/listener/end": transport.listener_ended,
        "/callback/answer": transport.callback_answered,
        "/callback/result": transport.callback_result,
        "/callback/status": transport.callback_status,
    }
    router = APIRouter()
    for routes, facing in ((caller_facing, True), (others, False)):
        for path, handler in routes.items():
            endpoint = _endpoint(handler, checker, account_sid, transport if facing else None)
            router.routes.append(Route(PREFIX + path, endpoint, methods=["POST"]))
    return router


def _endpoint(
    handler: Handler,
    checker: SignatureChecker,
    account_sid: str | None,
    fallback_for: LamlTransport | None,
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        is_form = content_type == FORM_CONTENT_TYPE
        try:
            params = parse_form(body) if is_form else []
        except WebhookError:
            params = []  # unreadable: the signature cannot match, the request is refused
        path = _path(request)
        query = request.scope.get("query_string", b"").decode("latin-1")
        url = checker.public_url(path, query)
        signatures = [request.headers[h] for h in SIGNATURE_HEADERS if h in request.headers]
        verdict = checker.check(url, params, signatures)
        if not verdict.ok:
            call_sid = dict(params).get("CallSid", "?")
            log.warning(
                "LaML webhook refused (403) on %s: %s [CallSid=%s]", path, verdict.reason, call_sid
            )
            return PlainTextResponse(FORBIDDEN, status_code=403)
        if not is_form:
            return PlainTextResponse(
                "Type de contenu non pris en charge : formulaire urlencodé attendu.",
                status_code=415,
            )
        form = Form(params)
        if account_sid is not None and form.get("AccountSid") != account_sid:
            log.warning(
                "LaML webhook refused (403) on %s: AccountSid %r is not this service's account",
                path,
                form.get("AccountSid"),
            )
            return PlainTextResponse("Requête refusée : compte inconnu.", status_code=403)
        try:
            document = await handler(form, dict(parse_qsl(query)))
        except WebhookError as error:
            log.info("LaML webhook on %s answered %d: %s", path, error.status, error.message)
            return PlainTextResponse(error.message, status_code=error.status)
        except Exception:
            if fallback_for is None:
                raise
            log.exception("LaML webhook on %s failed: fallback document sent", path)
            document = _fallback(fallback_for, form)
        return Response(document, media_type=verbs.CONTENT_TYPE)

    return endpoint


def _path(request: Request) -> str:
    """The request path below the application's root (what follows the public base URL)."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _fallback(transport: LamlTransport, form: Form) -> bytes:
    return fallback_document(
        transport.runtime.flow,
        transport.urls,
        transport.speaker,
        phone_number(form.get("To")),
        0,
        None,
        transport.clock(),
    )
