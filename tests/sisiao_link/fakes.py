"""Fakes for the SI SIAO tests: a virtual clock, and an ``httpx.MockTransport`` handler that
plays SI SIAO (tokens, searches, idempotent creation) with scripted failures."""

from __future__ import annotations

import asyncio
import base64
import heapq
import itertools
import json
import secrets
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx

from sisiao_link.port import IDEMPOTENCY_HEADER, REALM_HEADER, USER_HEADER

START = datetime(2025, 1, 10, 22, 0, tzinfo=UTC)


class VirtualClock:
    """A clock that moves only when told, with a ``sleep`` that parks on virtual time.

    ``parks`` counts calls to ``sleep``: a test waits for it to grow to know that the code
    under test finished its step and went back to sleep.
    """

    def __init__(self, start: datetime = START) -> None:
        self._now = start
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.parks = 0
        self._parked = asyncio.Event()

    def __call__(self) -> datetime:
        return self._now

    def advance_now(self, seconds: float) -> None:
        """Moves time without waking sleepers (for code that only reads the clock)."""
        self._now += timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        self.parks += 1
        self._parked.set()
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(
            self._sleepers, (self._now + timedelta(seconds=seconds), next(self._seq), future)
        )
        await future

    def sleeping(self) -> int:
        return sum(1 for _, _, future in self._sleepers if not future.done())

    async def wait_parked(self, after: int) -> None:
        """Waits (real time, 10 s at most) until ``sleep`` was called more than ``after`` times."""
        async with asyncio.timeout(10):
            while self.parks <= after:
                self._parked.clear()
                await self._parked.wait()

    async def settle(self) -> None:
        """Lets every task run until all of them sleep on virtual time again."""
        for _ in range(3):
            for _ in range(20):
                await asyncio.sleep(0)
            while self.sleeping() == 0:
                await self.wait_parked(self.parks)

    async def advance(self, seconds: float) -> None:
        """Moves time forward, waking each due sleeper in turn and letting it park again."""
        target = self._now + timedelta(seconds=seconds)
        while self._sleepers and self._sleepers[0][0] <= target:
            wake_at, _, future = heapq.heappop(self._sleepers)
            if future.done():  # cancelled: the sleeper was woken by something else
                continue
            self._now = max(self._now, wake_at)
            before = self.parks
            future.set_result(None)
            await self.wait_parked(before)
        self._now = target


Mode = Literal["up", "503", "connect_error", "timeout", "slow"]


@dataclass
class Creation:
    key: str
    body: dict[str, Any]
    user: str
    demande: dict[str, Any]


