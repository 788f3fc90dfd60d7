"""The sandbox SI SIAO's data: fictitious persons, households and requests (``SandboxStore``),
and the seed every sandbox starts from. Nothing here is real data."""

from __future__ import annotations

import hashlib
import json
import threading
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import phonenumbers
import sqlalchemy as sa

from sisiao_link.port import (
    Clock,
    Composition,
    Demande,
    DemandeStatus,
    Menage,
    NouvelleDemandeUrgence,
    Personne,
    Probleme,
    PublicSpecifique,
    Sexe,
    StatutDemande,
    TypeDemande,
    is_departement,
)

PERSONNE_BASE = 3_100_000_000
MENAGE_BASE = 2_780_000_000
DEMANDE_BASE = 4_500_000_000


class Espace(StrEnum):
    PRODUCTION = "production"
    TEST = "test"


# -- storage -------------------------------------------------------------------------------

_metadata = sa.MetaData()

_menages = sa.Table(
    "menages",
    _metadata,
    sa.Column("numero", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("espace", sa.String(16), nullable=False),
    sa.Column("composition", sa.String(64), nullable=False),
    sa.Column("publics_specifiques", sa.JSON, nullable=False),
    sa.Column("personne_reference", sa.Integer, nullable=True),
)

_personnes = sa.Table(
    "personnes",
    _metadata,
    sa.Column("numero", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("espace", sa.String(16), nullable=False),
    sa.Column("menage", sa.Integer, sa.ForeignKey("menages.numero"), nullable=False),
    sa.Column("nom", sa.String(200), nullable=False),
    sa.Column("prenom", sa.String(200), nullable=False),
    sa.Column("nom_cle", sa.String(200), nullable=False, index=True),
    sa.Column("prenom_cle", sa.String(200), nullable=False),
    sa.Column("date_naissance", sa.Date, nullable=True),
    sa.Column("sexe", sa.String(1), nullable=True),
    sa.Column("telephone", sa.String(32), nullable=True, index=True),
)

_demandes = sa.Table(
    "demandes",
    _metadata,
    sa.Column("numero", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("espace", sa.String(16), nullable=False),
    sa.Column("menage", sa.Integer, sa.ForeignKey("menages.numero"), nullable=False, index=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("statut", sa.String(32), nullable=False),
    sa.Column("departement", sa.String(3), nullable=False),
    sa.Column("observations", sa.Text, nullable=False),
    sa.Column("date_creation", sa.DateTime(timezone=True), nullable=False),
    sa.Column("date_mise_a_jour", sa.DateTime(timezone=True), nullable=False),
    sa.Column("auteur", sa.String(200), nullable=False),
    sa.Column("cle_idempotence", sa.String(200), nullable=True),
    sa.Column("empreinte", sa.String(64), nullable=True),
    sa.UniqueConstraint("espace", "cle_idempotence", name="uq_demandes_cle_idempotence"),
)


_SELECT_BY_KEY = sa.select(_demandes).where(
    _demandes.c.espace == sa.bindparam("b_espace"),
    _demandes.c.cle_idempotence == sa.bindparam("b_cle"),
)
_INSERT_DEMANDE = _demandes.insert().returning(*_demandes.c)
_INSERT_MENAGE = _menages.insert().returning(_menages.c.numero)
_INSERT_PERSONNE = _personnes.insert().returning(_personnes.c.numero)
_SET_REFERENCE = (
    _menages.update()
    .where(_menages.c.numero == sa.bindparam("b_menage"))
    .values(personne_reference=sa.bindparam("b_reference"))
)


def normalise_phone(number: str) -> str:
    """E.164 form of a French (or overseas) number; digits only when it does not parse."""
    try:
        parsed = phonenumbers.parse(number, "FR")
    except phonenumbers.NumberParseException:
        return "".join(ch for ch in number if ch.isdigit() or ch == "+")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def name_key(name: str) -> str:
    """Accent-, case- and punctuation-insensitive form of a name, for searches."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(letters.upper().replace("-", " ").replace("'", " ").split())


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class ProblemError(Exception):
    """An error answered as RFC 9457 problem details, with a French ``detail``."""

    def __init__(self, status: int, title: str, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.problem = Probleme(title=title, status=status, detail=detail, code=code)


@dataclass(frozen=True)
class CreationResult:
    demande: Demande
    replayed: bool


class SandboxStore:
    """The sandbox's data, behind a write lock (SQLite has one writer anyway)."""

    def __init__(self, engine: sa.Engine, clock: Clock) -> None:
        self.engine = engine
        self._clock = clock
        self._write_lock = threading.Lock()

    def create_schema(self) -> None:
        _metadata.create_all(self.engine)

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(_menages)).scalar_one() == 0

    # reads

    def search_by_phone(self, espace: Espace, telephone: str) -> list[Personne]:
        query = sa.select(_personnes).where(
            _personnes.c.espace == espace, _personnes.c.telephone == normalise_phone(telephone)
        )
        return self._personnes(query)

    def search_by_identity(
        self, espace: Espace, nom: str, prenom: str | None, date_naissance: date
    ) -> list[Personne]:
        query = sa.select(_personnes).where(
            _personnes.c.espace == espace,
            _personnes.c.nom_cle == name_key(nom),
            _personnes.c.date_naissance == date_naissance,
        )
        if prenom:
            query = query.where(_personnes.c.prenom_cle == name_key(prenom))
        return self._personnes(query)

    def menage(self, espace: Espace, menage_id: str) -> Menage | None:
        numero = _numero(menage_id, MENAGE_BASE)
        if numero is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_menages).where(_menages.c.numero == numero, _menages.c.espace == espace)
            ).first()
            if row is None:
                return None
            membres = conn.execute(
                sa.select(_personnes)
                .where(_personnes.c.menage == numero)
                .order_by(_personnes.c.numero)
            ).all()
            ouvertes = conn.execute(
                sa.select(_demandes)
                .where(
                    _demandes.c.menage == numero,
                    _demandes.c.statut.in_([StatutDemande.EN_ATTENTE, StatutDemande.ORIENTEE]),
                )
                .order_by(_demandes.c.numero)
            ).all()
        return Menage(
            id=menage_id,
            composition=Composition(row.composition),
            publics_specifiques=[PublicSpecifique(p) for p in row.publics_specifiques],
            personne_reference_id=str(PERSONNE_BASE + row.personne_reference),
            membres=[_personne(m) for m in membres],
            demandes_ouvertes=[_demande(d) for d in ouvertes],
        )

    def demande(self, espace: Espace, demande_id: str) -> Demande | None:
        numero = _numero(demande_id, DEMANDE_BASE)
        if numero is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_demandes).where(
                    _demandes.c.numero == numero, _demandes.c.espace == espace
                )
            ).first()
        return None if row is None else _demande(row)

    def statut(self, espace: Espace, demande_id: str) -> DemandeStatus | None:
        numero = _numero(demande_id, DEMANDE_BASE)
        if numero is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_demandes.c.statut, _demandes.c.date_mise_a_jour).where(
                    _demandes.c.numero == numero, _demandes.c.espace == espace
                )
            ).first()
        if row is None:
            return None
        statut = StatutDemande(row.statut)
        return DemandeStatus(
            demande_id=demande_id,
            statut=statut,
            libelle=statut.libelle,
            date_mise_a_jour=_utc(row.date_mise_a_jour),
        )

    def count_demandes(self, espace: Espace = Espace.PRODUCTION) -> int:
        with self.engine.connect() as conn:
            query = sa.select(sa.func.count()).where(_demandes.c.espace == espace)
            return int(conn.execute(query.select_from(_demandes)).scalar_one())

    # writes

    def create_demande(
        self,
        espace: Espace,
        body: NouvelleDemandeUrgence,
        auteur: str,
        cle: str,
    ) -> CreationResult:
        empreinte = hashlib.sha256(
            json.dumps([body.model_dump(mode="json"), auteur], sort_keys=True).encode()
        ).hexdigest()
        with self._write_lock, self.engine.begin() as conn:
            previous = conn.execute(_SELECT_BY_KEY, {"b_espace": espace, "b_cle": cle}).first()
            if previous is not None:
                if previous.empreinte != empreinte:
                    raise ProblemError(
                        422,
                        "Clé d'idempotence réutilisée",
                        "Cette clé d'idempotence a déjà servi pour une autre demande.",
                        "cle_idempotence_reutilisee",
                    )
                return CreationResult(_demande(previous), replayed=True)
            if not is_departement(body.departement):
                raise ProblemError(
                    422,
                    "Département inconnu",
                    f"Département inconnu : {body.departement}.",
                    "departement_inconnu",
                )
            if body.menage_id is not None:
                menage = self._check_menage(conn, espace, body.menage_id)
            else:
                menage = self._new_menage(conn, espace, body)
            now = self._clock()
            row = conn.execute(
                _INSERT_DEMANDE,
                {
                    "espace": espace,
                    "menage": menage,
                    "type": TypeDemande.URGENCE,
                    "statut": StatutDemande.EN_ATTENTE,
                    "departement": body.departement,
                    "observations": body.observations,
                    "date_creation": now,
                    "date_mise_a_jour": now,
                    "auteur": auteur,
                    "cle_idempotence": cle,
                    "empreinte": empreinte,
                },
            ).one()
        return CreationResult(_demande(row), replayed=False)

    def set_statut(self, demande_id: str, statut: StatutDemande) -> Demande | None:
        numero = _numero(demande_id, DEMANDE_BASE)
        if numero is None:
            return None
        with self._write_lock, self.engine.begin() as conn:
            updated = conn.execute(
                _demandes.update()
                .where(_demandes.c.numero == numero)
                .values(statut=statut, date_mise_a_jour=self._clock())
            ).rowcount
            if not updated:
                return None
            return _demande(
                conn.execute(sa.select(_demandes).where(_demandes.c.numero == numero)).one()
            )

    def _check_menage(self, conn: sa.Connection, espace: Espace, menage_id: str) -> int:
        numero = _numero(menage_id, MENAGE_BASE)
        exists = (
            numero is not None
            and conn.execute(
                sa.select(_menages.c.numero).where(
                    _menages.c.numero == numero, _menages.c.espace == espace
                )
            ).first()
        )
        if numero is None or not exists:
            raise ProblemError(
                422,
                "Ménage introuvable",
                f"Ménage {menage_id} introuvable dans SI SIAO.",
                "menage_introuvable",
            )
        ouverte = conn.execute(
            sa.select(_demandes.c.numero).where(
                _demandes.c.menage == numero,
                _demandes.c.type == TypeDemande.URGENCE,
                _demandes.c.statut.in_([StatutDemande.EN_ATTENTE, StatutDemande.ORIENTEE]),
            )
        ).first()
        if ouverte is not None:
            raise ProblemError(
                409,
                "Demande d'urgence déjà ouverte",
                "Une demande d'urgence est déjà ouverte pour ce ménage "
                f"(n° {DEMANDE_BASE + ouverte.numero}).",
                "demande_urgence_deja_ouverte",
            )
        return numero

    def _new_menage(self, conn: sa.Connection, espace: Espace, body: NouvelleDemandeUrgence) -> int:
        personne = body.nouvelle_personne
        assert personne is not None  # guaranteed by NouvelleDemandeUrgence's validator
        composition = body.composition or (
            Composition.FEMME_SEULE if personne.sexe is Sexe.FEMME else Composition.HOMME_SEUL
        )
        return _insert_menage(
            conn,
            espace,
            composition,
            body.publics_specifiques,
            [
                _PersonneSeed(
                    personne.nom,
                    personne.prenom,
                    personne.date_naissance,
                    personne.sexe,
                    personne.telephone,
                )
            ],
        )

    def _personnes(self, query: sa.Select[Any]) -> list[Personne]:
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(_personnes.c.numero)).all()
        return [_personne(row) for row in rows]


