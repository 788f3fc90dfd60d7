"""Bootstrap ``config/departments.yaml`` for the 101 départements (run once; admins edit after).

Every number written here is fictitious, taken from the ranges ARCEP reserves for fiction
(01 99 00, 02 61 91, 03 53 01, 04 65 71, 05 36 49 xx xx): real referent and listener numbers
are not public. Usage: ``python scripts/generate_departments_yaml.py > config/departments.yaml``.
"""

from __future__ import annotations

import sys

from routing.departements import DEPARTEMENTS

HEADER = """\
# Routing of the SI SIAO assistance line (0 806 000 156) and of each département's 115.
#
# ATTENTION : tous les numéros de ce fichier sont FICTIFS. Ils sont pris dans les tranches
# que l'ARCEP réserve à la fiction (01 99 00 xx xx, 02 61 91 xx xx, 03 53 01 xx xx,
# 04 65 71 xx xx, 05 36 49 xx xx). Les numéros réels des référents et des écoutants ne sont
# pas publics : chaque SIAO remplace ceux de son département.
#
# Numbers: French national form or E.164; stored as E.164. Hours: HH:MM-HH:MM per weekday
# (mon..sun), public holidays closed unless closed_on_public_holidays: false, dated exceptions.
# Validate with: ivr config check config/departments.yaml
"""

NATIONAL = """\
version: 1

national:
  assistance_number: "0 806 000 156"
  entry_115_numbers: ["03 53 01 99 99"]
  callback_number: "0 800 112 112"
  support:
    numbers:
      - {name: "Support national SI SIAO — poste 1", number: "05 36 49 00 01"}
      - {name: "Support national SI SIAO — poste 2", number: "05 36 49 00 02"}
    strategy: in_order
    ring_timeout_s: 25
    timezone: Europe/Paris
    holidays: metropole
    hours:
      weekly:
        mon: ["09:30-11:30", "14:00-16:30"]
        tue: ["09:30-11:30", "14:00-16:30"]
        wed: ["09:30-11:30", "14:00-16:30"]
        thu: ["09:30-11:30", "14:00-16:30"]
        fri: ["09:30-11:30", "14:00-16:30"]
  urgent_email:
    address: "support-urgent-sisiao@example.org"
    prompt: >-
      Aucun conseiller n'est disponible pour le moment. Pour une demande urgente,
      écrivez à support-urgent-sisiao arobase example point org, en précisant votre
      département et votre numéro de téléphone. Nous vous répondrons au plus vite.
  default_lro:
    - {number: "04 65 71 99 00", label: "Centre national de débordement"}
    - {number: "04 65 71 99 01", label: "Astreinte nationale 115"}
  assistance:
    recording: none
    reason_menu: true
    menu_tries: 3
    digit_timeout_s: 6
  nomenclature:
    - code: acces
      label: "Accès et connexion"
      reasons:
        - {code: connexion, label: "Problème de connexion", level: 1, digit: 1}
        - {code: creation_compte, label: "Création de compte", level: 1, digit: 2}
    - code: usage
      label: "Prise en main et formation"
      reasons:
        - {code: prise_en_main, label: "Prise en main du logiciel", level: 1, digit: 3}
        - {code: formation, label: "Formation", level: 1}
    - code: donnees
      label: "Données personnelles"
      reasons:
        - {code: rgpd, label: "Données personnelles et RGPD", level: 2, digit: 4}
        - {code: modification_dossier, label: "Modification des données d'un dossier", level: 2}
    - code: technique
      label: "Incidents et anomalies"
      reasons:
        - {code: incident_technique, label: "Incident technique", level: 2, digit: 5}
        - {code: anomalie_logiciel, label: "Anomalie du logiciel", level: 2}
    - code: offre
      label: "Gestion de l'offre"
      reasons:
        - {code: gestion_offre, label: "Aide à la gestion de l'offre", level: 2, digit: 6}
  # National support's tickets: motif, sub-motif, standard answers ("réponses types");
  # menu_reasons: the assistance-menu reasons for which the motif is proposed first.
  support_nomenclature:
    - code: acces
      label: "Accès et comptes"
      menu_reasons: [connexion, creation_compte]
      sub_motifs:
        - {code: mot_de_passe, label: "Mot de passe oublié ou compte bloqué"}
        - {code: creation_compte, label: "Création ou désactivation de compte"}
        - {code: droits, label: "Droits et habilitations"}
      standard_answers:
        - code: reinitialisation
          label: "Réinitialisation du mot de passe"
          text: >-
            Le mot de passe a été réinitialisé ; l'utilisateur a reçu un courriel pour en
            choisir un nouveau.
        - code: vers_referent
          label: "Orientation vers le référent local"
          text: >-
            La création de compte relève du référent SI SIAO du département : l'utilisateur
            a été orienté vers lui.
    - code: usage
      label: "Prise en main et formation"
      menu_reasons: [prise_en_main, formation]
      sub_motifs:
        - {code: fonctionnalite, label: "Utilisation d'une fonctionnalité"}
        - {code: formation, label: "Demande de formation"}
      standard_answers:
        - code: guide
          label: "Envoi du guide utilisateur"
          text: >-
            Le guide utilisateur de la fonctionnalité a été envoyé par courriel à
            l'utilisateur.
    - code: donnees
      label: "Données personnelles et dossiers"
      menu_reasons: [rgpd, modification_dossier]
      sub_motifs:
        - {code: rgpd, label: "Exercice des droits RGPD"}
        - {code: modification, label: "Modification des données d'un dossier"}
        - {code: doublon, label: "Doublon de personne ou de ménage"}
      standard_answers:
        - code: demande_ecrite
          label: "Demande écrite nécessaire"
          text: >-
            La demande doit être adressée par écrit au support national avec le numéro du
            dossier ; elle sera traitée sous 5 jours ouvrés.
    - code: incident
      label: "Incidents et anomalies"
      menu_reasons: [incident_technique, anomalie_logiciel]
      sub_motifs:
        - {code: indisponibilite, label: "SI SIAO indisponible ou lent"}
        - {code: anomalie, label: "Anomalie du logiciel"}
        - code: fonctions_vitales
          label: "Recherche de personne ou création de demande impossible"
      standard_answers:
        - code: incident_connu
          label: "Incident connu, en cours de résolution"
          text: >-
            L'incident est connu des équipes techniques et en cours de résolution ;
            l'utilisateur sera informé du rétablissement.
        - code: ticket_editeur
          label: "Anomalie transmise à l'éditeur"
          text: >-
            L'anomalie a été reproduite et transmise à l'éditeur avec les étapes pour la
            reproduire.
    - code: offre
      label: "Gestion de l'offre"
      menu_reasons: [gestion_offre]
      sub_motifs:
        - {code: places, label: "Création ou modification de places"}
        - {code: structures, label: "Structures et dispositifs"}
      standard_answers:
        - code: procedure_offre
          label: "Rappel de la procédure de gestion de l'offre"
          text: >-
            La procédure de création et de modification de l'offre a été rappelée à
            l'utilisateur.

departements:
"""

