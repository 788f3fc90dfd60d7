"""Advanced Mobile Location (ETSI TS 103 625): the SMS form and our signed HTTPS form.

Both parsers treat their input as hostile: bounded sizes, strict number formats (no
``nan``, no exponent), ranges checked, duplicate keys refused. Every refusal is an
:class:`AmlError` whose message is French and safe to show or log (it never echoes more
than a few characters of the payload).

HTTPS form (ours; see docs/geoloc.md): a JSON object signed with HMAC-SHA256 over the exact
body bytes, sent in the header ``X-AML-Signature: sha256=<64 hex digits>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from geoloc.model import Position
from geoloc.numbers import normalise_number

SIGNATURE_HEADER = "X-AML-Signature"
MAX_SMS_LENGTH = 1024
MAX_HTTPS_BODY = 16 * 1024
MAX_RADIUS_M = 100_000.0

METHOD_LABELS = {
    "G": "GNSS",
    "W": "Wi-Fi",
    "C": "cellule",
    "H": "hybride",
    "N": "aucune",
}

_NUMBER_LAT = re.compile(r"[+-]?\d{1,2}(\.\d{1,10})?")
_NUMBER_LON = re.compile(r"[+-]?\d{1,3}(\.\d{1,10})?")
_RADIUS = re.compile(r"\d{1,6}(\.\d{1,3})?")
_TIMESTAMP = re.compile(r"\d{14}")
_KEY = re.compile(r"[A-Za-z\"]{1,8}")
_VALUE = re.compile(r"[ -:<-~]{0,64}")  # printable ASCII except ';'
_DIGITS = re.compile(r"\d{0,20}")


class AmlError(ValueError):
    """A malformed or unusable AML message; the message is French and safe to log."""


class AmlSignatureError(AmlError):
    """Missing (``missing=True``) or wrong signature on an HTTPS AML message."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True)
class AmlReport:
    """A handset's position as AML sent it."""

    position: Position
    at: datetime  # when the handset measured it (UTC)
    method: str  # G, W, C, H: GNSS, Wi-Fi, cell, hybrid
    confidence_pct: int | None = None
    caller: str | None = None  # E.164, when the transport gives it
    imei: str | None = None
    imsi: str | None = None
    mcc: str | None = None
    mnc: str | None = None
    form: str = "sms"  # sms or https

    @property
    def lat(self) -> float:
        return self.position.lat

    @property
    def lon(self) -> float:
        return self.position.lon

    @property
    def accuracy_m(self) -> float | None:
        return self.position.accuracy_m

    @property
    def method_label(self) -> str:
        """French name of the positioning method."""
        return METHOD_LABELS.get(self.method, self.method)

    def age_seconds(self, now: datetime) -> float:
        """Seconds since the handset measured the position (negative if in the future)."""
        return (now - self.at).total_seconds()


def _short(value: str) -> str:
    shown = value[:16]
    return shown + ("…" if len(value) > 16 else "")


def _check_position(lat: float, lon: float, radius: float) -> None:
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise AmlError("Latitude hors limites (−90 à 90).")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise AmlError("Longitude hors limites (−180 à 180).")
    if lat == 0.0 and lon == 0.0:
        raise AmlError("Position nulle (0, 0) : le téléphone n'a pas donné de position.")
    if not (math.isfinite(radius) and 0.0 <= radius <= MAX_RADIUS_M):
        raise AmlError("Rayon de précision hors limites (0 à 100 km).")


def _timestamp(value: str) -> datetime:
    if not _TIMESTAMP.fullmatch(value):
        raise AmlError(f"Horodatage « {_short(value)} » invalide : AAAAMMJJhhmmss attendu.")
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise AmlError(f"Horodatage « {_short(value)} » invalide : date impossible.") from exc


