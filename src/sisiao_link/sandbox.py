"""A sandbox SI SIAO implementing our contract, for development, demos and end-to-end tests.

SQLite (or any SQLAlchemy URL) holds fictitious households; nothing here is real data. Two
realms: the real one and ``test`` (header ``SISIAO-Espace: test``), where the vital functions
monitor creates its probe requests. Tokens live in memory, so a restarted sandbox answers 401
to old tokens, as a restarted SI SIAO would.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Form, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials, OAuth2
from pydantic import BaseModel
from sqlalchemy.pool import StaticPool

from sisiao_link.port import (
    IDEMPOTENCY_HEADER,
    MAX_LOT,
    REALM_HEADER,
    REPLAYED_HEADER,
    USER_HEADER,
    Clock,
    Demande,
    DemandeStatus,
    JetonAcces,
    LotDemandesUrgence,
    Menage,
    NouvelleDemandeUrgence,
    Probleme,
    ResultatElementLot,
    ResultatLot,
    ResultatRecherchePersonnes,
    StatutDemande,
)
from sisiao_link.sandbox_store import Espace, ProblemError, SandboxStore, seed_sandbox

DEFAULT_CLIENTS: Mapping[str, str] = {"ivr-115": "bac-a-sable"}

T = TypeVar("T")


# -- HTTP ----------------------------------------------------------------------------------

_oauth2 = OAuth2(
    flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl="/oauth/token")),
    scheme_name="siSiaoClientCredentials",
    description="OAuth2 client credentials (RFC 6749 §4.4), one client per service.",
    auto_error=False,
)
RealmHeader = Annotated[
    Espace,
    Header(alias=REALM_HEADER, description="`test` pour l'espace de test"),
]
_basic = HTTPBasic(auto_error=False, scheme_name="clientSecretBasic")


class _Tokens:
    def __init__(self, clients: Mapping[str, str], clock: Clock, ttl: timedelta) -> None:
        self._clients = dict(clients)
        self._clock = clock
        self._ttl = ttl
        self._tokens: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def issue(self, client_id: str, client_secret: str) -> JetonAcces | None:
        expected = self._clients.get(client_id)
        if expected is None or not secrets.compare_digest(expected, client_secret):
            return None
        token = secrets.token_urlsafe(24)
        with self._lock:
            now = self._clock()
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + self._ttl
        return JetonAcces(
            access_token=token, token_type="Bearer", expires_in=int(self._ttl.total_seconds())
        )

    def valid(self, token: str) -> bool:
        with self._lock:
            expires = self._tokens.get(token)
        return expires is not None and expires > self._clock()


class _Outage:
    """Sandbox-only switch that makes the contract's endpoints answer 503 (for demos)."""

    def __init__(self) -> None:
        self.active = False


class OutageSwitch(BaseModel):
    active: bool


def _problem_response(problem: Probleme, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type="application/problem+json",
        headers=dict(headers or {}),
    )


_PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Probleme, "description": "Jeton absent, expiré ou révoqué"},
    503: {"model": Probleme, "description": "SI SIAO indisponible"},
}


def create_sandbox_app(
    db_path_or_url: str,
    seed: bool = True,
    *,
    clients: Mapping[str, str] = DEFAULT_CLIENTS,
    clock: Clock | None = None,
    token_ttl: timedelta = timedelta(minutes=15),
) -> FastAPI:
    """The sandbox SI SIAO as an ASGI app over ``db_path_or_url`` (a file path or a URL)."""
    the_clock: Clock = clock if clock is not None else (lambda: datetime.now(UTC))
    engine = _engine(db_path_or_url)
    store = SandboxStore(engine, the_clock)
    store.create_schema()
    if seed:
        seed_sandbox(store)
    tokens = _Tokens(clients, the_clock, token_ttl)
    outage = _Outage()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="SI SIAO — contrat d'interface du service 115",
        version="1.0.0",
        description=(
            "Contract between the 115 call-handling service and SI SIAO, in SI SIAO's own "
            "vocabulary (personne, ménage, demande). Authentication: OAuth2 client credentials. "
            f"Every write carries the acting listener's nominative SI SIAO account in "
            f"`{USER_HEADER}` and an `{IDEMPOTENCY_HEADER}`. The header `{REALM_HEADER}: test` "
            "selects the test realm used by the vital functions probe. Errors are RFC 9457 "
            "problem details whose `detail` is shown to the listener as is."
        ),
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.store = store
    app.state.engine = engine
    app.state.outage = outage
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_invalid)

    async def authenticated(
        authorization: Annotated[str | None, Depends(_oauth2)],
    ) -> None:
        if outage.active:
            raise ProblemError(503, "SI SIAO indisponible", "SI SIAO est en maintenance.")
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not tokens.valid(token):
            raise ProblemError(
                401, "Authentification requise", "Jeton d'accès absent, expiré ou révoqué."
            )

    protected: list[Any] = [Depends(authenticated)]

    # The endpoints are ``async def`` and query SQLite inline: each query takes well under a
    # millisecond, and two thread-pool hops per request (dependency, then endpoint) cost more
    # than the work itself. Fine for a sandbox; SI SIAO's real latency is not ours to model.
    _add_token_route(app, tokens)
    _add_reading_routes(app, store, protected)
    _add_demande_routes(app, store, protected)
    _add_sandbox_routes(app, store, outage)
    _document_problem_details(app)
    return app


