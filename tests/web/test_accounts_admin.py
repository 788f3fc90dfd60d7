"""Account management (``/admin/comptes``) and everyone's own password (``/mot-de-passe``):
each action, each refusal (scope, own account, CSRF), the audit, no hash on any page."""

from __future__ import annotations

import re
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI

from ivr.records.models import AccountRole
from ivr.web import create_account
from ivr.web.accounts import AccountError, get_account
from tests.web.conftest import PASSWORD, World, add_people, attempt, csrf_of, shown, sign_in

Setup = tuple[World, FastAPI]
NEW_PASSWORD = "un tout autre mot de passe"


def flash(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    return unquote(response.headers["location"].partition("info=")[2])


def new_account(**extra: str) -> dict[str, str]:
    form = {
        "login": "m.bernard",
        "nom": "Marc Bernard",
        "telephone": "01 69 12 34 56",
        "dep_listener": "91",
        "mot_de_passe": "provisoire-123456",
        "changer": "1",
    }
    form.update(extra)
    return form


async def test_given_a_national_admin_then_every_account_is_listed_without_any_hash(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    await sign_in(browser, "a.national")
    page = await browser.get("/admin/comptes")
    assert page.status_code == 200
    text = shown(page)
    for login in ("c.dupont", "r.leroy", "s.national", "a.national", "a.essonne"):
        assert f">{login}</a>" in text
    assert "écoutant (91)" in text
    assert "02 61 91 09 10" in text  # the listener's phone
    assert "scrypt" not in page.text
    assert "jamais" in text  # c.dupont never signed in; a.national did
    detail = await browser.get("/admin/comptes/c.dupont")
    assert detail.status_code == 200
    assert "scrypt" not in detail.text


async def test_given_a_departemental_admin_then_only_accounts_within_the_departement(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    store = world[0].store
    add_people(store)
    create_account(store, "e.paris", PASSWORD, [(AccountRole.REFERENT, "75")])
    create_account(
        store, "mixte", PASSWORD, [(AccountRole.REFERENT, "91"), (AccountRole.REFERENT, "75")]
    )
    await sign_in(browser, "a.essonne")
    text = shown(await browser.get("/admin/comptes"))
    assert ">c.dupont</a>" in text
    assert ">r.leroy</a>" in text
    assert ">a.essonne</a>" in text
    for hidden in ("s.national", "a.national", "e.paris", "mixte"):
        assert f">{hidden}</a>" not in text
    assert "Support national (national)" not in text  # no national role to grant
    for login in ("s.national", "e.paris", "mixte"):
        response = await browser.get(f"/admin/comptes/{login}")
        assert response.status_code == 403, login
        assert "ne gère que les comptes dont tous les rôles" in shown(response)


async def test_given_a_new_listener_then_created_with_an_e164_phone_and_audited(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    csrf = await sign_in(browser, "a.essonne")
    response = await browser.post("/admin/comptes", data={"csrf": csrf, **new_account()})
    assert flash(response) == "Compte « m.bernard » créé."
    account = get_account(w.store, "m.bernard")
    assert account is not None
    assert account.phone == "+33169123456"
    assert account.grants == ((AccountRole.LISTENER, "91"),)
    assert account.must_change_password
    entries = w.store.audit_entries()
    created = next(e for e in entries if e.action == "create" and e.object_id == "m.bernard")
    assert (created.actor, created.object_type) == ("a.essonne", "account")
    assert created.detail == {"roles": ["listener:91"]}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"telephone": ""}, "Un écoutant a un numéro de poste (téléphone)."),
        ({"telephone": "12 34"}, "« 12 34 » n'est pas un numéro de téléphone français valide"),
        ({"telephone": "+44 20 7946 0958"}, "n'est pas un numéro de téléphone français valide"),
        ({"dep_listener": "99"}, "« 99 » n'est pas un code de département."),
        ({"dep_listener": ""}, "Un compte a au moins un rôle."),
        ({"mot_de_passe": "court"}, "Le mot de passe doit compter au moins 12 caractères."),
        ({"login": "c.dupont"}, "Le compte « c.dupont » existe déjà."),
        ({"login": "é à"}, "L'identifiant est fait de lettres sans accent"),
    ],
)
async def test_given_an_invalid_new_account_then_422_with_the_reason_in_french(
    browser: httpx.AsyncClient, world: Setup, extra: dict[str, str], message: str
) -> None:
    add_people(world[0].store)
    csrf = await sign_in(browser, "a.national")
    response = await browser.post("/admin/comptes", data={"csrf": csrf, **new_account(**extra)})
    assert response.status_code == 422
    assert message in shown(response)
    assert 'value="Marc Bernard"' in response.text  # what was typed is kept


