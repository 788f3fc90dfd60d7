"""The SI SIAO port: what the call-handling service needs from SI SIAO, and nothing more.

The models double as the wire format of our contract (``docs/sisiao-openapi.yaml``): field
names and enumerated values use SI SIAO's own vocabulary (personne, ménage, demande), so the
sandbox server, the HTTP client and the contract document cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC datetime; injected everywhere time matters."""

IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_HEADER = "SISIAO-Utilisateur"
REALM_HEADER = "SISIAO-Espace"
REPLAYED_HEADER = "Idempotency-Replayed"

DEPARTEMENT_PATTERN = r"^(0[1-9]|1[0-9]|2[AB1-9]|[3-8][0-9]|9[0-5]|97[1-46])$"
_DEPARTEMENT_RE = re.compile(DEPARTEMENT_PATTERN)


def is_departement(code: str) -> bool:
    """Whether ``code`` is one of the 101 département codes (01–19, 2A, 2B, 21–95, 971–976)."""
    return _DEPARTEMENT_RE.fullmatch(code) is not None


class Sexe(StrEnum):
    FEMME = "F"
    HOMME = "M"


class Composition(StrEnum):
    """Household compositions, spelled as in SI SIAO's screens."""

    HOMME_SEUL = "Homme seul"
    FEMME_SEULE = "Femme seule"
    MINEUR_ISOLE = "Enfant / Mineur isolé"
    HOMME_SEUL_AVEC_ENFANTS = "Homme seul avec enfant(s)"
    FEMME_SEULE_AVEC_ENFANTS = "Femme seule avec enfant(s)"
    COUPLE_AVEC_ENFANTS = "Couple avec enfants"
    COUPLE_SANS_ENFANTS = "Couple sans enfants"
    GROUPE_AVEC_ENFANTS = "Groupe avec enfant(s)"
    GROUPE_ADULTES_SANS_ENFANT = "Groupe d'adultes sans enfant"
    GROUPE_MINEURS = "Groupe d'enfants / Mineurs"


class PublicSpecifique(StrEnum):
    """Specific publics ("publics spécifiques") as labelled in SI SIAO."""

    FVV = "FVV"
    """Femmes victimes de violences."""
    REFUGIES = "Réfugiés"
    FSM = "FSM"
    """Femmes sortant de maternité."""
    JEUNES = "Jeunes"
    AUTEURS_DE_VIOLENCE = "Auteurs de violence"


class TypeDemande(StrEnum):
    URGENCE = "urgence"
    INSERTION = "insertion"


class StatutDemande(StrEnum):
    EN_ATTENTE = "en_attente"
    ORIENTEE = "orientee"
    PRISE_EN_CHARGE = "prise_en_charge"
    CLOTUREE = "cloturee"
    ANNULEE = "annulee"

    @property
    def libelle(self) -> str:
        """The label a listener reads."""
        return _STATUT_LIBELLES[self]


_STATUT_LIBELLES = {
    StatutDemande.EN_ATTENTE: "En attente d'orientation",
    StatutDemande.ORIENTEE: "Orientée",
    StatutDemande.PRISE_EN_CHARGE: "Prise en charge",
    StatutDemande.CLOTUREE: "Clôturée",
    StatutDemande.ANNULEE: "Annulée",
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


NonEmpty = Annotated[str, Field(min_length=1, max_length=200)]


class Personne(_Model):
    """A person known to SI SIAO; every person belongs to exactly one household."""

    id: str = Field(description="Identifiant SI SIAO de la personne")
    nom: str
    prenom: str
    date_naissance: date | None = None
    sexe: Sexe | None = None
    telephone: str | None = Field(default=None, description="Numéro au format E.164")
    menage_id: str = Field(description="Identifiant du ménage de la personne")


class Demande(_Model):
    """A request carried by a household (only emergency requests are created here)."""

    id: str = Field(description="Identifiant SI SIAO de la demande")
    menage_id: str
    type: TypeDemande
    statut: StatutDemande
    departement: str
    observations: str = ""
    date_creation: datetime
    auteur: str = Field(description="Compte SI SIAO nominatif de l'auteur de la demande")


class Menage(_Model):
    """A household ("ménage"): its members, composition, specific publics and open requests."""

    id: str
    composition: Composition
    publics_specifiques: list[PublicSpecifique] = Field(default_factory=list)
    personne_reference_id: str = Field(description="Personne de référence du ménage")
    membres: list[Personne]
    demandes_ouvertes: list[Demande] = Field(default_factory=list)


class ResultatRecherchePersonnes(_Model):
    personnes: list[Personne]
    total: int


class NouvellePersonne(_Model):
    """A person not yet known to SI SIAO; creating a request for them creates their household."""

    nom: NonEmpty
    prenom: NonEmpty
    date_naissance: date | None = None
    sexe: Sexe | None = None
    telephone: str | None = Field(default=None, max_length=32)


class NouvelleDemandeUrgence(_Model):
    """An emergency request ("demande d'urgence") for a known household or a new person."""

    menage_id: str | None = Field(default=None, description="Ménage existant")
    nouvelle_personne: NouvellePersonne | None = Field(
        default=None, description="Personne inconnue de SI SIAO (crée son ménage)"
    )
    composition: Composition | None = Field(
        default=None, description="Composition du ménage créé (nouvelle personne seulement)"
    )
    publics_specifiques: list[PublicSpecifique] = Field(default_factory=list)
    departement: str = Field(description="Département du SIAO qui reçoit la demande")
    observations: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.menage_id is None) == (self.nouvelle_personne is None):
            raise ValueError("indiquer soit menage_id, soit nouvelle_personne (et un seul)")
        return self


