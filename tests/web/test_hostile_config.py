"""Hostile routing files on the admin page: each one gets a French 422 (or 413) naming
what is wrong, and the routing in force stays."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from ivr.web.routes import admin_config
from routing.config import RoutingConfig
from routing.safe_yaml import MAX_CONFIG_BYTES
from tests.web.conftest import REPO, World, add_people, shown, sign_in

Setup = tuple[World, FastAPI]
HOSTILE = REPO / "tests" / "data" / "hostile"
SHIPPED = (REPO / "config" / "departments.yaml").read_text(encoding="utf-8")
TOO_BIG = "departments.yaml: fichier trop volumineux (2 Mo au plus)"

EXPECTED = {
    "billion-laughs": "billion-laughs.yaml:8: les alias YAML (*nom) développent le fichier "
    "au-delà de 200 000 éléments : fichier refusé sans être développé",
    "python-object": "python-object.yaml:2: l'étiquette YAML « !!python/object/apply:os.system "
    "» n'est pas permise",
    "python-name": "python-name.yaml:3: l'étiquette YAML « !!python/name:os.system » n'est pas "
    "permise",
    "deep-lists": "deep-lists.yaml:2: imbrication trop profonde (plus de 50 niveaux",
    "merge-laughs": "merge-laughs.yaml:7: les alias YAML (*nom) développent le fichier",
    "recursive-alias": "recursive-alias.yaml:3: l'alias « *loop » renvoie à un élément qui le "
    "contient",
}


def padded(size: int) -> str:
    """The shipped routing file, with a trailing comment to weigh ``size`` bytes."""
    text = SHIPPED.rstrip("\n") + "\n# "
    return text + "x" * (size - len(text.encode("utf-8")) - 1) + "\n"


@pytest.fixture
async def admin(browser: httpx.AsyncClient, world: Setup) -> str:
    add_people(world[0].store)
    return await sign_in(browser, "a.national")


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED.items()))
async def test_given_hostile_upload_then_french_422_and_the_routing_in_force_stays(
    browser: httpx.AsyncClient, world: Setup, admin: str, name: str, expected: str
) -> None:
    content = (HOSTILE / f"{name}.yaml").read_bytes()
    response = await browser.post(
        "/admin/configuration",
        data={"csrf": admin, "texte": ""},
        files={"fichier": (f"{name}.yaml", content, "application/yaml")},
    )
    assert response.status_code == 422
    page = shown(response)
    assert f"{name}.yaml : 1 erreur" in page
    assert expected in page
    assert world[0].accepted == []


async def test_given_hostile_text_pasted_then_the_same_french_422(
    browser: httpx.AsyncClient, world: Setup, admin: str
) -> None:
    text = (HOSTILE / "python-object.yaml").read_text(encoding="utf-8")
    response = await browser.post("/admin/configuration", data={"csrf": admin, "texte": text})
    assert response.status_code == 422
    assert "departments.yaml:2: l'étiquette YAML « !!python/object/apply" in shown(response)
    assert world[0].accepted == []


@pytest.mark.parametrize("form", ["urlencoded", "multipart"])
async def test_given_pasted_text_over_1_mib_within_2_mo_then_it_is_checked_and_accepted(
    browser: httpx.AsyncClient, world: Setup, admin: str, form: str
) -> None:
    text = padded(1_900_000)
    fields = {"csrf": admin, "texte": text}
    if form == "urlencoded":
        response = await browser.post("/admin/configuration", data=fields)
    else:
        response = await browser.post(
            "/admin/configuration", data=fields, files={"fichier": ("", b"", "text/plain")}
        )
    assert response.status_code == 303, shown(response)[:2000]
    assert world[0].accepted == [text]


@pytest.mark.parametrize("form", ["urlencoded", "multipart"])
async def test_given_pasted_text_over_2_mo_then_413_in_french(
    browser: httpx.AsyncClient, world: Setup, admin: str, form: str
) -> None:
    text = padded(MAX_CONFIG_BYTES + 1)
    fields = {"csrf": admin, "texte": text}
    if form == "urlencoded":
        response = await browser.post("/admin/configuration", data=fields)
    else:
        response = await browser.post(
            "/admin/configuration", data=fields, files={"fichier": ("", b"", "text/plain")}
        )
    assert response.status_code == 413
    assert TOO_BIG in shown(response)
    assert world[0].accepted == []


async def test_given_upload_over_2_mo_then_413_in_french(
    browser: httpx.AsyncClient, world: Setup, admin: str
) -> None:
    content = padded(MAX_CONFIG_BYTES + 1).encode("utf-8")
    response = await browser.post(
        "/admin/configuration",
        data={"csrf": admin, "texte": ""},
        files={"fichier": ("gros.yaml", content, "application/yaml")},
    )
    assert response.status_code == 413
    assert "gros.yaml: fichier trop volumineux (2 Mo au plus)" in shown(response)


async def test_given_a_huge_declared_body_then_413_before_reading_it(
    browser: httpx.AsyncClient, world: Setup, admin: str
) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(100):  # 100 Mo, were it all read
            pulled += 1
            yield b"x" * 1_000_000

    response = await browser.post(
        "/admin/configuration",
        content=body(),
        headers={
            "content-type": "multipart/form-data; boundary=b",
            "content-length": str(100_000_000),
        },
    )
    assert response.status_code == 413
    assert TOO_BIG in shown(response)
    assert pulled <= 1


async def test_given_a_huge_body_of_unknown_length_then_413_once_past_the_limit(
    browser: httpx.AsyncClient, world: Setup, admin: str
) -> None:
    pulled = 0
    head = (
        f'--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{admin}\r\n'
        '--b\r\nContent-Disposition: form-data; name="fichier"; filename="gros.yaml"\r\n'
        "Content-Type: application/yaml\r\n\r\n"
    ).encode()

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        yield head
        for _ in range(100):  # 100 Mo, were it all read
            pulled += 1
            yield b"x" * 1_000_000

    response = await browser.post(
        "/admin/configuration",
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413
    assert TOO_BIG in shown(response)
    assert pulled <= admin_config.form_limit("multipart/form-data") // 1_000_000 + 1


async def test_given_a_malformed_form_then_french_422(
    browser: httpx.AsyncClient, world: Setup, admin: str
) -> None:
    response = await browser.post(
        "/admin/configuration",
        content=b"--b\r\nnot a header\r\n\r\n--b--\r\n",
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 422
    assert "formulaire illisible" in shown(response)


async def test_given_a_check_longer_than_the_limit_then_refused_and_nothing_applied(
    browser: httpx.AsyncClient, world: Setup, admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def stuck(text: str, file: str = "<config>") -> RoutingConfig:
        release.wait(30)
        raise AssertionError("released")

    assert world[0].deps is not None
    world[0].deps.config_check_timeout = world[0].deps.config_check_timeout / 75  # 0.2 s
    monkeypatch.setattr(admin_config, "parse_config", stuck)
    try:
        response = await browser.post(
            "/admin/configuration", data={"csrf": admin, "texte": SHIPPED}
        )
    finally:
        release.set()
    assert response.status_code == 422
    assert "departments.yaml: vérification trop longue (plus de 0,2 s) : fichier refusé" in shown(
        response
    )
    assert world[0].accepted == []


def test_given_the_size_limit_then_one_constant_for_the_page_and_the_loader() -> None:
    from routing import loader

    assert MAX_CONFIG_BYTES == 2_000_000
    for module in (admin_config, loader):
        assert "2_000_000" not in Path(module.__file__ or "").read_text(encoding="utf-8")


async def test_given_a_signed_in_listener_posting_an_oversize_form_then_413_in_french(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    csrf = await sign_in(browser, "c.dupont")
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        yield f"csrf={csrf}&departement=91&presence=".encode()
        for _ in range(100):  # 100 Mo, were it all read
            pulled += 1
            yield b"x" * 1_000_000

    response = await browser.post(
        "/console/disponibilite",
        content=body(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert "Ce formulaire dépasse la taille permise (256 Kio au plus)" in shown(response)
    assert pulled <= 1