def _numero(identifier: str, base: int) -> int | None:
    if not identifier.isdigit():
        return None
    numero = int(identifier) - base
    return numero if numero > 0 else None


def _personne(row: sa.Row[Any]) -> Personne:
    return Personne(
        id=str(PERSONNE_BASE + row.numero),
        nom=row.nom,
        prenom=row.prenom,
        date_naissance=row.date_naissance,
        sexe=Sexe(row.sexe) if row.sexe else None,
        telephone=row.telephone,
        menage_id=str(MENAGE_BASE + row.menage),
    )


def _demande(row: sa.Row[Any]) -> Demande:
    return Demande(
        id=str(DEMANDE_BASE + row.numero),
        menage_id=str(MENAGE_BASE + row.menage),
        type=TypeDemande(row.type),
        statut=StatutDemande(row.statut),
        departement=row.departement,
        observations=row.observations,
        date_creation=_utc(row.date_creation),
        auteur=row.auteur,
    )


@dataclass(frozen=True)
class _PersonneSeed:
    nom: str
    prenom: str
    date_naissance: date | None
    sexe: Sexe | None
    telephone: str | None


def _insert_menage(
    conn: sa.Connection,
    espace: Espace,
    composition: Composition,
    publics: list[PublicSpecifique],
    membres: list[_PersonneSeed],
) -> int:
    # Statements built once, parameters passed at execution: SQLAlchemy then reuses the
    # compiled form (building ``.values(...)`` per call cost more than SQLite itself).
    menage = conn.execute(
        _INSERT_MENAGE,
        {
            "espace": espace,
            "composition": composition,
            "publics_specifiques": [str(p) for p in publics],
        },
    ).scalar_one()
    reference: int | None = None
    for membre in membres:
        numero = conn.execute(
            _INSERT_PERSONNE,
            {
                "espace": espace,
                "menage": menage,
                "nom": membre.nom,
                "prenom": membre.prenom,
                "nom_cle": name_key(membre.nom),
                "prenom_cle": name_key(membre.prenom),
                "date_naissance": membre.date_naissance,
                "sexe": membre.sexe,
                "telephone": normalise_phone(membre.telephone) if membre.telephone else None,
            },
        ).scalar_one()
        reference = reference if reference is not None else numero
    conn.execute(_SET_REFERENCE, {"b_menage": menage, "b_reference": reference})
    return int(menage)


