"""Recording playback: who may listen, the page and the streamed audio (never the source's
address), every listen audited, retention, a missing file, an unreachable source; the ARI
and LaML adapters over mocked HTTP (the ARI request checked against Asterisk's Swagger)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
import respx
from fastapi import FastAPI

from ivr.composition import _recording_sources
from ivr.records.models import AccountRole
from ivr.records.purge import RetentionPolicy, purge
from ivr.records.store import CallRecord
from ivr.settings import Settings
from ivr.transports.ari.swagger import AriSpec
from ivr.web import create_account
from ivr.web.recordings import (
    AriRecordingSource,
    LamlRecordingSource,
    RecordingNotFoundError,
    RecordingRef,
    RecordingSourceError,
    RecordingSources,
    RecordingStream,
)
from tests.web.conftest import CALLER, LINE_115_91, PASSWORD, World, add_people, shown, sign_in

Setup = tuple[World, FastAPI]
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 600  # about 150 kB
TWILIO = "https://api.twilio.com/2010-04-01/Accounts/AC123/Recordings/RE42"


def seed(w: World, *, departement: str | None = "91", age: timedelta = timedelta(hours=2)) -> int:
    """A call of the 91's 115 with one recording held by the in-memory source."""
    now = w.clock()
    started = now - age
    w.store.write([CallRecord("call-1", "115", departement, CALLER, LINE_115_91, started, started)])
    w.recordings.add("mem:rec-1", AUDIO, "audio/wav")
    return w.store.add_recording("call-1", started, "mem:rec-1", 62.0, len(AUDIO))


async def body_of(stream: RecordingStream) -> bytes:
    data = b"".join([chunk async for chunk in stream.chunks])
    await stream.aclose()
    return data


# --------------------------------------------------------------------------- the pages