@dataclass
class FakeSiSiao:
    """Plays SI SIAO behind ``httpx.MockTransport``; every knob is a plain attribute."""

    clock: Callable[[], datetime]
    base_path: str = "/api"
    client_id: str = "ivr-115"
    client_secret: str = "secret"
    token_ttl: int = 900
    mode: Mode = "up"
    slow_seconds: float = 10.0
    malformed_next: int = 0
    fail_next: int = 0
    lose_next_creation_answers: int = 0
    reject_with: tuple[int, dict[str, Any]] | None = None
    fail_creations_after: int | None = None
    refuse_batches: bool = False
    token_requests: int = 0
    requests: list[httpx.Request] = field(default_factory=list)
    request_times: list[datetime] = field(default_factory=list)
    creations: list[Creation] = field(default_factory=list)
    creation_attempts: int = 0
    batch_calls: int = 0
    attempted_keys: list[str] = field(default_factory=list)
    tokens: dict[str, datetime] = field(default_factory=dict)
    _by_key: dict[str, Creation] = field(default_factory=dict)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.request_times.append(self.clock())
        if self.mode == "503":
            return _problem(503, "SI SIAO est en maintenance.")
        if self.mode == "connect_error":
            raise httpx.ConnectError("connection refused", request=request)
        if self.mode == "timeout":
            raise httpx.ReadTimeout("read timed out", request=request)
        if self.mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        path = request.url.path.removeprefix(self.base_path)
        if path == "/oauth/token":
            return self._token(request)
        if self.fail_next:
            self.fail_next -= 1
            return _problem(503, "Surcharge momentanée.")
        if not self._authorised(request):
            return _problem(401, "Jeton d'accès absent, expiré ou révoqué.")
        if self.malformed_next:
            self.malformed_next -= 1
            return httpx.Response(200, content=b'{"personnes": [{"id": 12', headers=_JSON)
        if request.method == "GET" and path == "/v1/personnes":
            return self._search(request)
        if request.method == "GET" and path.startswith("/v1/menages/"):
            return self._menage(path.rsplit("/", 1)[1])
        if request.method == "GET" and path.endswith("/statut"):
            return self._statut(path.split("/")[3])
        if request.method == "POST" and path == "/v1/demandes-urgence/lot":
            return self._create_batch(request)
        if request.method == "POST" and path == "/v1/demandes-urgence":
            return self._create(request)
        return _problem(404, "Ressource inconnue.")

    def _token(self, request: httpx.Request) -> httpx.Response:
        self.token_requests += 1
        credentials = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode())
        if request.headers.get("Authorization") != f"Basic {credentials.decode()}":
            return httpx.Response(401, json={"error": "invalid_client"})
        token = secrets.token_hex(8)
        self.tokens[token] = self.clock() + timedelta(seconds=self.token_ttl)
        body = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}
        return httpx.Response(200, json=body)

    def _authorised(self, request: httpx.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        expires = self.tokens.get(token)
        return scheme == "Bearer" and expires is not None and expires > self.clock()

    def _search(self, request: httpx.Request) -> httpx.Response:
        phone = request.url.params.get("telephone")
        realm = request.headers.get(REALM_HEADER, "production")
        found = [PERSONNE] if phone in ("+33639980101", "06 39 98 01 01") else []
        if realm == "test":
            found = [{**PERSONNE, "id": "3109999999", "nom": "SONDE"}]
        return httpx.Response(200, json={"personnes": found, "total": len(found)})

    def _menage(self, menage_id: str) -> httpx.Response:
        if menage_id != MENAGE["id"]:
            return _problem(404, f"Ménage {menage_id} introuvable.")
        return httpx.Response(200, json=MENAGE)

    def _statut(self, demande_id: str) -> httpx.Response:
        for creation in self.creations:
            if creation.demande["id"] == demande_id:
                return httpx.Response(
                    200,
                    json={
                        "demande_id": demande_id,
                        "statut": "en_attente",
                        "libelle": "En attente d'orientation",
                        "date_mise_a_jour": creation.demande["date_creation"],
                    },
                )
        return _problem(404, f"Demande {demande_id} introuvable.")

    def _create(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        user = request.headers.get(USER_HEADER)
        if not key or not user:
            return _problem(422, "Requête invalide : en-têtes obligatoires absents.")
        status, body = self._create_one(key, user, json.loads(request.content))
        self._maybe_lose_answer(request)
        return httpx.Response(status, json=body)

    def _create_batch(self, request: httpx.Request) -> httpx.Response:
        self.batch_calls += 1
        if self.refuse_batches:
            return _problem(422, "Requête invalide : lot illisible.")
        resultats = []
        for element in json.loads(request.content)["demandes"]:
            key = element["cle_idempotence"]
            status, body = self._create_one(key, element["utilisateur"], element["demande"])
            outcome: dict[str, Any] = {"cle_idempotence": key, "statut": status}
            outcome["demande" if status < 300 else "probleme"] = body
            resultats.append(outcome)
        self._maybe_lose_answer(request)
        return httpx.Response(200, json={"resultats": resultats})

    def _maybe_lose_answer(self, request: httpx.Request) -> None:
        if self.lose_next_creation_answers:
            # SI SIAO did the work, but the answer never reached us.
            self.lose_next_creation_answers -= 1
            raise httpx.ReadTimeout("connection reset after processing", request=request)

    def _create_one(self, key: str, user: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.creation_attempts += 1
        self.attempted_keys.append(key)
        if (
            self.fail_creations_after is not None
            and len(self.creations) >= self.fail_creations_after
        ):
            return 503, _problem_body(503, "SI SIAO est en maintenance.")
        previous = self._by_key.get(key)
        if previous is not None:
            return 200, previous.demande
        if self.reject_with is not None:
            return self.reject_with
        if "menage_id" in body and body["menage_id"] != MENAGE["id"]:
            return 422, _problem_body(422, f"Ménage {body['menage_id']} introuvable dans SI SIAO.")
        demande = {
            "id": str(4_500_000_001 + len(self.creations)),
            "menage_id": body.get("menage_id") or str(2_780_000_100 + len(self.creations)),
            "type": "urgence",
            "statut": "en_attente",
            "departement": body["departement"],
            "observations": body.get("observations", ""),
            "date_creation": self.clock().isoformat(),
            "auteur": user,
        }
        creation = Creation(key=key, body=body, user=user, demande=demande)
        self.creations.append(creation)
        self._by_key[key] = creation
        return 201, demande


_JSON = {"Content-Type": "application/json"}

PERSONNE: dict[str, Any] = {
    "id": "3100000001",
    "nom": "MARTIN",
    "prenom": "Sophie",
    "date_naissance": "1988-04-12",
    "sexe": "F",
    "telephone": "+33639980101",
    "menage_id": "2780000001",
}

MENAGE: dict[str, Any] = {
    "id": "2780000001",
    "composition": "Femme seule avec enfant(s)",
    "publics_specifiques": ["FVV"],
    "personne_reference_id": "3100000001",
    "membres": [
        PERSONNE,
        {**PERSONNE, "id": "3100000002", "prenom": "Léo", "sexe": "M", "telephone": None},
    ],
    "demandes_ouvertes": [],
}


def _problem_body(status: int, detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": "Erreur", "status": status, "detail": detail}


def _problem(status: int, detail: str) -> httpx.Response:
    return httpx.Response(
        status,
        json=_problem_body(status, detail),
        headers={"Content-Type": "application/problem+json"},
    )


@dataclass(frozen=True)
class ReceivedMail:
    sender: str
    recipients: list[str]
    data: bytes


class FakeSmtpServer(socketserver.ThreadingTCPServer):
    """A tiny SMTP server on 127.0.0.1 that keeps what it receives (no auth, no TLS)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.received: list[ReceivedMail] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def __enter__(self) -> FakeSmtpServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: FakeSmtpServer

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 faux-smtp ESMTP")
        sender, recipients, data = "", [], b""
        while line := self.rfile.readline():
            command = line.decode("ascii", "replace").strip()
            verb = command.upper()
            if verb.startswith(("EHLO", "HELO")):
                self.reply("250 faux-smtp")
            elif verb.startswith("MAIL FROM:"):
                sender = command[10:].strip().strip("<>")
                self.reply("250 OK")
            elif verb.startswith("RCPT TO:"):
                recipients.append(command[8:].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 fin par <CRLF>.<CRLF>")
                chunks = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    chunks.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                data = b"".join(chunks)
                self.server.received.append(ReceivedMail(sender, recipients, data))
                sender, recipients = "", []
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 au revoir")
                return
            else:
                self.reply("250 OK")
