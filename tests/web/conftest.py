"""The consoles over HTTP: a real SQLite record store, the real in-memory runtime, SI SIAO
played by ``FakeSiSiao`` behind ``httpx.MockTransport``, and a signed-in browser helper."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from geoloc.index import GeoIndex
from geoloc.locator import Locator
from geoloc.store import RecentPositions
from ivr.flow import build_flow
from ivr.records.db import make_engine, upgrade
from ivr.records.models import AccountRole
from ivr.records.store import RecordStore
from ivr.runtime.live_state import InMemoryLiveState
from ivr.runtime.queries import CallQueries
from ivr.runtime.runtime import CallRuntime, MediaCommand
from ivr.web import STATIC_DIR, ConsoleDeps, build_console_router, create_account
from ivr.web.callbacks import RecordingPlacer
from ivr.web.limits import BodyLimits
from ivr.web.recordings import InMemoryRecordingSource
from routing.config import RoutingConfig
from routing.loader import load_config
from sisiao_link.client import HttpSiSiaoClient
from sisiao_link.lookup import LookupService
from sisiao_link.outbox import Outbox
from tests.sisiao_link.fakes import FakeSiSiao, VirtualClock

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
LISTENER_PHONE = "+33261910910"  # « Écoutant 1 — 115 Essonne » in config/departments.yaml
LINE_115_91 = "+33353010910"
CALLER = "+33639980101"  # Sophie MARTIN's household in the SI SIAO fake


@pytest.fixture(scope="session")
def config() -> RoutingConfig:
    return load_config(REPO / "config" / "departments.yaml")


@pytest.fixture(scope="session")
def locator() -> Locator:
    return Locator(GeoIndex.load())


class NullTransport:
    """A transport that only remembers the media commands the runtime hands it."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, list[MediaCommand]]] = []

    async def deliver(self, call_id: str, commands: list[MediaCommand]) -> None:
        self.delivered.append((call_id, commands))


@dataclass
class World:
    store: RecordStore
    runtime: CallRuntime
    outbox: Outbox
    sisiao: FakeSiSiao
    positions: RecentPositions
    clock: VirtualClock
    transport: NullTransport
    banner: list[str | None] = field(default_factory=lambda: [None])
    accepted: list[str] = field(default_factory=list)
    recordings: InMemoryRecordingSource = field(default_factory=InMemoryRecordingSource)
    callbacks: RecordingPlacer = field(default_factory=RecordingPlacer)
    deps: ConsoleDeps | None = None

    def audit(self) -> list[tuple[str, str, str, str | None]]:
        return [(e.actor, e.action, e.object_type, e.object_id) for e in self.store.audit_entries()]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ivr.sqlite3'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def world(
    engine: sa.Engine, config: RoutingConfig, locator: Locator
) -> AsyncIterator[tuple[World, FastAPI]]:
    clock = VirtualClock()
    store = RecordStore(engine, clock)
    runtime = CallRuntime(build_flow(config), InMemoryLiveState(), clock)
    sisiao = FakeSiSiao(clock=clock)

    async def no_sleep(_: float) -> None:
        return None

    async with httpx.AsyncClient(transport=sisiao.transport()) as http:
        client = HttpSiSiaoClient(
            http, "https://sisiao.test/api", "ivr-115", "secret", clock, sleep=no_sleep
        )
        lookups = LookupService(client, clock, timeout=4.0)
        outbox = Outbox(engine, client, clock)
        positions = RecentPositions(window=timedelta(hours=1), clock=clock)
        w = World(store, runtime, outbox, sisiao, positions, clock, NullTransport())

        def accepted(_config: RoutingConfig, text: str) -> None:
            w.accepted.append(text)

        deps = ConsoleDeps(
            records=store,
            calls=CallQueries(runtime),
            lookups=lookups,
            outbox=outbox,
            banner=lambda: w.banner[0],
            positions=positions,
            locator=locator,
            config=lambda: config,
            clock=clock,
            session_secret="a test secret of some length",
            on_config_accepted=accepted,
            recordings=w.recordings,
            callbacks=w.callbacks,
        )
        w.deps = deps
        app = FastAPI()
        app.add_middleware(BodyLimits)  # as ``ivr.app.create_app`` assembles the service
        app.include_router(build_console_router(deps))
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
        yield w, app
        await lookups.aclose()
        await runtime.drain()


@pytest.fixture
def store(world: tuple[World, FastAPI]) -> RecordStore:
    return world[0].store


@pytest.fixture
async def browser(world: tuple[World, FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=world[1])
    async with httpx.AsyncClient(transport=transport, base_url="https://consoles.test") as client:
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "the page has a CSRF field"
    return found.group(1)


async def sign_in(browser: httpx.AsyncClient, login: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the CSRF token of the signed-in session."""
    page = await browser.get("/connexion")
    response = await browser.post(
        "/connexion", data={"login": login, "password": password, "csrf": csrf_of(page.text)}
    )
    assert response.status_code == 303, response.text
    home = await browser.get(response.headers["location"])
    return csrf_of(home.text)


def add_people(store: RecordStore) -> None:
    """One account per role, all with ``PASSWORD``."""
    create_account(
        store,
        "c.dupont",
        PASSWORD,
        [(AccountRole.LISTENER, "91")],
        display_name="Claire Dupont",
        phone=LISTENER_PHONE,
    )
    create_account(store, "r.leroy", PASSWORD, [(AccountRole.REFERENT, "91")])
    create_account(store, "s.national", PASSWORD, [(AccountRole.SUPPORT, None)])
    create_account(store, "a.national", PASSWORD, [(AccountRole.ADMIN_NATIONAL, None)])
    create_account(store, "a.essonne", PASSWORD, [(AccountRole.ADMIN_DEPARTEMENT, "91")])


def shown(response: httpx.Response) -> str:
    """The page's text as a person reads it (HTML entities decoded)."""
    return html.unescape(response.text)


async def attempt(
    browser: httpx.AsyncClient, login: str, password: str = PASSWORD
) -> httpx.Response:
    """One sign-in attempt through the form (no redirect followed)."""
    page = await browser.get("/connexion")
    return await browser.post(
        "/connexion", data={"login": login, "password": password, "csrf": csrf_of(page.text)}
    )


def message_of(response: httpx.Response) -> str:
    """The sign-in page's message (the alert above the form)."""
    found = re.search(
        r'<p class="(?:info|errors)" role="(?:alert|status)" id="message-connexion">([^<]*)</p>',
        response.text,
    )
    assert found is not None, response.text
    return html.unescape(found.group(1))