def test_given_create_account_then_the_same_rules_apply_outside_the_pages() -> None:
    from ivr.web.accounts import check_grants, check_phone

    with pytest.raises(AccountError, match="est national"):
        check_grants([(AccountRole.SUPPORT, "91")])
    assert check_grants([(AccountRole.LISTENER, "2a")]) == [(AccountRole.LISTENER, "2A")]
    assert check_phone("0590 12 34 56", []) == "+590590123456"  # Guadeloupe
    assert check_phone(None, [(AccountRole.REFERENT, "91")]) is None


async def test_given_a_departemental_admin_when_granting_outside_their_scope_then_403(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    csrf = await sign_in(browser, "a.essonne")
    for extra in ({"dep_listener": "75"}, {"role_admin_national": "1"}, {"role_support": "1"}):
        response = await browser.post("/admin/comptes", data={"csrf": csrf, **new_account(**extra)})
        assert response.status_code == 403, extra
    assert get_account(w.store, "m.bernard") is None
    response = await browser.post(
        "/admin/comptes/c.dupont/roles",
        data={"csrf": csrf, "nom": "Claire", "telephone": "0261910910", "dep_listener": "91, 75"},
    )
    assert response.status_code == 403
    response = await browser.post(
        "/admin/comptes/s.national/activation", data={"csrf": csrf, "actif": "0"}
    )
    assert response.status_code == 403
    account = get_account(w.store, "s.national")
    assert account is not None
    assert account.active


async def test_given_roles_changed_then_saved_and_audited_before_and_after(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    csrf = await sign_in(browser, "a.essonne")
    page = shown(await browser.get("/admin/comptes/c.dupont"))
    assert 'name="dep_listener" value="91"' in page
    response = await browser.post(
        "/admin/comptes/c.dupont/roles",
        data={
            "csrf": csrf,
            "nom": "Claire Dupont-Martin",
            "telephone": "02 61 91 09 10",
            "dep_listener": "91",
            "dep_referent": "91",
        },
    )
    assert flash(response) == "Compte modifié."
    account = get_account(w.store, "c.dupont")
    assert account is not None
    assert account.grants == ((AccountRole.LISTENER, "91"), (AccountRole.REFERENT, "91"))
    assert account.display_name == "Claire Dupont-Martin"
    entry = next(e for e in w.store.audit_entries() if e.action == "update")
    assert (entry.actor, entry.object_type, entry.object_id) == ("a.essonne", "account", "c.dupont")
    assert entry.detail == {
        "roles": {"avant": ["listener:91"], "apres": ["listener:91", "referent:91"]},
        "nom": True,
    }
    # A listener's phone stays mandatory.
    response = await browser.post(
        "/admin/comptes/c.dupont/roles",
        data={"csrf": csrf, "nom": "Claire", "telephone": "", "dep_listener": "91"},
    )
    assert response.status_code == 422
    assert "Un écoutant a un numéro de poste" in shown(response)


async def test_given_an_admin_then_their_own_roles_and_activation_cannot_be_changed(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    csrf = await sign_in(browser, "a.national")
    response = await browser.post(
        "/admin/comptes/a.national/roles",
        data={"csrf": csrf, "nom": "A", "role_admin_national": "1", "role_support": "1"},
    )
    assert response.status_code == 403
    assert "Vous ne pouvez pas modifier vos propres rôles" in shown(response)
    response = await browser.post(
        "/admin/comptes/a.national/activation", data={"csrf": csrf, "actif": "0"}
    )
    assert response.status_code == 403
    # Their own name, yes.
    response = await browser.post(
        "/admin/comptes/a.national/roles",
        data={"csrf": csrf, "nom": "Admin national", "role_admin_national": "1"},
    )
    assert flash(response) == "Compte modifié."


async def test_given_an_account_deactivated_then_its_session_ends_and_reactivation_restores(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w, app = world
    add_people(w.store)
    listener = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://consoles.test"
    )
    async with listener:
        await sign_in(listener, "c.dupont")
        csrf = await sign_in(browser, "a.essonne")
        response = await browser.post(
            "/admin/comptes/c.dupont/activation", data={"csrf": csrf, "actif": "0"}
        )
        assert flash(response) == "Compte désactivé."
        assert (await listener.get("/console")).status_code == 401
        assert (await attempt(listener, "c.dupont")).status_code == 401
        response = await browser.post(
            "/admin/comptes/c.dupont/activation", data={"csrf": csrf, "actif": "1"}
        )
        assert flash(response) == "Compte réactivé."
        listener.cookies.clear()
        assert (await attempt(listener, "c.dupont")).status_code == 303
    audit = w.audit()
    assert ("a.essonne", "deactivate", "account", "c.dupont") in audit
    assert ("a.essonne", "activate", "account", "c.dupont") in audit


async def test_given_a_password_reset_then_the_old_session_ends_and_a_change_is_required(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w, app = world
    add_people(w.store)
    listener = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://consoles.test"
    )
    async with listener:
        await sign_in(listener, "c.dupont")
        csrf = await sign_in(browser, "a.essonne")
        response = await browser.post(
            "/admin/comptes/c.dupont/mot-de-passe",
            data={"csrf": csrf, "mot_de_passe": "provisoire-123456", "changer": "1"},
        )
        assert flash(response) == "Mot de passe remplacé : à changer à la prochaine connexion."
        assert (await listener.get("/console")).status_code == 401  # signed with the old one

        listener.cookies.clear()
        response = await attempt(listener, "c.dupont", "provisoire-123456")
        assert response.headers["location"] == "/mot-de-passe"
        console = await listener.get("/console")
        assert console.status_code == 303
        assert console.headers["location"] == "/mot-de-passe"
        page = await listener.get("/mot-de-passe")
        assert "Votre mot de passe est provisoire" in shown(page)
        response = await listener.post(
            "/mot-de-passe",
            data={
                "csrf": csrf_of(page.text),
                "ancien": "provisoire-123456",
                "nouveau": NEW_PASSWORD,
                "confirmation": NEW_PASSWORD,
            },
        )
        assert flash(response) == "Votre mot de passe est modifié."
        assert (await listener.get("/console")).status_code == 200  # the new session
    audit = w.audit()
    assert ("a.essonne", "update", "account_password", "c.dupont") in audit
    assert ("c.dupont", "update", "account_password", "c.dupont") in audit
    response = await browser.post(
        "/admin/comptes/c.dupont/mot-de-passe", data={"csrf": csrf, "mot_de_passe": "court"}
    )
    assert response.status_code == 422
    assert "au moins 12 caractères" in shown(response)


async def test_given_a_locked_account_when_an_admin_unlocks_it_then_the_person_signs_in(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w, app = world
    add_people(w.store)
    listener = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://consoles.test"
    )
    async with listener:
        for _ in range(5):
            await attempt(listener, "c.dupont", "faux")
        assert (await attempt(listener, "c.dupont")).status_code == 429
        csrf = await sign_in(browser, "a.essonne")
        listing = shown(await browser.get("/admin/comptes"))
        assert "bloqué jusqu'à" in listing
        page = shown(await browser.get("/admin/comptes/c.dupont"))
        assert "Débloquer la connexion" in page
        response = await browser.post("/admin/comptes/c.dupont/deblocage", data={"csrf": csrf})
        assert flash(response) == "Compte débloqué."
        assert (await attempt(listener, "c.dupont")).status_code == 303
    assert ("a.essonne", "unlock", "account", "c.dupont") in w.audit()


async def test_given_any_account_form_without_its_csrf_token_then_403_and_nothing_changes(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    await sign_in(browser, "a.national")
    posts = {
        "/admin/comptes": new_account(),
        "/admin/comptes/c.dupont/roles": {"nom": "X", "dep_referent": "91"},
        "/admin/comptes/c.dupont/activation": {"actif": "0"},
        "/admin/comptes/c.dupont/mot-de-passe": {"mot_de_passe": "provisoire-123456"},
        "/admin/comptes/c.dupont/deblocage": {},
        "/mot-de-passe": {
            "ancien": PASSWORD,
            "nouveau": NEW_PASSWORD,
            "confirmation": NEW_PASSWORD,
        },
    }
    before = len(w.audit())
    for path, data in posts.items():
        response = await browser.post(path, data={**data, "csrf": "faux"})
        assert response.status_code == 403, path
        assert "Formulaire expiré ou invalide" in shown(response)
    assert len(w.audit()) == before
    account = get_account(w.store, "c.dupont")
    assert account is not None
    assert account.active
    assert account.display_name == "Claire Dupont"


async def test_given_people_who_are_not_admins_then_403_on_every_account_page(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    for login in ("c.dupont", "r.leroy", "s.national"):
        browser.cookies.clear()
        csrf = await sign_in(browser, login)
        assert (await browser.get("/admin/comptes")).status_code == 403
        assert (await browser.get("/admin/comptes/c.dupont")).status_code == 403
        response = await browser.post("/admin/comptes", data={"csrf": csrf, **new_account()})
        assert response.status_code == 403
        response = await browser.post("/admin/comptes/c.dupont/deblocage", data={"csrf": csrf})
        assert response.status_code == 403


async def test_given_an_unknown_account_then_404_in_french(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    add_people(world[0].store)
    await sign_in(browser, "a.national")
    response = await browser.get("/admin/comptes/personne")
    assert response.status_code == 404
    assert "Aucun compte « personne »." in shown(response)


async def test_given_anyone_when_changing_their_own_password_then_the_old_one_is_required(
    browser: httpx.AsyncClient, world: Setup
) -> None:
    w = world[0]
    add_people(w.store)
    csrf = await sign_in(browser, "r.leroy")
    page = shown(await browser.get("/referent"))
    assert 'href="/mot-de-passe"' in page
    cases = [
        ({"ancien": "faux", "nouveau": NEW_PASSWORD}, "Le mot de passe actuel est incorrect."),
        ({"ancien": PASSWORD, "nouveau": "court"}, "au moins 12 caractères"),
        ({"ancien": PASSWORD, "nouveau": PASSWORD}, "doit différer de l'actuel"),
    ]
    for fields, message in cases:
        response = await browser.post(
            "/mot-de-passe",
            data={"csrf": csrf, "confirmation": fields["nouveau"], **fields},
        )
        assert response.status_code == 422
        assert message in shown(response)
    response = await browser.post(
        "/mot-de-passe",
        data={"csrf": csrf, "ancien": PASSWORD, "nouveau": NEW_PASSWORD, "confirmation": "autre"},
    )
    assert "Les deux saisies du nouveau mot de passe diffèrent." in shown(response)
    response = await browser.post(
        "/mot-de-passe",
        data={
            "csrf": csrf,
            "ancien": PASSWORD,
            "nouveau": NEW_PASSWORD,
            "confirmation": NEW_PASSWORD,
        },
    )
    assert response.headers["location"].startswith("/referent?info=")
    browser.cookies.clear()
    assert (await attempt(browser, "r.leroy")).status_code == 401
    assert (await attempt(browser, "r.leroy", NEW_PASSWORD)).status_code == 303
    assert re.search(
        r"update account_password r\.leroy", " ".join(f"{a} {t} {o}" for _, a, t, o in w.audit())
    )
