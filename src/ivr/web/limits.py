"""Body limits on every route, enforced before the body is read.

A pure ASGI middleware (``BodyLimits``): each request's path falls in one family
(``BODY_RULES``, first match wins), and the family sets how many bytes its body may weigh.

- A declared ``Content-Length`` over the limit is answered 413 at once: the application is
  not called and not one byte of the body is read.
- A body of unknown length (chunked, streamed) is counted as the application reads it; the
  read that crosses the limit raises ``BodyTooLargeError`` (nothing further is read) and
  the answer is a 413, whatever the application made of the exception (FastAPI turns a
  failure while parsing a form into a 400: that answer is replaced).
- A family with ``own_page`` (the routing file's form, whose 413 is the admin page naming
  the limit in French) is not answered by the middleware: the application runs, and its
  first read raises ``BodyTooLargeError`` at once (declared too large) or once past the
  limit; the route catches it and renders its page (``is_too_large`` tells it why). An
  answer of 413 from the application is kept as is.

The middleware's own 413 is French: a small page for the consoles, a text for the
telephony providers' webhooks (``/laml``), JSON for the AML receiver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from routing.safe_yaml import MAX_CONFIG_BYTES

KIB = 1024
# Besides the file: the other fields and the multipart boundaries and headers.
FORM_OVERHEAD = 64 * KIB
SCOPE_KEY = "ivr.body_too_large"

Kind = Literal["html", "text", "json"]


def config_form_limit(content_type: str) -> int:
    """The most a routing configuration form may weigh: a pasted text is percent-encoded
    in an urlencoded form (up to three bytes a byte); a multipart one (the page's) may
    carry both an upload and a pasted text."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        return 3 * MAX_CONFIG_BYTES + FORM_OVERHEAD
    return 2 * MAX_CONFIG_BYTES + FORM_OVERHEAD


@dataclass(frozen=True, slots=True)
class BodyRule:
    """A family of routes: paths starting with ``prefix`` (``exact``: that path only)."""

    prefix: str
    limit: int | Callable[[str], int]  # bytes, or bytes by content type
    kind: Kind = "html"
    own_page: bool = False
    exact: bool = False

    def matches(self, path: str) -> bool:
        if self.exact:
            return path == self.prefix
        return path == self.prefix or path.startswith(self.prefix.rstrip("/") + "/")

    def limit_for(self, content_type: str) -> int:
        return self.limit(content_type) if callable(self.limit) else self.limit


LAML_LIMIT = 64 * KIB
AML_LIMIT = 16 * KIB  # geoloc.aml.MAX_HTTPS_BODY: a signed JSON object or an SMS text
CONSOLE_LIMIT = 256 * KIB
DEFAULT_LIMIT = 64 * KIB

BODY_RULES: tuple[BodyRule, ...] = (
    BodyRule("/laml", LAML_LIMIT, kind="text"),
    BodyRule("/aml", AML_LIMIT, kind="json"),
    BodyRule("/admin/configuration", config_form_limit, own_page=True, exact=True),
    BodyRule("/console", CONSOLE_LIMIT),
    BodyRule("/referent", CONSOLE_LIMIT),
    BodyRule("/support", CONSOLE_LIMIT),
    BodyRule("/admin", CONSOLE_LIMIT),
    BodyRule("/connexion", CONSOLE_LIMIT),
    BodyRule("/deconnexion", CONSOLE_LIMIT),
    BodyRule("/mot-de-passe", CONSOLE_LIMIT),
)
DEFAULT_RULE = BodyRule("/", DEFAULT_LIMIT)

TOO_LARGE = "Requête trop volumineuse"
PAGE = (
    '<!doctype html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
    "<title>Requête trop volumineuse</title>\n"
    '<link rel="stylesheet" href="/static/console.css">\n</head>\n<body>\n'
    '<main id="contenu">\n<h1>Requête trop volumineuse</h1>\n'
    '<p role="alert">Ce formulaire dépasse la taille permise ({size} au plus) : '
    "rien n'a été enregistré. Revenez à la page précédente et envoyez moins de données.</p>\n"
    "</main>\n</body>\n</html>\n"
)


class BodyTooLargeError(Exception):
    """Raised by the counted ``receive`` when the body is (or would be) over its limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


def rule_for(path: str, rules: tuple[BodyRule, ...] = BODY_RULES) -> BodyRule:
    return next((rule for rule in rules if rule.matches(path)), DEFAULT_RULE)


def is_too_large(scope: Scope) -> bool:
    """Whether the middleware refused this request's body (declared or counted)."""
    return bool(scope.get(SCOPE_KEY))


def readable_size(limit: int) -> str:
    if limit >= 1024 * KIB:
        return f"{limit / (1024 * KIB):.1f}".replace(".0", "").replace(".", ",") + " Mo"
    return f"{limit // KIB} Kio"


def too_large_response(kind: Kind, limit: int) -> tuple[bytes, bytes]:
    """The content type and the body of the middleware's French 413."""
    size = readable_size(limit)
    if kind == "text":
        return b"text/plain; charset=utf-8", f"{TOO_LARGE} ({size} au plus).".encode()
    if kind == "json":
        detail = f'{{"detail": "{TOO_LARGE} ({size} au plus)."}}'
        return b"application/json", detail.encode()
    return b"text/html; charset=utf-8", PAGE.format(size=size).encode()


@dataclass(slots=True)
class _Counted:
    """The request's ``receive``, counted: raises past ``limit`` (or at once: ``refused``)."""

    receive: Receive
    scope: Scope
    limit: int
    refused: bool = False
    size: int = 0

    async def __call__(self) -> Message:
        if self.refused:
            self.scope[SCOPE_KEY] = True
            raise BodyTooLargeError(self.limit)
        message = await self.receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit:
                self.refused = True
                self.scope[SCOPE_KEY] = True
                raise BodyTooLargeError(self.limit)
        return message


def _declared_length(scope: Scope) -> tuple[int | None, str]:
    length: int | None = None
    content_type = ""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            length = int(text) if text.isdigit() else None
        elif name == b"content-type":
            content_type = value.decode("latin-1").strip().lower()
    return length, content_type


class BodyLimits:
    """Refuses (413) a request body over its route family's limit, before reading it."""

    def __init__(self, app: ASGIApp, rules: tuple[BodyRule, ...] = BODY_RULES) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = rule_for(scope.get("path", ""), self.rules)
        declared, content_type = _declared_length(scope)
        limit = rule.limit_for(content_type)
        too_large = declared is not None and declared > limit
        if too_large and not rule.own_page:
            await _send_too_large(send, rule.kind, limit)
            return
        counted = _Counted(receive, scope, limit, refused=too_large)
        started = replaced = False

        async def guarded(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the application's answer to a refused body: dropped
            if message["type"] == "http.response.start":
                if is_too_large(scope) and message["status"] != 413:
                    replaced = True
                    started = True
                    await _send_too_large(send, rule.kind, limit)
                    return
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except BodyTooLargeError:
            if started:
                raise
            await _send_too_large(send, rule.kind, limit)


async def _send_too_large(send: Send, kind: Kind, limit: int) -> None:
    content_type, body = too_large_response(kind, limit)
    headers = [
        (b"content-type", content_type),
        (b"content-length", b"%d" % len(body)),
        (b"connection", b"close"),  # the rest of the body is not read
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
