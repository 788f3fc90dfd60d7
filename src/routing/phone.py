"""Telephone numbers: French national or E.164 input, E.164 storage.

Overseas départements have their own country calling codes (+590, +594, +596, +262), so a
national-form number such as ``0590 12 34 56`` is tried with each overseas region when it is
not a valid metropolitan number.
"""

from __future__ import annotations

import phonenumbers

# Metropolitan France first, then the overseas regions that share the French numbering plan.
_REGIONS = ("FR", "GP", "MQ", "GF", "RE", "YT")


class InvalidPhoneNumberError(ValueError):
    """Raised with a French message when a string is not a usable telephone number."""


def normalize_number(raw: str) -> str:
    """Return the E.164 form of a French (metropolitan or overseas) or international number."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumberError("le numéro est vide")
    for region in _REGIONS:
        try:
            parsed = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if text.startswith("+"):
            break  # an explicit country code is not retried with another region
    raise InvalidPhoneNumberError(f"« {raw} » n'est pas un numéro de téléphone valide")


def try_normalize(raw: str) -> str | None:
    """E.164 form of ``raw``, or None when it is not a valid number (hidden or garbage)."""
    try:
        return normalize_number(raw)
    except InvalidPhoneNumberError:
        return None


def display_number(e164: str) -> str:
    """The number as a French person writes it (``01 99 00 12 34``), E.164 when foreign."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if parsed.country_code == 33:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def mask_number(raw: str | None) -> str:
    """A phone number as logs may hold it: the first three characters and the last two
    digits, the rest starred (``+33612345678`` → ``+33*******78``). The one helper for
    every log line that names a number; nothing of it identifies a person."""
    if not raw:
        return "?"
    text = "".join(ch for ch in raw if ch.isdigit() or ch == "+")
    if len(text) <= 5:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 5) + text[-2:]