def parse_aml_sms(text: str) -> AmlReport:
    """Parse the SMS form: ``A"ML=1;lt=+48.90;lg=+2.51;rd=1964;top=20220210134654;...``."""
    if not isinstance(text, str):
        raise AmlError("Message AML absent.")
    body = text.strip()
    if not body:
        raise AmlError("Message AML vide.")
    if len(body) > MAX_SMS_LENGTH:
        raise AmlError(f"Message AML trop long ({len(body)} caractères, {MAX_SMS_LENGTH} au plus).")
    if not body.startswith('A"ML='):
        raise AmlError("Ce n'est pas un message AML : il doit commencer par « A\"ML= ».")
    fields: dict[str, str] = {}
    for part in body.rstrip(";").split(";"):
        key, sep, value = part.partition("=")
        key = key.strip()
        value = value.strip()
        if not sep or not _KEY.fullmatch(key):
            raise AmlError(f"Champ AML mal formé « {_short(part)} » : clé=valeur attendu.")
        if not _VALUE.fullmatch(value):
            raise AmlError(
                f"Valeur du champ « {key} » invalide (caractères interdits ou trop long)."
            )
        if key in fields:
            raise AmlError(f"Champ AML « {key} » en double.")
        if len(fields) >= 40:
            raise AmlError("Message AML : trop de champs.")
        fields[key] = value

    version = fields.get('A"ML', "")
    if version != "1":
        raise AmlError(f"Version AML « {_short(version)} » non prise en charge (1 attendue).")
    method = fields.get("pm", "").upper()
    if method == "N":
        raise AmlError("Le message AML ne contient pas de position (pm=N).")
    if method and method not in METHOD_LABELS:
        raise AmlError(f"Méthode de positionnement « {_short(method)} » inconnue.")
    for required in ("lt", "lg", "rd", "top"):
        if not fields.get(required):
            raise AmlError(f"Champ AML obligatoire « {required} » absent.")
    if not _NUMBER_LAT.fullmatch(fields["lt"]):
        raise AmlError(f"Latitude « {_short(fields['lt'])} » invalide.")
    if not _NUMBER_LON.fullmatch(fields["lg"]):
        raise AmlError(f"Longitude « {_short(fields['lg'])} » invalide.")
    if not _RADIUS.fullmatch(fields["rd"]):
        raise AmlError(f"Rayon de précision « {_short(fields['rd'])} » invalide.")
    lat, lon, radius = float(fields["lt"]), float(fields["lg"]), float(fields["rd"])
    _check_position(lat, lon, radius)
    at = _timestamp(fields["top"])

    confidence: int | None = None
    if fields.get("lc"):
        if not re.fullmatch(r"\d{1,3}", fields["lc"]) or int(fields["lc"]) > 100:
            raise AmlError(f"Niveau de confiance « {_short(fields['lc'])} » invalide (0 à 100).")
        confidence = int(fields["lc"])
    # Identifiers are informational: kept when they are digits, dropped otherwise (some
    # gateways mask them), never a reason to lose the position.
    identifiers: dict[str, str | None] = {}
    for key in ("si", "ei", "mcc", "mnc"):
        identifier = fields.get(key) or None
        identifiers[key] = identifier if identifier and _DIGITS.fullmatch(identifier) else None
    return AmlReport(
        position=Position(lat=lat, lon=lon, accuracy_m=radius, at=at),
        at=at,
        method=method or "?",
        confidence_pct=confidence,
        imsi=identifiers["si"],
        imei=identifiers["ei"],
        mcc=identifiers["mcc"],
        mnc=identifiers["mnc"],
        form="sms",
    )