async def test_given_a_national_admin_then_the_recording_plays_through_the_service_audited(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    rec = seed(w)
    await sign_in(browser, "a.national")
    listing = await browser.get("/admin/enregistrements")
    assert listing.status_code == 200
    assert 'href="/admin/appels/call-1/enregistrements"' in listing.text
    page = await browser.get("/admin/appels/call-1/enregistrements")
    assert page.status_code == 200
    assert f'<audio controls preload="none" src="/admin/enregistrements/{rec}/audio"' in page.text
    assert "mem:rec-1" not in page.text + listing.text  # never the source's address
    assert "06 39 98 01 01" not in shown(page)  # no caller number needed to listen

    audio = await browser.get(f"/admin/enregistrements/{rec}/audio")
    assert audio.status_code == 200
    assert audio.content == AUDIO
    assert audio.headers["content-type"] == "audio/wav"
    assert audio.headers["cache-control"] == "no-store"
    assert audio.headers["content-length"] == str(len(AUDIO))
    entry = next(e for e in w.store.audit_entries() if e.action == "listen")
    assert (entry.actor, entry.object_type, entry.object_id) == (
        "a.national",
        "recording",
        str(rec),
    )
    assert entry.detail == {"appel": "call-1", "departement": "91"}
    assert ("a.national", "read", "call_recordings", "call-1") in w.audit()


async def test_given_a_departemental_admin_then_only_their_departement_is_heard(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    create_account(w.store, "a.paris", PASSWORD, [(AccountRole.ADMIN_DEPARTEMENT, "75")])
    rec = seed(w)
    await sign_in(browser, "a.essonne")
    assert (await browser.get(f"/admin/enregistrements/{rec}/audio")).content == AUDIO

    browser.cookies.clear()
    await sign_in(browser, "a.paris")
    assert "call-1" not in (await browser.get("/admin/enregistrements")).text
    page = await browser.get("/admin/appels/call-1/enregistrements")
    assert page.status_code == 403
    assert "Vous n'avez pas accès aux enregistrements" in shown(page)
    assert (await browser.get(f"/admin/enregistrements/{rec}/audio")).status_code == 403
    assert [e.actor for e in w.store.audit_entries() if e.action == "listen"] == ["a.essonne"]


@pytest.mark.parametrize("login", ["c.dupont", "r.leroy", "s.national"])
async def test_given_people_who_are_not_admins_then_403_on_recordings(
    browser: httpx.AsyncClient, world: Setup, login: str
) -> None:
    w = world[0]
    add_people(w.store)
    rec = seed(w)
    await sign_in(browser, login)
    for path in (
        "/admin/enregistrements",
        "/admin/appels/call-1/enregistrements",
        f"/admin/enregistrements/{rec}/audio",
    ):
        assert (await browser.get(path)).status_code == 403, path
    assert w.recordings.opened == []


async def test_given_a_call_without_departement_then_national_admins_only(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    rec = seed(w, departement=None)
    await sign_in(browser, "a.essonne")
    assert (await browser.get(f"/admin/enregistrements/{rec}/audio")).status_code == 403
    browser.cookies.clear()
    await sign_in(browser, "a.national")
    assert (await browser.get(f"/admin/enregistrements/{rec}/audio")).status_code == 200


async def test_given_no_session_then_the_audio_asks_to_sign_in(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    rec = seed(world[0])
    assert (await browser.get(f"/admin/enregistrements/{rec}/audio")).status_code == 401


async def test_given_a_recording_older_than_the_retention_then_not_played_even_before_purge(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    rec = seed(w, age=timedelta(days=91))
    message = "Enregistrement supprimé : la durée de conservation (90 jours) est échue."
    await sign_in(browser, "a.national")
    page = await browser.get("/admin/appels/call-1/enregistrements")
    assert message in shown(page)
    assert "<audio" not in page.text
    audio = await browser.get(f"/admin/enregistrements/{rec}/audio")
    assert audio.status_code == 410
    assert message in shown(audio)
    assert w.recordings.opened == []

    purge(w.store.engine, RetentionPolicy(), w.clock(), "cron")  # now purged: the same words
    audio = await browser.get(f"/admin/enregistrements/{rec}/audio")
    assert audio.status_code == 410
    assert message in shown(audio)
    assert message in shown(await browser.get("/admin/enregistrements"))


async def test_given_the_file_gone_at_the_source_then_410_in_french(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    rec = seed(w)
    w.recordings.files.clear()
    await sign_in(browser, "a.national")
    audio = await browser.get(f"/admin/enregistrements/{rec}/audio")
    assert audio.status_code == 410
    assert "n'existe plus sur le serveur de téléphonie" in shown(audio)
    assert not [e for e in w.store.audit_entries() if e.action == "listen"]


async def test_given_the_source_unreachable_then_a_502_page_in_french(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    rec = seed(w)
    w.recordings.unreachable = True
    await sign_in(browser, "a.national")
    audio = await browser.get(f"/admin/enregistrements/{rec}/audio")
    assert audio.status_code == 502
    assert "Serveur d'enregistrements injoignable" in shown(audio)
    assert audio.headers["content-type"].startswith("text/html")


async def test_given_a_location_no_source_handles_then_503_and_unknown_ids_404(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    now = w.clock()
    rec = w.store.add_recording("call-9", now, "ari:call-9-rec1-x")
    await sign_in(browser, "a.national")
    response = await browser.get(f"/admin/enregistrements/{rec}/audio")
    assert response.status_code == 503
    assert "n'est pas configurée" in shown(response)
    response = await browser.get("/admin/enregistrements/999/audio")
    assert response.status_code == 404
    assert "Aucun enregistrement n° 999." in shown(response)
    assert (await browser.get("/admin/appels/inconnu/enregistrements")).status_code == 404


async def test_given_the_ari_source_behind_the_service_then_asterisk_down_is_a_502(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    rec = w.store.add_recording("call-1", w.clock(), "ari:call-1-rec1-tok")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http:
        assert w.deps is not None
        w.deps.recordings = AriRecordingSource(http, "http://pbx.internal:8088", "ivr", "s3cret")
        await sign_in(browser, "a.national")
        response = await browser.get(f"/admin/enregistrements/{rec}/audio")
    assert response.status_code == 502
    assert "pbx.internal" not in response.text
    assert "s3cret" not in response.text


# --------------------------------------------------------------------------- the adapters


def ari_asterisk(seen: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    spec = AriSpec.load()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.raw_path.decode().partition("?")[0].removeprefix("/ari")
        op, params = spec.match(request.method, path, dict(request.url.params))
        assert op.nickname == "getStoredFile"
        if params["recordingName"] == "absent":
            return httpx.Response(404, json={"message": "Recording not found"})
        if params["recordingName"] == "locked":
            return httpx.Response(403, json={"message": "The recording file could not be opened"})
        return httpx.Response(200, content=AUDIO, headers={"content-type": "audio/x-wav"})

    return handler


async def test_given_an_ari_recording_then_the_documented_stored_file_request_with_basic_auth() -> (
    None
):
    seen: list[httpx.Request] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(ari_asterisk(seen))) as http:
        source = AriRecordingSource(http, "http://pbx.internal:8088/", "ivr", "s3cret")
        assert source.handles("ari:call-1-rec1-tok")
        assert not source.handles("https://x/y")
        stream = await source.open(RecordingRef(1, "call-1", "ari:call-1-rec1-tok"))
        assert stream.content_type == "audio/x-wav"
        assert await body_of(stream) == AUDIO
        with pytest.raises(RecordingNotFoundError):
            await source.open(RecordingRef(2, "call-1", "ari:absent"))
        with pytest.raises(RecordingSourceError):
            await source.open(RecordingRef(3, "call-1", "ari:locked"))
    (request, *_) = seen
    assert str(request.url) == "http://pbx.internal:8088/ari/recordings/stored/call-1-rec1-tok/file"
    assert request.method == "GET"
    expected = base64.b64encode(b"ivr:s3cret").decode()
    assert request.headers["authorization"] == f"Basic {expected}"


async def test_given_a_recording_name_with_odd_characters_then_it_stays_one_path_segment() -> None:
    seen: list[httpx.Request] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(ari_asterisk(seen))) as http:
        source = AriRecordingSource(http, "http://pbx.internal:8088", "ivr", "s3cret")
        await (await source.open(RecordingRef(1, "c", "ari:a/../b c"))).aclose()
    assert seen[0].url.raw_path == b"/ari/recordings/stored/a%2F..%2Fb%20c/file"


async def test_given_asterisk_unreachable_then_a_source_error() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http:
        source = AriRecordingSource(http, "http://pbx.internal:8088", "ivr", "s3cret")
        with pytest.raises(RecordingSourceError):
            await source.open(RecordingRef(1, "c", "ari:x"))


async def test_given_a_laml_recording_url_then_fetched_with_the_account_sid_and_token() -> None:
    async with respx.mock(assert_all_called=True) as router, httpx.AsyncClient() as http:
        route = router.get(TWILIO).respond(
            200, content=AUDIO, headers={"content-type": "audio/x-wav"}
        )
        router.get(TWILIO + "-gone").respond(404)
        router.get(TWILIO + "-down").respond(503)
        source = LamlRecordingSource(http, "AC123", "tok", ["api.twilio.com"])
        stream = await source.open(RecordingRef(1, "CA1", TWILIO, "audio/wav"))
        assert await body_of(stream) == AUDIO
        expected = base64.b64encode(b"AC123:tok").decode()
        assert route.calls.last.request.headers["authorization"] == f"Basic {expected}"
        with pytest.raises(RecordingNotFoundError):
            await source.open(RecordingRef(2, "CA1", TWILIO + "-gone"))
        with pytest.raises(RecordingSourceError):
            await source.open(RecordingRef(3, "CA1", TWILIO + "-down"))


async def test_given_a_url_off_the_provider_host_then_no_request_and_no_credentials() -> None:
    async with respx.mock(assert_all_called=False) as router, httpx.AsyncClient() as http:
        elsewhere = router.get("https://evil.example/rec").respond(200, content=b"x")
        source = LamlRecordingSource(http, "AC123", "tok", ["api.twilio.com"])
        assert not source.handles("https://evil.example/rec")
        assert not source.handles("http://api.twilio.com/plain-http")
        with pytest.raises(RecordingSourceError):
            await source.open(RecordingRef(1, "CA1", "https://evil.example/rec"))
        assert not elsewhere.called


async def test_given_a_redirect_to_storage_then_followed_without_the_credentials() -> None:
    storage = "https://media.storage.example/rec/RE42.wav?signature=abc"
    async with respx.mock(assert_all_called=True) as router, httpx.AsyncClient() as http:
        router.get(TWILIO).respond(302, headers={"location": storage})
        final = router.get(storage).respond(
            200, content=AUDIO, headers={"content-type": "audio/wav"}
        )
        source = LamlRecordingSource(http, "AC123", "tok", ["api.twilio.com"])
        assert await body_of(await source.open(RecordingRef(1, "CA1", TWILIO))) == AUDIO
        assert "authorization" not in final.calls.last.request.headers


async def test_given_a_non_audio_answer_then_the_recorded_media_type_is_served() -> None:
    async with respx.mock() as router, httpx.AsyncClient() as http:
        router.get(TWILIO).respond(200, content=AUDIO, headers={"content-type": "text/html"})
        source = LamlRecordingSource(http, "AC123", "tok", ["api.twilio.com"])
        stream = await source.open(RecordingRef(1, "CA1", TWILIO, "audio/mpeg"))
        assert stream.content_type == "audio/mpeg"
        await stream.aclose()


async def test_given_settings_then_the_composition_wires_both_sources() -> None:
    async with httpx.AsyncClient() as http:
        nothing = Settings(_env_file=None, ari_url=None, laml_account_sid=None)
        assert _recording_sources(nothing, http) is None
        settings = Settings(
            _env_file=None,
            ari_url="http://pbx.internal:8088",
            laml_account_sid="AC123",
            laml_auth_token="signing-key",
        )
        sources = _recording_sources(settings, http)
        assert isinstance(sources, RecordingSources)
        assert sources.handles("ari:call-1-rec1-tok")
        assert sources.handles(TWILIO)
        assert not sources.handles("https://evil.example/rec")