# Waiting-room caps known from the field (DOMAIN.md): Essonne 40, Val-d'Oise 50.
MAX_WAITING = {"75": 120, "91": 40, "95": 50, "93": 60, "13": 60, "69": 60}
OWN_LRO = {"75": "04 65 71 00 75", "91": "04 65 71 00 91", "93": "04 65 71 00 93"}
ORDINALS = ("premier", "deuxième", "troisième")


def fiction(prefix: str, index: int) -> str:
    return f"{prefix} {index // 100:02d} {index % 100:02d}"


def departement_block(i: int, code: str, name: str, tz: str, calendar: str) -> str:
    referents = "\n".join(
        f'        - {{name: "Référent SI {ORDINALS[k]} — {name}", '
        f'number: "{fiction("01 99 00", i * 10 + k)}"}}'
        for k in range(3)
    )
    listeners = "\n".join(
        f'        - {{name: "Écoutant {k + 1} — 115 {name}", '
        f'number: "{fiction("02 61 91", i * 10 + k)}"}}'
        for k in range(3)
    )
    lro = (
        f'      lro:\n        - {{number: "{OWN_LRO[code]}", label: "Astreinte 115 {name}"}}\n'
        if code in OWN_LRO
        else ""
    )
    return f"""\
  "{code}":
    name: "{name}"
    timezone: {tz}
    holidays: {calendar}
    assistance:
      strategy: rotate_last_answerer
      ring_timeout_s: 20
      referents:
{referents}
      hours:
        weekly:
          mon: ["09:00-12:30", "13:30-17:00"]
          tue: ["09:00-12:30", "13:30-17:00"]
          wed: ["09:00-12:30", "13:30-17:00"]
          thu: ["09:00-12:30", "13:30-17:00"]
          fri: ["09:00-12:30", "13:30-16:00"]
    "115":
      inbound_numbers: ["{fiction("03 53 01", i * 10)}"]
      listeners:
{listeners}
      listener_ring_timeout_s: 20
      queue:
        max_waiting_calls: {MAX_WAITING.get(code, 30)}
        max_estimated_wait_s: 1200
        max_time_in_queue_s: 1800
        announcement_interval_s: 60
        default_handling_time_s: 300
      deterrence:
        saturation: >-
          Toutes les lignes du 115 {name} sont saturées et l'attente serait très longue.
        closure: >-
          La plateforme du 115 {name} est fermée pour le moment. Votre appel va être
          transféré.
        emergency_closure: >-
          La plateforme du 115 {name} est exceptionnellement fermée. Votre appel va être
          transféré.
        max_wait_exceeded: >-
          Votre attente a dépassé la durée maximale. Votre appel va être transféré.
      callback_offer: true
      recording: all
{lro}"""


def main() -> None:
    out = [HEADER, NATIONAL]
    for i, dep in enumerate(DEPARTEMENTS):
        out.append(departement_block(i, dep.code, dep.name, dep.timezone, dep.calendar))
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main()
