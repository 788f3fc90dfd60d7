"""The port when no SI SIAO is configured: every call says so, nothing is lost.

Lookups answer "SI SIAO indisponible" with the reason; emergency requests still go to the
outbox and wait there until the service is configured with ``IVR_SISIAO_BASE_URL``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sisiao_link.port import (
    Demande,
    DemandeStatus,
    ElementLot,
    Menage,
    NouvelleDemandeUrgence,
    Personne,
    ResultatElementLot,
    SiSiaoUnavailable,
    VitalFunctionsReport,
)

REASON = "SI SIAO n'est pas configuré sur ce service (IVR_SISIAO_BASE_URL)"


class UnconfiguredSiSiao:
    """A ``SiSiaoPort`` that is never available."""

    async def search_personnes_by_phone(self, telephone: str) -> list[Personne]:
        raise SiSiaoUnavailable(REASON)

    async def search_personnes_by_identity(
        self, nom: str, prenom: str | None, date_naissance: date
    ) -> list[Personne]:
        raise SiSiaoUnavailable(REASON)

    async def get_menage(self, menage_id: str) -> Menage | None:
        raise SiSiaoUnavailable(REASON)

    async def create_demande_urgence(
        self, demande: NouvelleDemandeUrgence, utilisateur: str, idempotency_key: str
    ) -> Demande:
        raise SiSiaoUnavailable(REASON)

    async def create_demandes_urgence(self, lot: Sequence[ElementLot]) -> list[ResultatElementLot]:
        raise SiSiaoUnavailable(REASON)

    async def get_demande_status(self, demande_id: str) -> DemandeStatus | None:
        raise SiSiaoUnavailable(REASON)

    async def check_vital_functions(self) -> VitalFunctionsReport:
        raise SiSiaoUnavailable(REASON)