async def _on_problem(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return _problem_response(exc.problem)


async def _on_invalid(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = "; ".join(_describe_error(error) for error in exc.errors())
    return _problem_response(
        Probleme(
            title="Requête invalide",
            status=422,
            detail=f"Requête invalide : {details}.",
            code="requete_invalide",
        )
    )


def _found(value: T | None, title: str, detail: str) -> T:
    """``value``, or a 404 problem when there is none."""
    if value is None:
        raise ProblemError(404, title, detail)
    return value


def _add_token_route(app: FastAPI, tokens: _Tokens) -> None:
    @app.post(
        "/oauth/token",
        response_model=JetonAcces,
        tags=["authentification"],
        summary="Jeton d'accès (OAuth2 client credentials)",
        responses={400: {"description": "grant_type non pris en charge"}},
    )
    async def token(
        grant_type: Annotated[str, Form()],
        basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form()] = None,
    ) -> Response | JetonAcces:
        if grant_type != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if basic is not None:
            client_id, client_secret = basic.username, basic.password
        issued = tokens.issue(client_id or "", client_secret or "")
        if issued is None:
            return JSONResponse(
                {"error": "invalid_client"},
                status_code=401,
                headers={"WWW-Authenticate": "Basic"},
            )
        return issued


def _add_reading_routes(app: FastAPI, store: SandboxStore, protected: list[Any]) -> None:
    @app.get(
        "/v1/personnes",
        response_model=ResultatRecherchePersonnes,
        tags=["personnes"],
        summary="Rechercher des personnes par téléphone, ou par nom et date de naissance",
        dependencies=protected,
        responses={**_PROBLEM_RESPONSES, 400: {"model": Probleme}},
    )
    async def search_personnes(
        espace: RealmHeader = Espace.PRODUCTION,
        telephone: Annotated[str | None, Query(max_length=32)] = None,
        nom: Annotated[str | None, Query(max_length=200)] = None,
        prenom: Annotated[str | None, Query(max_length=200)] = None,
        date_naissance: date | None = None,
    ) -> ResultatRecherchePersonnes:
        if telephone:
            found = store.search_by_phone(espace, telephone)
        elif nom and date_naissance:
            found = store.search_by_identity(espace, nom, prenom, date_naissance)
        else:
            raise ProblemError(
                400,
                "Critères insuffisants",
                "Indiquer un numéro de téléphone, ou un nom et une date de naissance.",
            )
        return ResultatRecherchePersonnes(personnes=found, total=len(found))

    @app.get(
        "/v1/menages/{menage_id}",
        response_model=Menage,
        tags=["ménages"],
        summary="Lire un ménage : membres, composition, publics spécifiques, demandes ouvertes",
        dependencies=protected,
        responses={**_PROBLEM_RESPONSES, 404: {"model": Probleme}},
    )
    async def get_menage(menage_id: str, espace: RealmHeader = Espace.PRODUCTION) -> Menage:
        menage = store.menage(espace, menage_id)
        return _found(menage, "Ménage introuvable", f"Ménage {menage_id} introuvable.")


def _add_demande_routes(app: FastAPI, store: SandboxStore, protected: list[Any]) -> None:
    @app.post(
        "/v1/demandes-urgence",
        response_model=Demande,
        status_code=201,
        tags=["demandes"],
        summary="Créer une demande d'urgence (115) pour un ménage ou une nouvelle personne",
        description=(
            f"Idempotent: a repeated `{IDEMPOTENCY_HEADER}` with the same body answers 200 "
            f"with the request created the first time (and `{REPLAYED_HEADER}: true`); the same "
            "key with another body answers 422."
        ),
        dependencies=protected,
        responses={
            **_PROBLEM_RESPONSES,
            200: {"model": Demande, "description": "Demande déjà créée avec cette clé"},
            409: {"model": Probleme, "description": "Demande d'urgence déjà ouverte"},
            422: {"model": Probleme, "description": "Demande refusée par SI SIAO"},
        },
    )
    async def create_demande_urgence(
        body: NouvelleDemandeUrgence,
        response: Response,
        idempotency_key: Annotated[
            str, Header(alias=IDEMPOTENCY_HEADER, min_length=8, max_length=200)
        ],
        utilisateur: Annotated[
            str,
            Header(
                alias=USER_HEADER,
                min_length=1,
                max_length=200,
                description="Compte SI SIAO nominatif de l'écoutant qui crée la demande",
            ),
        ],
        espace: RealmHeader = Espace.PRODUCTION,
    ) -> Demande:
        result = store.create_demande(espace, body, utilisateur, idempotency_key)
        if result.replayed:
            response.status_code = 200
            response.headers[REPLAYED_HEADER] = "true"
        return result.demande

    @app.post(
        "/v1/demandes-urgence/lot",
        response_model=ResultatLot,
        tags=["demandes"],
        summary="Créer des demandes d'urgence par lot, dans l'ordre (reprise après une panne)",
        description=(
            "Each element is created as by `POST /v1/demandes-urgence`, in the order given, "
            "under its own `cle_idempotence` and `utilisateur`; a refused element does not stop "
            "the others. The answer lists one result per element, in the same order, with the "
            f"status the element would have had alone. At most {MAX_LOT} elements."
        ),
        dependencies=protected,
        responses=_PROBLEM_RESPONSES,
    )
    async def create_demandes_urgence_lot(
        body: LotDemandesUrgence, espace: RealmHeader = Espace.PRODUCTION
    ) -> ResultatLot:
        return _create_lot(store, espace, body)

    @app.get(
        "/v1/demandes/{demande_id}/statut",
        response_model=DemandeStatus,
        tags=["demandes"],
        summary="Lire le statut d'une demande",
        dependencies=protected,
        responses={**_PROBLEM_RESPONSES, 404: {"model": Probleme}},
    )
    async def get_statut(demande_id: str, espace: RealmHeader = Espace.PRODUCTION) -> DemandeStatus:
        status = store.statut(espace, demande_id)
        return _found(status, "Demande introuvable", f"Demande {demande_id} introuvable.")


def _create_lot(store: SandboxStore, espace: Espace, lot: LotDemandesUrgence) -> ResultatLot:
    """Each element of a lot created as by ``POST /v1/demandes-urgence``, in order."""
    resultats = []
    for element in lot.demandes:
        key = element.cle_idempotence
        try:
            created = store.create_demande(espace, element.demande, element.utilisateur, key)
        except ProblemError as exc:
            resultats.append(
                ResultatElementLot(
                    cle_idempotence=key, statut=exc.problem.status, probleme=exc.problem
                )
            )
        else:
            resultats.append(
                ResultatElementLot(
                    cle_idempotence=key,
                    statut=200 if created.replayed else 201,
                    demande=created.demande,
                )
            )
    return ResultatLot(resultats=resultats)


def _add_sandbox_routes(app: FastAPI, store: SandboxStore, outage: _Outage) -> None:
    """Sandbox-only switches, outside the contract (and its schema)."""

    @app.put("/_sandbox/panne", include_in_schema=False)
    async def set_outage(switch: OutageSwitch) -> OutageSwitch:
        outage.active = switch.active
        return switch

    @app.put("/_sandbox/demandes/{demande_id}/statut", include_in_schema=False)
    async def set_statut(demande_id: str, statut: StatutDemande) -> Demande:
        demande = store.set_statut(demande_id, statut)
        return _found(demande, "Demande introuvable", f"Demande {demande_id} introuvable.")


def _document_problem_details(app: FastAPI) -> None:
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problem_details_in_schema(default_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def _problem_details_in_schema(document: dict[str, Any]) -> dict[str, Any]:
    """Declares what the sandbox really answers on errors: problem details, not FastAPI's
    default validation body."""
    problem = {"$ref": "#/components/schemas/Probleme"}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
                if status == "422" and schema.get("$ref", "").endswith("/HTTPValidationError"):
                    answer["description"] = "Requête invalide"
                    schema = problem
                if schema == problem:
                    answer["content"] = {"application/problem+json": {"schema": problem}}
    schemas = document.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return document


_LOCATIONS = {"header": "en-tête ", "query": "paramètre ", "path": "chemin ", "body": ""}


def _describe_error(error: Any) -> str:
    location = [str(part) for part in error.get("loc", ())]
    prefix = _LOCATIONS.get(location[0], "") if location else ""
    where = prefix + ".".join(location[1:] if location and location[0] in _LOCATIONS else location)
    message = "champ obligatoire" if error.get("type") == "missing" else error.get("msg", "")
    return f"{where} : {message}" if where.strip() else str(message)


def _engine(db_path_or_url: str) -> sa.Engine:
    url = db_path_or_url if "://" in db_path_or_url else f"sqlite:///{db_path_or_url}"
    if not url.startswith("sqlite"):
        return sa.create_engine(url)
    memory = url in ("sqlite://", "sqlite:///:memory:")
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if memory:
        options["poolclass"] = StaticPool
    engine = sa.create_engine(url, **options)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine
