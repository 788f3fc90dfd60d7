"""Passwords (scrypt with a per-account salt), the signed session cookie and CSRF tokens.

Standard library only: ``itsdangerous`` (which Starlette's ``SessionMiddleware`` needs) is not
installed, so the session is a small HMAC-SHA256-signed cookie this module reads and writes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """The scrypt cost and sizes new hashes are made with."""

    n: int
    r: int
    p: int
    salt_bytes: int = 16
    hash_bytes: int = 32


# scrypt cost: 2**14 × 8 × 1 needs 16 MiB and about 50 ms, OWASP's minimum for scrypt. A
# stored hash made with other parameters is remade with these at the person's next sign-in
# (``needs_rehash``), so raising them here upgrades every account as people sign in.
SCRYPT = ScryptParams(n=2**14, r=8, p=1)
SCRYPT_N, SCRYPT_R, SCRYPT_P = SCRYPT.n, SCRYPT.r, SCRYPT.p
SALT_BYTES, HASH_BYTES = SCRYPT.salt_bytes, SCRYPT.hash_bytes
MAX_SCRYPT_MEMORY = 256 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, params: ScryptParams = SCRYPT) -> str:
    """``scrypt$n$r$p$salt$hash``, with a fresh random salt."""
    salt = secrets.token_bytes(params.salt_bytes)
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        dklen=params.hash_bytes,
        maxmem=MAX_SCRYPT_MEMORY,
    )
    return f"scrypt${params.n}${params.r}${params.p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored`` (False for no hash or a malformed one)."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        want = _unb64(expected)
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
            maxmem=MAX_SCRYPT_MEMORY,
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, want)


def needs_rehash(stored: str, params: ScryptParams = SCRYPT) -> bool:
    """Whether a hash (that just verified) was made otherwise than ``params`` would make it
    today: another cost, a shorter salt or digest. Then it is remade at sign-in."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        return (
            scheme != "scrypt"
            or (int(n), int(r), int(p)) != (params.n, params.r, params.p)
            or len(_unb64(salt)) < params.salt_bytes
            or len(_unb64(digest)) != params.hash_bytes
        )
    except ValueError:
        return True


# A hash to check against when the login is unknown, so both cases take the same time.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def new_session_id() -> str:
    """A fresh random session id (256 bits), carried by the signed cookie."""
    return secrets.token_urlsafe(32)


def session_id_hash(session_id: str) -> str:
    """What the records keep of a session id (``console_sessions.id_hash``): its SHA-256,
    so reading the table gives nobody a session to replay."""
    return hashlib.sha256(b"ivr.web.session-id\x00" + session_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    """What the cookie carries: who (None before sign-in), the CSRF token, the expiry, and
    the id of the server-side session (``console_sessions``) the sign-in opened: the cookie
    is honoured only while that session exists, so the server can end it for good."""

    login: str | None
    csrf: str
    expires: datetime
    sid: str | None = None

    @classmethod
    def anonymous(cls, now: datetime, lifetime: timedelta) -> Session:
        return cls(None, secrets.token_urlsafe(32), now + lifetime)

    @classmethod
    def signed_in(cls, login: str, sid: str, now: datetime, lifetime: timedelta) -> Session:
        """A fresh session (new CSRF token) for a person who just signed in, naming the
        server-side session ``sid``."""
        return cls(login, secrets.token_urlsafe(32), now + lifetime, sid)


class SessionCodec:
    """Encodes a session as ``payload.signature`` (URL-safe base64, HMAC-SHA256)."""

    def __init__(self, secret: str | bytes) -> None:
        key = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(key) < 16:
            raise ValueError("the session secret needs at least 16 bytes")
        self._key = hashlib.sha256(b"ivr.web.session\x00" + key).digest()

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def encode(self, session: Session) -> str:
        data = {
            "l": session.login,
            "c": session.csrf,
            "e": session.expires.isoformat(),
            "i": session.sid,
        }
        payload = _b64(json.dumps(data, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._sign(payload)}"

    def decode(self, value: str | None, now: datetime) -> Session | None:
        """The session, or None when the cookie is absent, forged or expired."""
        if not value or "." not in value:
            return None
        payload, signature = value.rsplit(".", 1)
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = Session(
                data["l"], str(data["c"]), datetime.fromisoformat(data["e"]), data.get("i")
            )
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires <= now:
            return None
        return session


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time CSRF token comparison."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
