"""Every French prompt the caller hears, by id.

Fixed prompts are one sound file each, named after the id. Prompts with numbers are cut in
pieces around the numbers, which the platform speaks itself. Prompts whose text comes from
the routing configuration (deterrence, urgent e-mail) get an id that names their origin so
that ``ivr prompts build`` can render one file per text.
"""

from __future__ import annotations

import functools

from ivr.flow.vocabulary import Prompt, SayNumber, Segment, Sound
from routing.config import RoutingConfig

FIXED: dict[str, str] = {
    "assistance_welcome": "Bienvenue sur la ligne d'assistance SI SIAO.",
    "recording_notice": (
        "Cet appel est susceptible d'être enregistré. Vous pouvez vous y opposer en le "
        "signalant à votre interlocuteur."
    ),
    "ask_departement": (
        "Tapez les deux chiffres de votre département. Pour la Corse, tapez 2 0. "
        "Pour l'outre-mer, tapez 9 7."
    ),
    "ask_corse": "Pour la Corse-du-Sud, tapez 1. Pour la Haute-Corse, tapez 2.",
    "ask_outremer": (
        "Tapez le troisième chiffre de votre département : 1 pour la Guadeloupe, "
        "2 pour la Martinique, 3 pour la Guyane, 4 pour La Réunion, 6 pour Mayotte."
    ),
    "invalid_departement": "Ce numéro de département n'est pas reconnu.",
    "no_input": "Nous n'avons pas reçu votre choix.",
    "menu_gave_up": "Nous vous mettons en relation avec le support national.",
    "transfer_tier1": (
        "Nous vous mettons en relation avec un référent SI SIAO de votre département."
    ),
    "transfer_tier2": "Nous vous mettons en relation avec le support national SI SIAO.",
    "tier1_unavailable": "Aucun référent de votre département n'est disponible.",
    "assistance_closed": (
        "L'assistance SI SIAO est fermée. Le support national est ouvert du lundi au vendredi "
        "de 9 heures 30 à 11 heures 30 et de 14 heures à 16 heures 30. "
        "Si les fonctions vitales de SI SIAO sont en panne, la recherche de personne ou la "
        "création de demande, appelez le 115 de votre département : l'écoutant de permanence "
        "alertera l'astreinte. Au revoir."
    ),
    "welcome_115": (
        "Vous êtes en relation avec le 115, le numéro d'urgence pour les personnes sans abri."
    ),
    "queue_callback_offer": "Pour être rappelé par un écoutant dès que possible, tapez 1.",
    "callback_offer": "Pour être rappelé par un écoutant, tapez 1.",
    "callback_registered": (
        "Votre demande de rappel est enregistrée. Un écoutant vous rappellera depuis le "
        "numéro 0 800 112 112. Gardez votre téléphone allumé. Au revoir."
    ),
    "saturation_goodbye": (
        "Merci de rappeler un peu plus tard. En cas de danger immédiat, composez le 17 ou le "
        "112. Au revoir."
    ),
    "no_listener": "Aucun écoutant n'est disponible pour le moment. Votre appel va être transféré.",
    "lro_transfer": "Nous transférons votre appel. Merci de patienter.",
    "lro_failed": (
        "Nous ne pouvons pas donner suite à votre appel pour le moment. Rappelez le 115 dans "
        "quelques minutes. En cas de danger immédiat, composez le 17 ou le 112. Au revoir."
    ),
    "transfer_listener": "Un écoutant va vous répondre.",
    "goodbye": "Au revoir.",
}


@functools.cache
def fixed(prompt_id: str) -> Prompt:
    """A fixed prompt by id; an unknown id is a programming error."""
    return Prompt(prompt_id, FIXED[prompt_id], (Sound(prompt_id),))


def configured(prompt_id: str, text: str) -> Prompt:
    """A prompt whose text comes from the routing configuration."""
    return Prompt(prompt_id, text, (Sound(prompt_id),))


def queue_position(position: int, wait_minutes: int) -> Prompt:
    """'Vous êtes en position N. Temps d'attente estimé : M minutes.'"""
    segments: list[Segment] = [Sound("queue_position_before"), SayNumber(position)]
    if wait_minutes > 0:
        segments += [Sound("queue_wait_before"), SayNumber(wait_minutes), Sound("queue_wait_after")]
        text = (
            f"Vous êtes en position {position}. "
            f"Temps d'attente estimé : {wait_minutes} minute{'s' if wait_minutes > 1 else ''}."
        )
    else:
        text = f"Vous êtes en position {position}."
    return Prompt("queue_position", text, tuple(segments))


# Pieces of the dynamic prompts, rendered as sound files like the fixed ones.
PIECES: dict[str, str] = {
    "queue_position_before": "Vous êtes en position",
    "queue_wait_before": "Temps d'attente estimé :",
    "queue_wait_after": "minutes.",
}


@functools.cache
def reason_menu(entries: tuple[tuple[int, str], ...]) -> Prompt:
    """'Pour <motif>, tapez <n>.' for each menu entry, ending with the default choice."""
    parts = [f"Pour {label[0].lower()}{label[1:]}, tapez {digit}." for digit, label in entries]
    text = "Précisez le motif de votre appel. " + " ".join(parts) + " Sinon, restez en ligne."
    return Prompt("reason_menu", text, (Sound("reason_menu"),))


def reason_menu_for(config: RoutingConfig) -> Prompt | None:
    """The assistance line's reason menu as configured, or None when it is not asked."""
    menu = config.national.menu_reasons()
    if not (config.national.assistance.reason_menu and menu):
        return None
    return reason_menu(tuple((r.digit or 0, r.label) for r in menu))
