"""Browser tests: the assembled service in uvicorn, driven by Debian's ``chromium``.

The service is built as ``ivr serve`` builds it on its embedded defaults (the routing file of
the repository, SQLite and the live state in a temporary data folder, no telephony
configured) and served by uvicorn on a free loopback port, in a thread of this process: the
tests reach its ``Services`` and push calls through its ``CallRuntime`` as a telephony
transport would (``Phones``). The accounts are created by ``ivr accounts add``.

Playwright for Python drives the ``chromium`` of the system (``IVR_CHROMIUM``, by default
``/usr/bin/chromium``; nothing is downloaded). Without it the tests are skipped on a
developer's machine and fail when ``IVR_REQUIRE_SERVERS=1`` (set by ``.ci/run``, which
installs the package). Each test opens tabs (``tab``, ``open_tab``): every JavaScript error,
uncaught exception or Content-Security-Policy violation in a tab fails the test, and every
page a tab shows is saved as a screenshot under ``var/browser-artifacts/`` (or
``IVR_BROWSER_ARTIFACTS``), one folder per test.

Adding a test of a new page::

    pytestmark = pytest.mark.browser

    def test_given_x_then_y(tab: Tab, live: LiveServer) -> None:
        tab.sign_in("admin-departement")  # a key of PEOPLE
        tab.goto("/admin/routage")  # screenshotted
        tab.page.get_by_label("Commentaire").fill("nouveau poste")
        tab.submit("Enregistrer")  # waits for the next page, screenshotted
        tab.expect_text("Version 2 enregistrée")  # waits up to 10 s
        live.ring("appel-1")  # a call through the service's runtime
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
import uvicorn
from click.testing import CliRunner
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Locator,
    Page,
    Playwright,
    Response,
    expect,
    sync_playwright,
)

from ivr.app import create_app
from ivr.cli import main as ivr_cli
from ivr.composition import Services, build_services
from ivr.flow.vocabulary import (
    CallerHungUp,
    CallStarted,
    Dial,
    DialOutcome,
    DialResult,
    DigitsReceived,
    Event,
)
from ivr.runtime.runtime import MediaCommand
from ivr.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("IVR_CHROMIUM") or "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("IVR_BROWSER_ARTIFACTS") or REPO / "var" / "browser-artifacts")
PASSWORD = "un mot de passe de test solide"
TIMEOUT_MS = 10_000  # the longest any step waits for what it expects
POLL_MS = 5_000  # the consoles' polling period (console.js)

LISTENER_PHONE = "+33261910910"  # « Écoutant 1 — 115 Essonne » in config/departments.yaml
LINE_115_91 = "+33353010910"  # the 115 of the Essonne
CALLER = "+33639980101"

T = TypeVar("T")


# --------------------------------------------------------------------------- people


@dataclass(frozen=True, slots=True)
class Person:
    """An account of the live service, created by ``ivr accounts add``."""

    login: str
    roles: tuple[str, ...]  # as ``--role`` takes them: ``ecoutant:91``, ``admin-national``
    name: str
    home: str  # where ``/`` and signing in lead
    heading: str  # the title of that page
    phone: str | None = None


PEOPLE = {
    "ecoutant": Person(
        "c.dupont",
        ("ecoutant:91",),
        "Claire Dupont",
        "/console",
        "Console écoutant — 115 Essonne (91)",
        phone=LISTENER_PHONE,
    ),
    "referent": Person(
        "r.leroy", ("referent:91",), "Romain Leroy", "/referent", "Référent SI SIAO (palier 1)"
    ),
    "support": Person(
        "s.martin",
        ("support",),
        "Sarah Martin",
        "/support",
        "Support national (palier 2)",
    ),
    # A second agent, who types their post at sign-in (``sign_in(..., post=...)``): the
    # screen pop's tests keep their post and tickets apart from the first agent's.
    "support-poste": Person(
        "s.bernard", ("support",), "Sophie Bernard", "/support", "Support national (palier 2)"
    ),
    "admin-departement": Person(
        "a.essonne", ("admin-departement:91",), "Alain Essonne", "/admin", "Administration"
    ),
    "admin-national": Person(
        "a.national", ("admin-national",), "Nadia National", "/admin", "Administration"
    ),
}


def add_accounts(people: dict[str, Person]) -> None:
    """Each person's account, through ``ivr accounts add`` (the data folder of the
    environment's ``IVR_DATA_DIR``)."""
    runner = CliRunner()
    for person in people.values():
        args = ["accounts", "add", person.login, "--name", person.name, "--password", PASSWORD]
        for role in person.roles:
            args += ["--role", role]
        if person.phone:
            args += ["--phone", person.phone]
        done = runner.invoke(ivr_cli, args, catch_exceptions=False)
        assert done.exit_code == 0, done.output
        assert f"compte « {person.login} » créé" in done.output


# --------------------------------------------------------------------------- the service


