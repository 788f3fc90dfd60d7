"""The webhook routes: signature first, then the form, then the transport.

Every route is a POST of a urlencoded form, signed by the provider. A request whose
signature is missing or wrong gets a 403 and a log line that says why, before anything is
parsed into an event; nothing else about the request is trusted until then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

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
    parse_pairs,
    phone_number,
)
from ivr.transports.laml.service import LamlTransport
from ivr.transports.laml.sessions import Query
from ivr.transports.laml.signature import SIGNATURE_HEADERS, SignatureChecker

log = logging.getLogger(__name__)

Handler = Callable[[Form, Query], Awaitable[bytes]]
FORBIDDEN = "Requête refusée : signature du fournisseur absente ou invalide."
FORM_CONTENT_TYPE_BYTES = FORM_CONTENT_TYPE.encode("ascii")
XML_CONTENT_TYPE = verbs.CONTENT_TYPE.encode("ascii")


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
        "/resume": transport.redirected,
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
    handlers = {
        **{path: (handler, transport) for path, handler in caller_facing.items()},
        **{path: (handler, None) for path, handler in others.items()},
    }
    router = APIRouter()
    # One route whose endpoint is a plain ASGI callable: the handler is found by name (one
    # regex instead of eighteen), and no Request or Response object is built per webhook.
    router.routes.append(
        Route(
            PREFIX + "/{name:path}",
            _Webhooks(handlers, checker, account_sid, transport),
            methods=["POST"],
        )
    )
    return router


class _Webhooks:
    """The ASGI endpoint of every ``/laml/*`` route."""

    def __init__(
        self,
        handlers: dict[str, tuple[Handler, LamlTransport | None]],
        checker: SignatureChecker,
        account_sid: str | None,
        transport: LamlTransport | None = None,
    ) -> None:
        self.handlers = handlers
        self.checker = checker
        self.account_sid = account_sid
        self.transport = transport

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status, content_type, body = await self.serve(scope, receive)
        observe = self.transport.on_webhook_handled if self.transport is not None else None
        if observe is not None:
            name = "/" + scope["path_params"]["name"]
            observe(name if name in self.handlers else "inconnu", time.perf_counter() - started)
        headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def serve(self, scope: Scope, receive: Receive) -> tuple[int, bytes, bytes]:
        found = self.handlers.get("/" + scope["path_params"]["name"])
        if found is None:
            return _text(404, "Adresse inconnue.")
        handler, fallback_for = found
        content_type = b""
        signatures: list[str] = []
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name.decode("latin-1") in SIGNATURE_HEADERS:
                signatures.append(value.decode("latin-1"))
        body = await _read_body(receive)
        is_form = content_type.split(b";", 1)[0].strip().lower() == FORM_CONTENT_TYPE_BYTES
        try:
            params = parse_form(body) if is_form else []
        except WebhookError:
            params = []  # unreadable: the signature cannot match, the request is refused
        path = _path(scope)
        query = scope.get("query_string", b"").decode("latin-1")
        verdict = self.checker.check(self.checker.public_url(path, query), params, signatures)
        if not verdict.ok:
            call_sid = dict(params).get("CallSid", "?")
            log.warning(
                "LaML webhook refused (403) on %s: %s [CallSid=%s]", path, verdict.reason, call_sid
            )
            return _text(403, FORBIDDEN)
        if not is_form:
            return _text(415, "Type de contenu non pris en charge : formulaire urlencodé attendu.")
        form = Form(params)
        if self.account_sid is not None and form.get("AccountSid") != self.account_sid:
            log.warning(
                "LaML webhook refused (403) on %s: AccountSid %r is not this service's account",
                path,
                form.get("AccountSid"),
            )
            return _text(403, "Requête refusée : compte inconnu.")
        try:
            document = await handler(form, dict(parse_pairs(query)) if query else {})
        except WebhookError as error:
            log.info("LaML webhook on %s answered %d: %s", path, error.status, error.message)
            return _text(error.status, error.message)
        except Exception:
            if fallback_for is None:
                raise
            log.exception("LaML webhook on %s failed: fallback document sent", path)
            document = _fallback(fallback_for, form)
        return 200, XML_CONTENT_TYPE, document


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _text(status: int, message: str) -> tuple[int, bytes, bytes]:
    return status, b"text/plain; charset=utf-8", message.encode("utf-8")


def _path(scope: Scope) -> str:
    """The request path below the application's root (what follows the public base URL)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
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