class Probleme(_Model):
    """Error body (RFC 9457 problem details); ``detail`` is the reason shown to the listener."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str | None = None


MAX_LOT = 100
"""Most requests in one batch creation call."""


class ElementLot(_Model):
    """One request of a batch, with its own idempotency key and acting listener."""

    cle_idempotence: str = Field(min_length=8, max_length=200)
    utilisateur: str = Field(
        min_length=1,
        max_length=200,
        description="Compte SI SIAO nominatif de l'écoutant qui a créé la demande",
    )
    demande: NouvelleDemandeUrgence


class LotDemandesUrgence(_Model):
    """Requests to create in this order (replaying an outbox after an outage)."""

    demandes: list[ElementLot] = Field(min_length=1, max_length=MAX_LOT)


class ResultatElementLot(_Model):
    """The outcome of one request of a batch, with the HTTP status it would have had alone."""

    cle_idempotence: str
    statut: int = Field(description="201 créée, 200 déjà créée avec cette clé, 4xx refusée, 5xx")
    demande: Demande | None = None
    probleme: Probleme | None = None

    @property
    def created(self) -> bool:
        return self.demande is not None and 200 <= self.statut < 300

    @property
    def rejected(self) -> bool:
        return 400 <= self.statut < 500

    @property
    def reason(self) -> str:
        """SI SIAO's explanation when the request was not created (French)."""
        if self.probleme is not None:
            return self.probleme.detail
        return f"SI SIAO a refusé l'opération (HTTP {self.statut})"


class ResultatLot(_Model):
    resultats: list[ResultatElementLot]


class DemandeStatus(_Model):
    """The current status of a request in SI SIAO."""

    demande_id: str
    statut: StatutDemande
    libelle: str
    date_mise_a_jour: datetime


class JetonAcces(_Model):
    """OAuth2 token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: str
    expires_in: int


class CheckResult(_Model):
    """The outcome of one vital function probe."""

    ok: bool
    duration_ms: float
    error: str | None = None


class VitalFunctionsReport(_Model):
    """Person search and request creation, probed in SI SIAO's test realm."""

    checked_at: datetime
    person_search: CheckResult
    request_creation: CheckResult

    @property
    def ok(self) -> bool:
        return self.person_search.ok and self.request_creation.ok

    @property
    def failures(self) -> list[str]:
        """French names of the failing functions, for banners and alerts."""
        names = []
        if not self.person_search.ok:
            names.append("recherche de personne")
        if not self.request_creation.ok:
            names.append("création de demande")
        return names


class SiSiaoError(Exception):
    """Base class of the errors the port raises."""


class SiSiaoUnavailable(SiSiaoError):  # noqa: N818 -- name set by the integration interface
    """SI SIAO did not answer usefully (timeout, network, 5xx, malformed body, circuit open)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class SiSiaoRejected(SiSiaoError):  # noqa: N818 -- name set by the integration interface
    """SI SIAO answered and refused the operation; ``reason`` is SI SIAO's own explanation."""

    def __init__(self, reason: str, status_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


@runtime_checkable
class SiSiaoPort(Protocol):
    """What the service needs from SI SIAO."""

    async def search_personnes_by_phone(self, telephone: str) -> list[Personne]:
        """Persons whose phone number matches (any national or E.164 spelling)."""
        ...

    async def search_personnes_by_identity(
        self, nom: str, prenom: str | None, date_naissance: date
    ) -> list[Personne]:
        """Persons by name (accents and case ignored) and birth date."""
        ...

    async def get_menage(self, menage_id: str) -> Menage | None:
        """A household with its members and open requests, or None if SI SIAO does not know it."""
        ...

    async def create_demande_urgence(
        self, demande: NouvelleDemandeUrgence, utilisateur: str, idempotency_key: str
    ) -> Demande:
        """Creates an emergency request on behalf of ``utilisateur`` (a nominative account).

        Repeating the call with the same ``idempotency_key`` returns the same request.
        """
        ...

    async def create_demandes_urgence(self, lot: Sequence[ElementLot]) -> list[ResultatElementLot]:
        """Creates several requests, in order, each under its own key and listener; one
        outcome per request, in the same order. Repeating the call is safe."""
        ...

    async def get_demande_status(self, demande_id: str) -> DemandeStatus | None:
        """A request's status, or None if SI SIAO does not know the request."""
        ...

    async def check_vital_functions(self) -> VitalFunctionsReport:
        """Probes person search and request creation in SI SIAO's test realm."""
        ...