class Phones:
    """The telephony, played by the test: a transport that keeps what the runtime asks of
    it; the test answers and hangs up through ``LiveServer``."""

    def __init__(self) -> None:
        self.delivered: dict[str, list[MediaCommand]] = {}

    async def deliver(self, call_id: str, commands: list[MediaCommand]) -> None:
        self.delivered.setdefault(call_id, []).extend(commands)

    def rung(self, call_id: str) -> list[str]:
        """The numbers the runtime dialled for this call, in order."""
        return [
            target.number
            for command in self.delivered.get(call_id, [])
            if isinstance(command, Dial)
            for target in command.targets
        ]


@dataclass
class LiveServer:
    """The assembled service in uvicorn, in a thread with its own event loop."""

    services: Services
    url: str
    loop: asyncio.AbstractEventLoop
    phones: Phones = field(default_factory=Phones)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coro`` in the server's event loop (where its runtime lives)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    # Calls, as a telephony transport reports them to the runtime.

    def ring(self, call_id: str, caller: str = CALLER, line: str = LINE_115_91) -> list[str]:
        """A call arrives on ``line``; returns the numbers the runtime dialled for it."""
        runtime = self.services.runtime

        async def arrive() -> None:
            media = await runtime.start_call(CallStarted(call_id, line, caller), self.phones)
            await self.phones.deliver(call_id, media)
            await runtime.drain()

        self.run(arrive())
        return self.phones.rung(call_id)

    def send(self, call_id: str, event: Event) -> list[str]:
        """Report ``event`` of the call (keys pressed, a dial's result, a hang-up) as the
        transport would; returns the numbers dialled for the call so far."""
        runtime = self.services.runtime

        async def step() -> None:
            await self.phones.deliver(call_id, await runtime.handle(call_id, event))
            await runtime.drain()

        self.run(step())
        return self.phones.rung(call_id)

    def press(self, call_id: str, digits: str) -> list[str]:
        """The caller presses ``digits`` in a menu."""
        return self.send(call_id, DigitsReceived(digits))

    def answer(self, call_id: str, number: str) -> None:
        """``number``, ringing for the call, picks up."""
        self.send(call_id, DialResult(((number, DialOutcome.ANSWERED),)))

    def hang_up(self, call_id: str) -> None:
        """The caller hangs up."""
        self.send(call_id, CallerHungUp())


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory, _chromium_path: Path) -> Iterator[LiveServer]:
    """The service as ``ivr serve`` runs it on its defaults, with one account per role."""
    data_dir = tmp_path_factory.mktemp("ivr-live")
    with pytest.MonkeyPatch.context() as env:
        # The embedded defaults, whatever the developer's environment configures.
        for name in [n for n in os.environ if n.startswith("IVR_")]:
            env.delenv(name)
        env.setenv("IVR_DATA_DIR", str(data_dir))
        services = build_services(Settings(config_path=REPO / "config" / "departments.yaml"))
        add_accounts(PEOPLE)
    app = create_app(services)
    sock = _loopback_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", ws="none", http="h11"
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=serve, name="ivr-live-server", daemon=True)
    thread.start()
    for _ in range(300):
        if server.started or not thread.is_alive():
            break
        threading.Event().wait(0.05)
    assert server.started, "the service did not start"
    try:
        yield LiveServer(services, f"http://127.0.0.1:{port}", loop)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        assert not thread.is_alive(), "the service did not stop"


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="package")
def _chromium_path() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"chromium absent ({CHROMIUM}): apt-get install chromium"
    if os.environ.get("IVR_REQUIRE_SERVERS") == "1":
        pytest.fail(f"{message}, and IVR_REQUIRE_SERVERS=1: browser tests may not skip")
    pytest.skip(message)


@pytest.fixture(scope="package")
def _playwright(_chromium_path: Path) -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def chromium(_playwright: Playwright, _chromium_path: Path) -> Iterator[Browser]:
    """Headless chromium of the system, shared by the tests (each has its own contexts)."""
    browser = _playwright.chromium.launch(executable_path=str(_chromium_path), headless=True)
    try:
        yield browser
    finally:
        browser.close()


def _slug(text: str, limit: int = 60) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "page"


def _test_folder(node: pytest.Item) -> str:
    """``test_sign_in/test-given-...-role[referent]`` → a folder name per test and case."""
    name = _slug(getattr(node, "originalname", node.name), 100)
    callspec = getattr(node, "callspec", None)
    return f"{name}-{_slug(callspec.id)}" if callspec is not None else name