# -- seed ----------------------------------------------------------------------------------

F, M = Sexe.FEMME, Sexe.HOMME

# Fictitious households. Phone numbers are in ARCEP's ranges reserved for fiction
# (01 99 00 xx xx, 06 39 98 xx xx), so a demo never rings a real person.
SEED_MENAGES: list[tuple[Composition, list[PublicSpecifique], list[_PersonneSeed]]] = [
    (
        Composition.FEMME_SEULE_AVEC_ENFANTS,
        [PublicSpecifique.FVV],
        [
            _PersonneSeed("MARTIN", "Sophie", date(1988, 4, 12), F, "06 39 98 01 01"),
            _PersonneSeed("MARTIN", "Léo", date(2016, 9, 3), M, None),
            _PersonneSeed("MARTIN", "Jade", date(2019, 2, 21), F, None),
        ],
    ),
    (
        Composition.HOMME_SEUL,
        [],
        [_PersonneSeed("BERNARD", "Karim", date(1975, 11, 30), M, "06 39 98 01 02")],
    ),
    (
        Composition.COUPLE_AVEC_ENFANTS,
        [PublicSpecifique.REFUGIES],
        [
            _PersonneSeed("PETIT", "Julien", date(1990, 6, 8), M, "01 99 00 01 03"),
            _PersonneSeed("PETIT", "Camille", date(1992, 1, 17), F, "06 39 98 01 03"),
            _PersonneSeed("PETIT", "Inès", date(2021, 7, 1), F, None),
        ],
    ),
    (
        Composition.HOMME_SEUL,
        [PublicSpecifique.JEUNES],
        [_PersonneSeed("DURAND", "Yanis", date(2005, 3, 14), M, "06 39 98 01 04")],
    ),
    (
        Composition.FEMME_SEULE,
        [PublicSpecifique.FVV],
        [_PersonneSeed("LEFÈVRE", "Chloé", date(1983, 12, 2), F, "06 39 98 01 05")],
    ),
    (
        Composition.FEMME_SEULE_AVEC_ENFANTS,
        [PublicSpecifique.FSM],
        [
            _PersonneSeed("MOREAU", "Awa", date(1996, 8, 25), F, "06 39 98 01 06"),
            _PersonneSeed("MOREAU", "Noah", date(2024, 10, 2), M, None),
        ],
    ),
    (
        Composition.COUPLE_SANS_ENFANTS,
        [],
        [
            _PersonneSeed("GARCIA", "Manuel", date(1961, 5, 5), M, "06 39 98 01 07"),
            _PersonneSeed("GARCIA", "Lucia", date(1964, 9, 9), F, "06 39 98 01 07"),
        ],
    ),
    (
        Composition.GROUPE_ADULTES_SANS_ENFANT,
        [],
        [
            _PersonneSeed("ROUX", "Thomas", date(1999, 1, 1), M, "06 39 98 01 08"),
            _PersonneSeed("ROUX", "Hugo", date(2001, 2, 2), M, None),
        ],
    ),
]
SEED_OPEN_REQUEST_MENAGE = 2
"""Index (0-based, in SEED_MENAGES) of the household seeded with an open emergency request."""
SEED_TEST_REALM_PERSON = _PersonneSeed("SONDE", "Test", date(2000, 1, 1), M, "06 39 98 00 00")


def seed_sandbox(store: SandboxStore) -> None:
    """Fills an empty sandbox with the fictitious households (idempotent)."""
    if not store.is_empty():
        return
    now = datetime(2025, 1, 6, 21, 30, tzinfo=UTC)
    with store.engine.begin() as conn:
        numeros = [
            _insert_menage(conn, Espace.PRODUCTION, composition, publics, membres)
            for composition, publics, membres in SEED_MENAGES
        ]
        conn.execute(
            _demandes.insert().values(
                espace=Espace.PRODUCTION,
                menage=numeros[SEED_OPEN_REQUEST_MENAGE],
                type=TypeDemande.URGENCE,
                statut=StatutDemande.EN_ATTENTE,
                departement="91",
                observations="Famille à la rue depuis deux nuits, gare de Juvisy.",
                date_creation=now,
                date_mise_a_jour=now,
                auteur="ecoutant.demo@siao91.example",
            )
        )
        _insert_menage(conn, Espace.TEST, Composition.HOMME_SEUL, [], [SEED_TEST_REALM_PERSON])
