"""HTTP client of our SI SIAO contract (``docs/sisiao-openapi.yaml``), implementing the port.

Every call has a deadline; calls that are safe to repeat (reads, the token request, and request
creation, which carries an idempotency key) are retried on transient failures; a circuit
breaker makes calls fail at once while SI SIAO is down; the OAuth2 token is cached and
refreshed before it expires, and once more when SI SIAO answers 401.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pydantic

from resilience import Backoff, retry
from sisiao_link.breaker import CircuitBreaker
from sisiao_link.port import (
    IDEMPOTENCY_HEADER,
    REALM_HEADER,
    USER_HEADER,
    CheckResult,
    Clock,
    Demande,
    DemandeStatus,
    ElementLot,
    JetonAcces,
    LotDemandesUrgence,
    Menage,
    NouvelleDemandeUrgence,
    NouvellePersonne,
    Personne,
    Probleme,
    ResultatElementLot,
    ResultatLot,
    ResultatRecherchePersonnes,
    SiSiaoRejected,
    SiSiaoUnavailable,
    VitalFunctionsReport,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)
Sleep = Callable[[float], Awaitable[None]]

TOKEN_PATH = "/oauth/token"
TEST_REALM = "test"
PROBE_PHONE = "+33639980000"
"""Phone number of the probe person seeded in SI SIAO's test realm (ARCEP fiction range)."""
PROBE_USER = "sonde-fonctions-vitales"


class _TransientFailure(SiSiaoUnavailable):
    """A failure worth one more attempt when the call is safe to repeat."""


class _UnauthorizedError(Exception):
    """SI SIAO refused our token; fetch a new one and try once more."""


