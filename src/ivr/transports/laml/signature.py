"""Webhook signatures of Twilio and SignalWire (``X-Twilio-Signature``, ``X-SignalWire-Signature``).

The documented algorithm, for a form POST: take the full URL the provider requested (scheme,
host, path and query string, exactly as configured), append every POST parameter sorted by
name (Unix-style, case-sensitive), each as its name immediately followed by its value, sign
that string with HMAC-SHA1 keyed with the auth token, and base64-encode the digest.
SignalWire signs LaML form posts the same way, with the project's signing key.

Behind a TLS-terminating proxy the URL this process sees (``http://10.0.0.5:8115/...``) is
not the one the provider signed, so the URL is rebuilt from the configured public base URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

SIGNATURE_HEADERS = ("x-twilio-signature", "x-signalwire-signature")
_DEFAULT_PORTS = {"https": 443, "http": 80}


def compute_signature(token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The base64 HMAC-SHA1 signature of ``url`` and the POST ``params`` under ``token``."""
    # Sorting (name, value) pairs sorts by name first; a repeated name (never sent in voice
    # webhooks) keeps all its values, in value order, as the providers' own helpers do.
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def url_variants(url: str) -> tuple[str, ...]:
    """The URL as given, and with its default port added or removed.

    Providers have signed both forms over the years (``https://host/x`` and
    ``https://host:443/x``); their own validators accept either, and so do we.
    """
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if default is None or not host:
        return (url,)
    if parts.port is None:
        other = parts._replace(netloc=f"{_userinfo(parts.netloc)}{host}:{default}")
    elif parts.port == default:
        other = parts._replace(netloc=f"{_userinfo(parts.netloc)}{host}")
    else:
        return (url,)
    return (url, urlunsplit(other))


def _userinfo(netloc: str) -> str:
    return netloc.rsplit("@", 1)[0] + "@" if "@" in netloc else ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a webhook is genuine, and if not why (for the log line)."""

    ok: bool
    reason: str


_GENUINE = Verdict(True, "")


class SignatureChecker:
    """Checks webhook signatures against the auth token and the public URL; fails closed."""

    def __init__(self, token: str, public_base_url: str) -> None:
        if not token:
            raise ValueError("the LaML auth token is empty: every webhook would be refused")
        if not public_base_url.startswith(("https://", "http://")):
            raise ValueError(f"the public base URL {public_base_url!r} is not an http(s) URL")
        self._token = token
        self.public_base_url = public_base_url.rstrip("/")

    def _matches(self, url: str, params: Sequence[tuple[str, str]], presented: list[bytes]) -> bool:
        expected = compute_signature(self._token, url, params).encode("ascii")
        return any(hmac.compare_digest(expected, candidate) for candidate in presented)

    def public_url(self, path: str, query: str) -> str:
        """The URL the provider requested: public base URL + path + raw query string."""
        return self.public_base_url + path + ("?" + query if query else "")

    def check(
        self, url: str, params: Sequence[tuple[str, str]], signatures: Sequence[str]
    ) -> Verdict:
        """Valid when one of the presented signatures matches ``url`` and ``params``."""
        if not signatures:
            return Verdict(False, "no X-Twilio-Signature or X-SignalWire-Signature header")
        presented = [s.strip().encode() for s in signatures]
        if self._matches(url, params, presented):
            return _GENUINE
        for candidate in url_variants(url)[1:]:
            if self._matches(candidate, params, presented):
                return _GENUINE
        return Verdict(
            False,
            f"signature does not match {url} (check IVR_PUBLIC_BASE_URL and the auth token)",
        )