def sign_aml_body(body: bytes, key: bytes) -> str:
    """The ``X-AML-Signature`` header value for ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, signature_header: str | None, key: bytes) -> None:
    """Raise :class:`AmlSignatureError` unless the header signs ``body`` with ``key``."""
    if not key:
        raise AmlSignatureError("Réception AML désactivée : aucune clé HMAC configurée.")
    header = (signature_header or "").strip()
    if not header:
        raise AmlSignatureError(f"Signature absente (en-tête {SIGNATURE_HEADER}).", missing=True)
    scheme, _, given = header.partition("=")
    if scheme.strip().lower() != "sha256" or not re.fullmatch(r"[0-9a-fA-F]{64}", given.strip()):
        raise AmlSignatureError("Signature mal formée : « sha256=<64 chiffres hexadécimaux> ».")
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.strip().lower()):
        raise AmlSignatureError("Signature invalide.")


def _reject_constant(name: str) -> Any:
    raise AmlError(f"Valeur JSON « {name} » interdite.")


def parse_json_object(body: bytes, limit: int) -> dict[str, Any]:
    if len(body) > limit:
        raise AmlError(f"Message trop volumineux ({len(body)} octets, {limit} au plus).")
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise AmlError("Corps illisible : UTF-8 attendu.") from exc
    except RecursionError as exc:
        raise AmlError("JSON trop imbriqué.") from exc
    except json.JSONDecodeError as exc:
        raise AmlError(f"JSON invalide (ligne {exc.lineno}, colonne {exc.colno}).") from exc
    if not isinstance(document, dict):
        raise AmlError("Objet JSON attendu.")
    return document


def _number(document: dict[str, Any], key: str, *, required: bool = True) -> float | None:
    value = document.get(key)
    if value is None:
        if required:
            raise AmlError(f"Champ « {key} » obligatoire absent.")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AmlError(f"Champ « {key} » : nombre attendu.")
    try:
        result = float(value)
    except OverflowError as exc:
        raise AmlError(f"Champ « {key} » : nombre hors limites.") from exc
    if not math.isfinite(result):
        raise AmlError(f"Champ « {key} » : nombre hors limites.")
    return result


def _text(document: dict[str, Any], key: str, pattern: str) -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise AmlError(f"Champ « {key} » invalide.")
    return value


def parse_aml_json(body: bytes) -> AmlReport:
    """Parse the HTTPS form's JSON body (already authenticated)."""
    document = parse_json_object(body, MAX_HTTPS_BODY)
    version = document.get("v")
    if isinstance(version, bool) or version != 1:
        raise AmlError("Champ « v » : version 1 attendue.")
    caller_raw = document.get("caller")
    if not isinstance(caller_raw, str) or len(caller_raw) > 32:
        raise AmlError("Champ « caller » : numéro de l'appelant attendu.")
    caller = normalise_number(caller_raw)
    if caller is None:
        raise AmlError(f"Champ « caller » : numéro « {_short(caller_raw)} » invalide.")
    lat = _number(document, "lat")
    lon = _number(document, "lon")
    radius = _number(document, "radius_m")
    if lat is None or lon is None or radius is None:  # pragma: no cover - _number raised
        raise AmlError("Position incomplète.")
    _check_position(lat, lon, radius)
    at_raw = document.get("positioned_at")
    if not isinstance(at_raw, str) or len(at_raw) > 40:
        raise AmlError("Champ « positioned_at » : date ISO 8601 attendue.")
    try:
        at = datetime.fromisoformat(at_raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise AmlError(f"Champ « positioned_at » : date « {_short(at_raw)} » invalide.") from exc
    if at.tzinfo is None:
        raise AmlError("Champ « positioned_at » : fuseau horaire obligatoire (ex. « Z »).")
    at = at.astimezone(UTC)
    method = _text(document, "method", r"[GWCH]") or "?"
    confidence = document.get("confidence_pct")
    if confidence is not None and (
        isinstance(confidence, bool)
        or not isinstance(confidence, int)
        or not 0 <= confidence <= 100
    ):
        raise AmlError("Champ « confidence_pct » : entier de 0 à 100 attendu.")
    return AmlReport(
        position=Position(lat=lat, lon=lon, accuracy_m=radius, at=at),
        at=at,
        method=method,
        confidence_pct=confidence,
        caller=caller,
        imei=_text(document, "imei", r"\d{14,16}"),
        imsi=_text(document, "imsi", r"\d{6,15}"),
        mcc=_text(document, "mcc", r"\d{3}"),
        mnc=_text(document, "mnc", r"\d{2,3}"),
        form="https",
    )


def verify_and_parse_aml_https(body: bytes, signature_header: str, key: bytes) -> AmlReport:
    """Check the HMAC-SHA256 signature (constant-time), then parse the JSON body."""
    if len(body) > MAX_HTTPS_BODY:
        raise AmlError(f"Message trop volumineux ({len(body)} octets, {MAX_HTTPS_BODY} au plus).")
    verify_signature(body, signature_header, key)
    return parse_aml_json(body)
