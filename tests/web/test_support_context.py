"""How the screen pop words a call's context: how the département was found, why no
referent was rung, which posts were tried."""

from __future__ import annotations

from datetime import UTC, datetime

from ivr.runtime.queries import ListenerCallStatus, SupportCall, TriedDestination
from ivr.web.support_context import how_found, reason_text, tier1_note, tried_rows
from routing.config import RoutingConfig

MONDAY_10H = datetime(2025, 1, 13, 9, 0, tzinfo=UTC)
SUNDAY_3H = datetime(2025, 1, 12, 2, 0, tzinfo=UTC)


def call(
    departement: str | None = "91",
    reason: str | None = None,
    prompts: tuple[str, ...] = ("assistance_welcome", "ask_departement"),
    tries: int = 0,
    tried: tuple[TriedDestination, ...] = (),
) -> SupportCall:
    return SupportCall(
        call_id="c",
        status=ListenerCallStatus.RINGING,
        caller=None,
        called="+33806000156",
        departement=departement,
        started_at=MONDAY_10H,
        reason=reason,
        prompts=prompts,
        menu_tries=tries,
        tried=tried,
    )


def test_given_the_menu_answers_then_how_the_departement_was_found() -> None:
    assert (
        how_found(call()) == "choisi par l'appelant au menu des départements (touches du téléphone)"
    )
    assert how_found(call("2A", prompts=("ask_departement", "ask_corse"), tries=1)) == (
        "choisi par l'appelant au menu des départements puis au sous-menu Corse "
        "(touches du téléphone), après 1 essai(s) infructueux"
    )
    assert how_found(call("971", prompts=("ask_departement", "ask_outremer"))).endswith(
        "puis au sous-menu outre-mer (touches du téléphone)"
    )
    gave_up = call(None, prompts=("ask_departement", "menu_gave_up"), tries=3)
    assert how_found(gave_up) == (
        "non trouvé : l'appelant n'a pas choisi de département (3 essai(s) au menu)"
    )


def test_given_no_referent_rung_then_the_reason_is_given(config: RoutingConfig) -> None:
    assert tier1_note(config, call(None), MONDAY_10H) == (
        "Aucun référent sollicité : département inconnu."
    )
    assert tier1_note(config, call(reason="rgpd"), MONDAY_10H) == (
        "Aucun référent sollicité : motif de niveau 2, appel dirigé vers le support national."
    )
    assert tier1_note(config, call(), SUNDAY_3H) == (
        "Aucun référent sollicité : référents hors de leurs horaires d'ouverture."
    )
    rung = call(tried=(TriedDestination("+33199000910", "tier1", "no-answer"),))
    assert tier1_note(config, rung, MONDAY_10H) is None


def test_given_posts_tried_then_named_from_the_routing_file_and_the_answer_left_out(
    config: RoutingConfig,
) -> None:
    tried = (
        TriedDestination("+33199000910", "tier1", "failed"),
        TriedDestination("+33536490002", "tier2", "no-answer"),
        TriedDestination("+33536490001", "tier2", "answered"),
    )
    assert tried_rows(config, call(tried=tried)) == [
        {
            "name": "Référent SI premier — Essonne",
            "number": "01 99 00 09 10",
            "tier": "référent (palier 1)",
            "result": "échec de l'appel (poste injoignable)",
        },
        {
            "name": "Support national SI SIAO — poste 2",
            "number": "05 36 49 00 02",
            "tier": "support national (palier 2)",
            "result": "pas de réponse",
        },
    ]
    assert reason_text(config, None) == "aucun (pas de choix au menu des motifs)"
    assert (
        reason_text(config, "rgpd")
        == "Données personnelles — Données personnelles et RGPD (niveau 2)"
    )
