"""Alerting the Dihal on-call ("astreinte"): a webhook and e-mail."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from enum import StrEnum
from typing import Protocol

import httpx


class AlertKind(StrEnum):
    INCIDENT_OUVERT = "incident_ouvert"
    INCIDENT_CLOS = "incident_clos"


@dataclass(frozen=True)
class IncidentAlert:
    """One message to the on-call; ``subject`` and ``body`` are French."""

    kind: AlertKind
    incident_id: int
    failing_since: datetime
    at: datetime
    subject: str
    body: str


class AlertError(Exception):
    """The alert did not reach its channel; the message says why, in French."""


class Alerter(Protocol):
    """A channel to the on-call."""

    @property
    def name(self) -> str: ...

    async def send(self, alert: IncidentAlert) -> None:
        """Delivers the alert or raises ``AlertError``."""
        ...


class WebhookAlerter:
    """POSTs the alert as JSON (``text`` holds the whole message, for chat webhooks)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        timeout: float = 10.0,
        headers: dict[str, str] | None = None,
        name: str = "webhook",
    ) -> None:
        self._http = http
        self._url = url
        self._timeout = timeout
        self._headers = headers or {}
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def send(self, alert: IncidentAlert) -> None:
        payload = {
            "evenement": str(alert.kind),
            "incident_id": alert.incident_id,
            "en_echec_depuis": alert.failing_since.isoformat(),
            "date": alert.at.isoformat(),
            "titre": alert.subject,
            "message": alert.body,
            "text": f"{alert.subject}\n{alert.body}",
        }
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._http.post(
                    self._url, json=payload, headers=self._headers, timeout=self._timeout
                )
        except (TimeoutError, httpx.HTTPError) as exc:
            raise AlertError(f"webhook injoignable ({type(exc).__name__})") from None
        if response.status_code >= 300:
            raise AlertError(f"webhook en erreur (HTTP {response.status_code})")


class EmailAlerter:
    """Sends the alert by SMTP (``smtplib`` in a worker thread)."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
        name: str = "e-mail",
    ) -> None:
        if not recipients:
            raise ValueError("at least one recipient is needed")
        self._host = host
        self._port = port
        self._sender = sender
        self._recipients = list(recipients)
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def send(self, alert: IncidentAlert) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = ", ".join(self._recipients)
        message["Subject"] = alert.subject
        message.set_content(alert.body)
        try:
            await asyncio.to_thread(self._deliver, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise AlertError(f"envoi du courriel impossible ({type(exc).__name__})") from None

    def _deliver(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
            if self._starttls:
                smtp.starttls()
            if self._username is not None and self._password is not None:
                smtp.login(self._username, self._password)
            smtp.send_message(message)
