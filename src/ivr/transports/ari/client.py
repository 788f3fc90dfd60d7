"""A thin typed client for the Asterisk REST Interface (ARI) on httpx, and its event stream.

Only the resources the call flows need are wrapped. Every identifier the service can choose
(channels it originates, bridges, playbacks, recordings) is chosen by the caller of these
methods, so that an event which arrives before the REST reply can already be matched.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import quote, urlencode

import httpx

Json = dict[str, Any]
Params = Mapping[str, str | int | bool | list[str] | None]

log = logging.getLogger(__name__)


class AriError(Exception):
    """Asterisk answered a request with an error status (or could not be reached)."""

    def __init__(self, status: int, method: str, path: str, message: str = "") -> None:
        super().__init__(f"{method} {path}: {status} {message}".strip())
        self.status = status
        self.method = method
        self.path = path


class AriNotFoundError(AriError):
    """404: the channel, bridge, playback or recording is gone (often a normal race)."""


class AriUnavailableError(AriError):
    """Asterisk could not be reached at all (connection refused, timeout)."""


def _encode(params: Params) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list):
            out[key] = ",".join(value)
        else:
            out[key] = str(value)
    return out


class AriClient:
    """REST calls to one Asterisk, under ``<base_url>/ari``."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, user: str, password: str) -> None:
        self.http = http
        self.base = base_url.rstrip("/") + "/ari"
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self.user = user
        self.password = password
        self.base_url = base_url.rstrip("/")

    async def request(
        self, method: str, path: str, params: Params | None = None, body: Json | None = None
    ) -> Any:
        query = urlencode(_encode(params or {}), quote_via=quote)
        # The query is encoded here, once: httpx would parse and merge it again.
        url = f"{self.base}{path}?{query}" if query else self.base + path
        try:
            response = await self.http.request(
                method,
                url,
                headers=self._headers,
                content=json.dumps(body).encode() if body is not None else None,
            )
        except httpx.HTTPError as exc:
            raise AriUnavailableError(0, method, path, repr(exc)) from exc
        if response.status_code == 404:
            raise AriNotFoundError(404, method, path, response.text[:200])
        if response.status_code >= 400:
            raise AriError(response.status_code, method, path, response.text[:200])
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # ----------------------------------------------------------------- channels

    async def list_channels(self) -> list[Json]:
        return list(await self.request("GET", "/channels") or [])

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{channel_id}", {"reason": reason})

    async def play(
        self, channel_id: str, playback_id: str, media: list[str], lang: str | None = None
    ) -> None:
        await self.request(
            "POST", f"/channels/{channel_id}/play/{playback_id}", {"media": media, "lang": lang}
        )

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{playback_id}")

    async def get_playback(self, playback_id: str) -> Json:
        result: Json = await self.request("GET", f"/playbacks/{playback_id}")
        return result

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/channels/{channel_id}/moh", {"mohClass": moh_class})

    async def stop_moh(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{channel_id}/moh")

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/ring")

    async def ring_stop(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{channel_id}/ring")

    async def originate(
        self,
        *,
        channel_id: str,
        endpoint: str,
        app: str,
        app_args: list[str],
        caller_id: str | None,
        timeout_s: int,
        originator: str | None = None,
        formats: str | None = None,
    ) -> Json:
        """``originator`` (the channel this one is dialled for) or ``formats`` (codecs by
        name, comma-separated) set the new channel's formats; Asterisk refuses both."""
        if originator is not None and formats is not None:
            raise ValueError("originate: originator and formats cannot both be given")
        result: Json = await self.request(
            "POST",
            f"/channels/{channel_id}",
            {
                "endpoint": endpoint,
                "app": app,
                "appArgs": ",".join(app_args),
                "callerId": caller_id,
                "timeout": timeout_s,
                "originator": originator,
                "formats": formats,
            },
        )
        return result

    async def record_channel(self, channel_id: str, name: str, fmt: str = "wav") -> None:
        await self.request(
            "POST",
            f"/channels/{channel_id}/record",
            {"name": name, "format": fmt, "ifExists": "fail", "beep": False},
        )

    # ----------------------------------------------------------------- bridges

    async def list_bridges(self) -> list[Json]:
        return list(await self.request("GET", "/bridges") or [])

    async def create_bridge(self, bridge_id: str, name: str) -> None:
        await self.request("POST", f"/bridges/{bridge_id}", {"type": "mixing", "name": name})

    async def add_channels(self, bridge_id: str, channel_ids: list[str]) -> None:
        await self.request("POST", f"/bridges/{bridge_id}/addChannel", {"channel": channel_ids})

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{bridge_id}")

    async def record_bridge(self, bridge_id: str, name: str, fmt: str = "wav") -> None:
        await self.request(
            "POST",
            f"/bridges/{bridge_id}/record",
            {"name": name, "format": fmt, "ifExists": "fail", "beep": False},
        )

    # ----------------------------------------------------------------- recordings

    async def stop_recording(self, name: str) -> None:
        """Stop and keep a live recording (``DELETE`` would discard it: never used)."""
        await self.request("POST", f"/recordings/live/{name}/stop")

    # ----------------------------------------------------------------- application

    async def get_application(self, app: str) -> Json:
        result: Json = await self.request("GET", f"/applications/{app}")
        return result

    def events_url(self, app: str) -> str:
        """The websocket URL of the application's event stream."""
        scheme = "wss" if self.base.startswith("https") else "ws"
        rest = self.base.split("://", 1)[1]
        return f"{scheme}://{rest}/events?" + urlencode({"app": app, "subscribeAll": "false"})


# --------------------------------------------------------------------------- events


EventConnector = Callable[[str, Mapping[str, str]], AbstractAsyncContextManager[AsyncIterator[str]]]
"""Opens the event stream at a URL with headers; yields the text messages until it closes."""


@asynccontextmanager
async def websocket_events(
    url: str, headers: Mapping[str, str]
) -> AsyncIterator[AsyncIterator[str]]:
    """The real event stream: a websocket to Asterisk (``websockets`` asyncio client)."""
    from websockets.asyncio.client import connect

    # max_queue keeps reading off the socket while the consumer works, so that Asterisk's
    # 100 ms write timeout never drops us; ping keeps NAT and proxies from closing the stream.
    async with connect(
        url, additional_headers=dict(headers), max_queue=4096, ping_interval=20, open_timeout=10
    ) as ws:

        async def messages() -> AsyncIterator[str]:
            async for message in ws:
                yield message if isinstance(message, str) else message.decode()

        yield messages()


async def quietly(request: Awaitable[Any]) -> None:
    """A clean-up request whose failure changes nothing (the thing is already gone)."""
    try:
        await request
    except AriError as exc:
        if not isinstance(exc, AriNotFoundError):
            log.info("clean-up request failed: %s", exc)