class HttpSiSiaoClient:
    """SI SIAO over HTTP: OAuth2 client credentials, deadlines, retries, circuit breaker."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        client_id: str,
        client_secret: str,
        clock: Clock,
        *,
        timeout: float = 5.0,
        retry_attempts: int = 3,
        retry_max_delay: float = 5.0,
        retry_initial_wait: float = 0.2,
        retry_max_wait: float = 2.0,
        sleep: Sleep = asyncio.sleep,
        breaker: CircuitBreaker | None = None,
        token_refresh_margin: timedelta = timedelta(seconds=30),
        probe_phone: str = PROBE_PHONE,
        probe_departement: str = "75",
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._timeout = timeout
        self._retry_attempts = retry_attempts
        self._retry_max_delay = retry_max_delay
        self._retry_initial_wait = retry_initial_wait
        self._retry_max_wait = retry_max_wait
        self._sleep = sleep
        self.breaker = breaker if breaker is not None else CircuitBreaker(clock)
        self._token_margin = token_refresh_margin
        self._probe_phone = probe_phone
        self._probe_departement = probe_departement
        self._token: str | None = None
        self._token_expires_at: datetime | None = None
        self._token_lock = asyncio.Lock()

    # -- the port ---------------------------------------------------------------------------

    async def search_personnes_by_phone(self, telephone: str) -> list[Personne]:
        return await self._search({"telephone": telephone}, realm=None, retry=True, gate=True)

    async def search_personnes_by_identity(
        self, nom: str, prenom: str | None, date_naissance: date
    ) -> list[Personne]:
        params = {"nom": nom, "date_naissance": date_naissance.isoformat()}
        if prenom:
            params["prenom"] = prenom
        return await self._search(params, realm=None, retry=True, gate=True)

    async def get_menage(self, menage_id: str) -> Menage | None:
        return await self._read(f"/v1/menages/{menage_id}", Menage)

    async def create_demande_urgence(
        self, demande: NouvelleDemandeUrgence, utilisateur: str, idempotency_key: str
    ) -> Demande:
        return await self._create(demande, utilisateur, idempotency_key, realm=None, retry=True)

    async def create_demandes_urgence(self, lot: Sequence[ElementLot]) -> list[ResultatElementLot]:
        keys = [element.cle_idempotence for element in lot]

        def parse(response: httpx.Response) -> list[ResultatElementLot]:
            resultats = _parse(ResultatLot, response).resultats
            if [r.cle_idempotence for r in resultats] != keys:
                raise SiSiaoUnavailable("réponse illisible de SI SIAO (lot incomplet)")
            return resultats

        # Safe to repeat for the same reason as a single creation: every element has its key.
        return await self._call(
            "POST",
            "/v1/demandes-urgence/lot",
            parse,
            json=LotDemandesUrgence(demandes=list(lot)).model_dump(mode="json", exclude_none=True),
            retry=True,
            gate=True,
        )

    async def get_demande_status(self, demande_id: str) -> DemandeStatus | None:
        return await self._read(f"/v1/demandes/{demande_id}/statut", DemandeStatus)

    async def check_vital_functions(self) -> VitalFunctionsReport:
        """One honest attempt at each function in the test realm: no retry, breaker bypassed."""
        checked_at = self._clock()
        params = {"telephone": self._probe_phone}
        search = await _timed(self._search(params, realm=TEST_REALM, retry=False, gate=False))
        probe = NouvelleDemandeUrgence(
            nouvelle_personne=NouvellePersonne(nom="SONDE", prenom="Fonctions vitales"),
            departement=self._probe_departement,
            observations="Sonde automatique des fonctions vitales (espace de test)",
        )
        creation = await _timed(
            self._create(probe, PROBE_USER, str(uuid.uuid4()), realm=TEST_REALM, retry=False)
        )
        return VitalFunctionsReport(
            checked_at=checked_at, person_search=search, request_creation=creation
        )

    # -- calls ------------------------------------------------------------------------------

    async def _search(
        self, params: Mapping[str, str], *, realm: str | None, retry: bool, gate: bool
    ) -> list[Personne]:
        def parse(response: httpx.Response) -> list[Personne]:
            return _parse(ResultatRecherchePersonnes, response).personnes

        return await self._call(
            "GET", "/v1/personnes", parse, params=params, realm=realm, retry=retry, gate=gate
        )

    async def _read(self, path: str, model: type[M]) -> M | None:
        """One object read by ``GET path``; ``None`` when SI SIAO does not know it (404)."""

        def parse(response: httpx.Response) -> M | None:
            if response.status_code == 404:
                return None
            return _parse(model, response)

        return await self._call("GET", path, parse, retry=True, gate=True, not_found_ok=True)

    async def _create(
        self,
        demande: NouvelleDemandeUrgence,
        utilisateur: str,
        idempotency_key: str,
        *,
        realm: str | None,
        retry: bool,
    ) -> Demande:
        def parse(response: httpx.Response) -> Demande:
            return _parse(Demande, response)

        # Safe to repeat: SI SIAO answers a repeated Idempotency-Key with the request it
        # created the first time, whether or not our first attempt saw the answer.
        return await self._call(
            "POST",
            "/v1/demandes-urgence",
            parse,
            json=demande.model_dump(mode="json", exclude_none=True),
            headers={IDEMPOTENCY_HEADER: idempotency_key, USER_HEADER: utilisateur},
            realm=realm,
            retry=retry,
            gate=retry,
        )

    async def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[httpx.Response], T],
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        realm: str | None = None,
        retry: bool,
        gate: bool,
        not_found_ok: bool = False,
    ) -> T:
        if gate and not self.breaker.allow():
            raise SiSiaoUnavailable("SI SIAO indisponible (appels suspendus après des échecs)")
        all_headers = dict(headers or {})
        if realm is not None:
            all_headers[REALM_HEADER] = realm

        async def attempt() -> T:
            response = await self._send_authenticated(method, path, params, json, all_headers)
            _raise_for_status(response, not_found_ok=not_found_ok)
            return parse(response)

        try:
            result = await self._retrying(attempt) if retry else await attempt()
        except SiSiaoUnavailable:
            self.breaker.record_failure()
            raise
        except SiSiaoRejected:
            self.breaker.record_success()  # SI SIAO is alive: it answered and said no
            raise
        except BaseException:
            self.breaker.release()
            raise
        self.breaker.record_success()
        return result

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        return await retry(
            attempt,
            retry_on=_TransientFailure,
            attempts=self._retry_attempts,
            max_delay_s=self._retry_max_delay,
            backoff=Backoff(self._retry_initial_wait, maximum_s=self._retry_max_wait, jitter=False),
            sleep=self._sleep,
        )

    async def _send_authenticated(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json: Any,
        headers: Mapping[str, str],
    ) -> httpx.Response:
        token = await self._access_token()
        try:
            return await self._send(method, path, params, json, headers, token)
        except _UnauthorizedError:
            pass
        # The token was revoked or SI SIAO restarted: one fresh token, one more try.
        self._forget_token(token)
        token = await self._access_token()
        try:
            return await self._send(method, path, params, json, headers, token)
        except _UnauthorizedError:
            raise SiSiaoUnavailable("SI SIAO refuse l'authentification du service") from None

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json: Any,
        headers: Mapping[str, str],
        token: str,
    ) -> httpx.Response:
        response = await self._exchange(
            method,
            path,
            params=params,
            json=json,
            headers={**headers, "Authorization": f"Bearer {token}"},
        )
        if response.status_code == 401:
            raise _UnauthorizedError
        return response

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> httpx.Response:
        # asyncio.timeout bounds the whole exchange (httpx's timeouts bound each socket
        # operation only, so a server trickling bytes could otherwise hold us for ever).
        try:
            async with asyncio.timeout(self._timeout):
                return await self._http.request(
                    method,
                    self._base_url + path,
                    params=params,
                    json=json,
                    data=data,
                    headers=headers,
                    auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                    timeout=self._timeout,
                )
        except (TimeoutError, httpx.TimeoutException):
            raise _TransientFailure(
                f"SI SIAO n'a pas répondu dans le délai ({self._timeout:g} s)"
            ) from None
        except httpx.TransportError as exc:
            raise _TransientFailure(f"SI SIAO injoignable ({type(exc).__name__})") from None

    # -- token ------------------------------------------------------------------------------

    async def _access_token(self) -> str:
        async with self._token_lock:
            now = self._clock()
            if (
                self._token is not None
                and self._token_expires_at is not None
                and now < self._token_expires_at - self._token_margin
            ):
                return self._token
            response = await self._exchange(
                "POST",
                TOKEN_PATH,
                data={"grant_type": "client_credentials"},
                auth=(self._client_id, self._client_secret),
            )
            if response.status_code in (400, 401):
                raise SiSiaoUnavailable("SI SIAO refuse les identifiants du service")
            _raise_for_status(response, not_found_ok=False)
            jeton = _parse(JetonAcces, response)
            self._token = jeton.access_token
            self._token_expires_at = now + timedelta(seconds=jeton.expires_in)
            return jeton.access_token

    def _forget_token(self, token: str) -> None:
        if self._token == token:
            self._token = None
            self._token_expires_at = None


def _raise_for_status(response: httpx.Response, *, not_found_ok: bool) -> None:
    status = response.status_code
    if status < 400 or (status == 404 and not_found_ok):
        return
    if status == 429 or status >= 500:
        raise _TransientFailure(f"SI SIAO indisponible (HTTP {status})")
    raise SiSiaoRejected(_reason(response), status_code=status)


def _reason(response: httpx.Response) -> str:
    try:
        return Probleme.model_validate_json(response.content).detail
    except pydantic.ValidationError:
        return f"SI SIAO a refusé l'opération (HTTP {response.status_code})"


def _parse(model: type[M], response: httpx.Response) -> M:
    try:
        return model.model_validate_json(response.content)
    except pydantic.ValidationError:
        log.warning("malformed SI SIAO answer to %s: %.200r", response.request.url, response.text)
        raise SiSiaoUnavailable("réponse illisible de SI SIAO") from None


async def _timed(call: Awaitable[object]) -> CheckResult:
    started = time.perf_counter()
    try:
        await call
    except (SiSiaoUnavailable, SiSiaoRejected) as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return CheckResult(ok=False, duration_ms=elapsed, error=str(exc))
    return CheckResult(ok=True, duration_ms=(time.perf_counter() - started) * 1000)
