"""Recording playback: the port the pages read recordings through, and its adapters.

A recording's ``location`` in the records says where its file is:

- ``ari:<recordingName>``: a stored recording on Asterisk, fetched with ARI
  ``GET /recordings/stored/{recordingName}/file`` (basic auth, ``IVR_ARI_USER``/``PASSWORD``);
- ``https://...``: the ``RecordingUrl`` a LaML provider (Twilio, SignalWire) gave, fetched
  with HTTP basic auth (account SID, API token) and only on the provider's API host.

The browser only ever talks to the service: the bytes are streamed through it, so neither
the PBX or provider URL nor any credential reaches the page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote, urlsplit

import httpx

CHUNK_BYTES = 64 * 1024


class RecordingNotFoundError(Exception):
    """The source no longer has the file (deleted, purged on its side)."""


class RecordingSourceError(Exception):
    """The source could not be reached or refused the request (not the browser's fault)."""


@dataclass(frozen=True, slots=True)
class RecordingRef:
    """What a source needs to find a recording's file."""

    id: int
    call_id: str
    location: str
    media_type: str = "audio/wav"


@dataclass(slots=True)
class RecordingStream:
    """An open recording: its content type, its size when known, and its bytes."""

    content_type: str
    chunks: AsyncIterator[bytes]
    size: int | None = None
    close: Callable[[], Awaitable[None]] | None = None

    async def aclose(self) -> None:
        if self.close is not None:
            await self.close()


class RecordingSource(Protocol):
    """Where recordings are read from (the port)."""

    def handles(self, location: str) -> bool:
        """Whether this source can open a recording stored at ``location``."""
        ...

    async def open(self, recording: RecordingRef) -> RecordingStream:
        """The recording's bytes; ``RecordingNotFoundError`` when the file is gone,
        ``RecordingSourceError`` when the source cannot be reached or refuses."""
        ...


def _audio_type(header: str | None, fallback: str) -> str:
    """The upstream's content type if it is audio, else the recorded media type."""
    value = (header or "").split(";")[0].strip().lower()
    return value if value.startswith("audio/") else fallback


async def _open_http(
    http: httpx.AsyncClient,
    request: httpx.Request,
    recording: RecordingRef,
    what: str,
    auth: httpx.Auth,
    *,
    follow_redirects: bool = False,
) -> RecordingStream:
    """Send ``request`` streaming; map the answer to the port's errors."""
    try:
        response = await http.send(
            request, stream=True, auth=auth, follow_redirects=follow_redirects
        )
    except httpx.HTTPError as exc:
        raise RecordingSourceError(f"{what}: {type(exc).__name__}") from exc
    if response.status_code != 200:
        await response.aclose()
        if response.status_code in (404, 410):
            raise RecordingNotFoundError(f"{what}: {response.status_code}")
        raise RecordingSourceError(f"{what}: HTTP {response.status_code}")
    # With a content encoding, httpx decodes: the upstream length is not the bytes served.
    length = (
        None if "content-encoding" in response.headers else response.headers.get("content-length")
    )

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in response.aiter_bytes(CHUNK_BYTES):
            yield chunk

    return RecordingStream(
        content_type=_audio_type(response.headers.get("content-type"), recording.media_type),
        chunks=chunks(),
        size=int(length) if length and length.isdigit() else None,
        close=response.aclose,
    )


class AriRecordingSource:
    """Stored recordings on Asterisk, through ARI (``location`` = ``ari:<recordingName>``)."""

    PREFIX = "ari:"

    def __init__(self, http: httpx.AsyncClient, base_url: str, user: str, password: str) -> None:
        self.http = http
        self.base = base_url.rstrip("/") + "/ari"
        self._auth = httpx.BasicAuth(user, password)

    def handles(self, location: str) -> bool:
        return location.startswith(self.PREFIX) and len(location) > len(self.PREFIX)

    def url_of(self, location: str) -> str:
        name = location[len(self.PREFIX) :]
        return f"{self.base}/recordings/stored/{quote(name, safe='')}/file"

    async def open(self, recording: RecordingRef) -> RecordingStream:
        request = self.http.build_request("GET", self.url_of(recording.location))
        return await _open_http(self.http, request, recording, "ARI", self._auth)


class LamlRecordingSource:
    """A LaML provider's recording URL, fetched with the account SID and API token.

    Only URLs on ``allowed_hosts`` (the provider's API host) and in HTTPS are fetched, so
    that the credentials never go anywhere else; a redirect to another host (a signed
    storage URL) is followed without them (httpx drops ``Authorization`` across origins).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        account_sid: str,
        token: str,
        allowed_hosts: Iterable[str],
    ) -> None:
        self.http = http
        self._auth = httpx.BasicAuth(account_sid, token)
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)

    def handles(self, location: str) -> bool:
        parts = urlsplit(location)
        return parts.scheme == "https" and (parts.hostname or "").lower() in self.allowed_hosts

    async def open(self, recording: RecordingRef) -> RecordingStream:
        if not self.handles(recording.location):
            raise RecordingSourceError("LaML: URL outside the provider's host")
        request = self.http.build_request("GET", recording.location)
        return await _open_http(
            self.http, request, recording, "LaML", self._auth, follow_redirects=True
        )


@dataclass(slots=True)
class RecordingSources:
    """Several sources behind one port: the first that handles a location opens it."""

    sources: Sequence[RecordingSource]

    def handles(self, location: str) -> bool:
        return any(s.handles(location) for s in self.sources)

    async def open(self, recording: RecordingRef) -> RecordingStream:
        for source in self.sources:
            if source.handles(recording.location):
                return await source.open(recording)
        raise RecordingSourceError("no source for this location")


@dataclass(slots=True)
class InMemoryRecordingSource:
    """Recordings held in memory, for tests and demos: location → bytes.

    ``unreachable`` makes every open fail as an unreachable source; ``opened`` lists the
    locations opened.
    """

    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    unreachable: bool = False
    opened: list[str] = field(default_factory=list)
    scheme: str = "mem:"

    def add(self, location: str, data: bytes, content_type: str = "audio/wav") -> None:
        self.files[location] = (data, content_type)

    def handles(self, location: str) -> bool:
        return location.startswith(self.scheme)

    async def open(self, recording: RecordingRef) -> RecordingStream:
        self.opened.append(recording.location)
        if self.unreachable:
            raise RecordingSourceError("in-memory source marked unreachable")
        found = self.files.get(recording.location)
        if found is None:
            raise RecordingNotFoundError(recording.location)
        data, content_type = found

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(data), CHUNK_BYTES):
                yield data[start : start + CHUNK_BYTES]

        return RecordingStream(content_type, chunks(), len(data))