class Tab:
    """One person's browser tab on the live service: what it shows is screenshotted, what
    goes wrong in its JavaScript is kept (and fails the test at its end)."""

    def __init__(self, context: BrowserContext, base_url: str, shots: Path, name: str) -> None:
        self.context = context
        self.page: Page = context.new_page()
        self.base_url = base_url
        self.shots = shots
        self.name = name
        self.errors: list[str] = []
        self.allowed: list[re.Pattern[str]] = []
        self.taken = 0
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.on("console", self._console)
        self.page.on("pageerror", self._page_error)

    def _console(self, message: ConsoleMessage) -> None:
        # CSP violations, failed loads of a script or style sheet, console.error calls.
        url = message.location.get("url", "")
        if message.type == "error" and not url.endswith("/favicon.ico"):  # the browser's own
            self.errors.append(f"console: {message.text} ({url})")

    def _page_error(self, error: Error) -> None:
        self.errors.append(f"uncaught: {error.message}")

    def allow(self, pattern: str) -> None:
        """A console error this test expects (e.g. the 401 of a refused sign-in)."""
        self.allowed.append(re.compile(pattern))

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    # Looking.

    def shot(self, label: str | None = None) -> Path:
        """A full-page screenshot, numbered in the order taken."""
        self.taken += 1
        what = label or urlsplit(self.page.url).path
        path = self.shots / f"{self.name}-{self.taken:02d}-{_slug(what)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def expect_text(self, text: str | re.Pattern[str], timeout: float = TIMEOUT_MS) -> None:
        """Wait until the page shows ``text`` (polling pages update by themselves)."""
        expect(self.page.locator("body")).to_contain_text(text, timeout=timeout)

    def expect_no_text(self, text: str | re.Pattern[str], timeout: float = TIMEOUT_MS) -> None:
        expect(self.page.locator("body")).not_to_contain_text(text, timeout=timeout)

    def tick(self, ms: int = POLL_MS) -> None:
        """Run now the page's timers due in the next ``ms`` (its next polling round), after
        ``page.clock.install()`` was called before the page loaded."""
        self.page.clock.run_for(ms)

    def heading(self) -> str:
        return self.page.locator("h1").inner_text()

    # Going places.

    def goto(self, path: str) -> Response | None:
        """Open ``path`` of the service (redirects followed) and screenshot it."""
        response = self.page.goto(self.base_url + path)
        self.shot()
        return response

    def submit(self, button: str, *, exact: bool = True) -> None:
        """Click the button named ``button`` and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=button, exact=exact).click()
        self.shot()

    def sign_in(
        self, who: str | Person, password: str = PASSWORD, *, post: str | None = None
    ) -> Person:
        """Sign in through the form as ``PEOPLE[who]`` (or ``who``), landing on the home page;
        ``post``: the national support post typed in the form (``#poste``)."""
        person = PEOPLE[who] if isinstance(who, str) else who
        self.goto("/connexion")
        self.page.get_by_label("Identifiant").fill(person.login)
        self.page.get_by_label("Mot de passe").fill(password)
        if post is not None:
            self.page.locator("#poste").fill(post)
        self.submit("Se connecter")
        return person


@dataclass
class Tabs:
    """The tabs a test opened (one browser context each: separate sessions)."""

    chromium: Browser
    base_url: str
    shots: Path
    opened: list[Tab] = field(default_factory=list)

    def open(self) -> Tab:
        # French language and Paris time (date fields keep chromium's own en-US format: its
        # French resources are in the chromium-l10n package, not installed).
        context = self.chromium.new_context(locale="fr-FR", timezone_id="Europe/Paris")
        tab = Tab(context, self.base_url, self.shots, f"tab{len(self.opened) + 1}")
        self.opened.append(tab)
        return tab


@pytest.fixture
def open_tab(
    chromium: Browser, live: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Tab]]:
    """Opens a tab of its own session; at the test's end each is screenshotted and closed,
    and any JavaScript error or CSP violation seen in it fails the test."""
    module = request.node.module.__name__.rsplit(".", 1)[-1]
    shots = ARTIFACTS / module / _test_folder(request.node)
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    tabs = Tabs(chromium, live.url, shots)
    yield tabs.open
    errors: list[str] = []
    for tab in tabs.opened:
        with contextlib.suppress(Error):  # a page that cannot be captured: its errors count
            tab.shot("fin")
        errors += [f"{tab.name}: {e}" for e in tab.unexpected_errors()]
        tab.context.close()
    if errors:
        (shots / "errors.txt").write_text("\n".join(errors) + "\n", encoding="utf-8")
        pytest.fail("JavaScript errors in the browser:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def tab(open_tab: Callable[[], Tab]) -> Tab:
    """A first tab (a fresh session, signed out)."""
    return open_tab()


def seconds_since(tag: Locator, at_least: int = 0) -> int:
    """The seconds of a call's « depuis N s » tag (listener console, support screen pop),
    read again (up to ``TIMEOUT_MS``) until they reach ``at_least``."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        text = tag.inner_text()
        found = re.fullmatch(r"depuis (\d+) s", text)
        assert found, text
        if int(found.group(1)) >= at_least or time.monotonic() > deadline:
            return int(found.group(1))
        tag.page.wait_for_timeout(200)
