"""The provider's REST API (Twilio ``2010-04-01``, SignalWire Compatibility API): calls, queues.

Both speak the same resources under their own base URL, with HTTP basic authentication
(account SID or project id, and the auth or API token):

* Twilio: ``https://api.twilio.com/2010-04-01``
* SignalWire: ``https://<space>.signalwire.com/api/laml/2010-04-01``

Placing a call is not idempotent (no idempotency key on the Calls resource), so it is retried
only when the request never left (connection refused, 429 "too many requests"); a 5xx or a
timeout after sending may have created the call, and ringing a listener twice is worse than
reporting the attempt failed. Updates and deletions are idempotent and retried on 5xx too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx

from resilience import Backoff, retry

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

CALL_PROGRESS_EVENTS = ("initiated", "ringing", "answered", "completed")


class ProviderError(Exception):
    """The provider's REST API did not do what was asked."""


class ProviderRejectedError(ProviderError):
    """A 4xx: the request itself is wrong (bad number, unknown call, bad credentials)."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"provider refused ({status}, code {code}): {message}")
        self.status = status
        self.code = code
        self.message = message


class ProviderUnavailableError(ProviderError):
    """A 5xx, a timeout or a network failure: the provider may be down."""


class _TransientError(ProviderUnavailableError):
    """A failure an idempotent request may repeat."""


class _NotSentError(_TransientError):
    """The request never reached the provider (or was refused before any effect): any
    request may repeat it."""


@dataclass(frozen=True, slots=True)
class OutboundCall:
    """A call the service places: who, presented as whom, and where its webhooks go."""

    to: str
    from_: str
    url: str  # LaML run when the callee answers
    status_callback: str
    timeout_s: int  # ring time before no-answer
    status_events: tuple[str, ...] = CALL_PROGRESS_EVENTS


class ProviderCalls(Protocol):
    """The port the transport uses to place and steer calls."""

    async def create_call(self, call: OutboundCall) -> str:
        """Place the call; returns its CallSid."""
        ...

    async def redirect_call(self, call_sid: str, url: str) -> None:
        """Make a live call fetch new LaML from ``url`` (abandoning what it runs now)."""
        ...

    async def end_call(self, call_sid: str, *, answered: bool) -> None:
        """Cancel a call still ringing, or hang up one in progress."""
        ...

    async def delete_queue(self, queue_sid: str) -> None:
        """Delete an empty queue (queues persist on Twilio until deleted)."""
        ...


class ProviderClient:
    """The REST API over an injected ``httpx.AsyncClient``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_base_url: str,
        account_sid: str,
        api_token: str,
        *,
        timeout_s: float = 5.0,
        attempts: int = 3,
        max_delay_s: float = 4.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._http = http
        self._base = f"{api_base_url.rstrip('/')}/Accounts/{account_sid}"
        self._auth = httpx.BasicAuth(account_sid, api_token)
        self._timeout = timeout_s
        self._attempts = attempts
        self._max_delay = max_delay_s
        self._sleep = sleep

    async def create_call(self, call: OutboundCall) -> str:
        data: dict[str, Any] = {
            "To": call.to,
            "From": call.from_,
            "Url": call.url,
            "Method": "POST",
            "StatusCallback": call.status_callback,
            "StatusCallbackMethod": "POST",
            "StatusCallbackEvent": list(call.status_events),
            "Timeout": str(call.timeout_s),
        }

        async def attempt() -> str:
            body = await self._send("POST", "/Calls.json", data, sent_may_have_acted=True)
            sid = body.get("sid") if isinstance(body, dict) else None
            if not isinstance(sid, str) or not sid:
                raise ProviderUnavailableError("provider answered without a call sid")
            return sid

        return await self._retrying(attempt, _NotSentError)

    async def redirect_call(self, call_sid: str, url: str) -> None:
        data = {"Url": url, "Method": "POST"}
        await self._retrying(
            lambda: self._send("POST", f"/Calls/{call_sid}.json", data), _TransientError
        )

    async def end_call(self, call_sid: str, *, answered: bool) -> None:
        data = {"Status": "completed" if answered else "canceled"}
        await self._retrying(
            lambda: self._send("POST", f"/Calls/{call_sid}.json", data), _TransientError
        )

    async def delete_queue(self, queue_sid: str) -> None:
        await self._retrying(
            lambda: self._send("DELETE", f"/Queues/{queue_sid}.json", None), _TransientError
        )

    # ----------------------------------------------------------------- plumbing

    async def _retrying(
        self, attempt: Callable[[], Awaitable[T]], retry_on: type[ProviderUnavailableError]
    ) -> T:
        return await retry(
            attempt,
            retry_on=retry_on,
            attempts=self._attempts,
            max_delay_s=self._max_delay,
            backoff=Backoff(0.2, maximum_s=1.0, jitter=False),
            sleep=self._sleep,
        )

    async def _send(
        self,
        method: str,
        path: str,
        data: dict[str, Any] | None,
        *,
        sent_may_have_acted: bool = False,
    ) -> Any:
        url = self._base + path
        try:
            response = await self._http.request(
                method, url, data=data, auth=self._auth, timeout=self._timeout
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise _NotSentError(f"provider unreachable: {error!r}") from error
        except httpx.TimeoutException as error:
            if sent_may_have_acted:
                raise ProviderUnavailableError(f"provider timed out: {error!r}") from error
            raise _TransientError(f"provider timed out: {error!r}") from error
        except httpx.HTTPError as error:
            raise ProviderUnavailableError(f"provider request failed: {error!r}") from error
        status = response.status_code
        if status == 429:
            raise _NotSentError("provider rate limit (429)")
        if status >= 500:
            message = f"provider error {status}"
            raise (
                ProviderUnavailableError(message)
                if sent_may_have_acted
                else _TransientError(message)
            )
        if status >= 400:
            code, message = _error_details(response)
            raise ProviderRejectedError(status, code, message)
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise ProviderUnavailableError(f"provider answered {status} with no JSON") from error


def _error_details(response: httpx.Response) -> tuple[int | None, str]:
    """Twilio and SignalWire errors: ``{"code": 21211, "message": "...", "status": 400}``."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200]
    if not isinstance(body, dict):
        return None, response.text[:200]
    code = body.get("code")
    message = body.get("message") or body.get("detail") or response.text[:200]
    return (code if isinstance(code, int) else None), str(message)
