"""Accounts as the consoles see them: creation with a password, sign-in, roles, and the
admins' account management (scope, roles, activation, password resets)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.records.models import Account, AccountRole, AccountRoleGrant, ConsoleSession
from ivr.records.store import RecordStore
from ivr.web.security import (
    DUMMY_HASH,
    hash_password,
    needs_rehash,
    new_session_id,
    session_id_hash,
    verify_password,
)
from routing.departements import DEPARTEMENTS
from routing.phone import InvalidPhoneNumberError, normalize_number

ROLE_LABELS = {
    AccountRole.LISTENER: "écoutant",
    AccountRole.REFERENT: "référent",
    AccountRole.SUPPORT: "support national",
    AccountRole.ADMIN_DEPARTEMENT: "admin départemental",
    AccountRole.ADMIN_NATIONAL: "admin national",
}
LOCAL_ROLES = (AccountRole.LISTENER, AccountRole.REFERENT, AccountRole.ADMIN_DEPARTEMENT)
NATIONAL_ROLES = (AccountRole.SUPPORT, AccountRole.ADMIN_NATIONAL)
MIN_PASSWORD_LENGTH = 12
DEPARTEMENT_CODES = frozenset(d.code for d in DEPARTEMENTS)
# Metropolitan France and the overseas regions on the French numbering plan.
FRENCH_REGIONS = frozenset({"FR", "GP", "MQ", "GF", "RE", "YT", "BL", "MF", "PM"})
LOGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Grant = tuple[AccountRole, str | None]
T = TypeVar("T")


class AccountError(ValueError):
    """An account that cannot be created or changed as asked; the message is French.

    ``errors``: the messages by form field (``login``, ``telephone``, ``dep_listener``…;
    ``general`` when no field is to blame), for the form to show each next to its field.
    """

    def __init__(
        self, message: str, field: str = "general", errors: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.errors = errors if errors is not None else {field: [message]}


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in person: login, name, listener phone and role grants.

    ``must_change_password`` is set after an admin's reset: the person may only choose a
    new password until they do.
    """

    login: str
    display_name: str
    phone: str | None
    grants: tuple[Grant, ...]
    must_change_password: bool = False

    def departements(self, *roles: AccountRole) -> list[str]:
        """The départements where the person holds one of ``roles`` (sorted)."""
        return sorted({dep for role, dep in self.grants if role in roles and dep is not None})

    def has(self, *roles: AccountRole) -> bool:
        return any(role in roles for role, _ in self.grants)

    @property
    def national_admin(self) -> bool:
        return self.has(AccountRole.ADMIN_NATIONAL)

    def roles_text(self) -> str:
        """The grants in French: « écoutant (91), admin national »."""
        return roles_text(self.grants)


def roles_text(grants: Iterable[Grant]) -> str:
    parts = []
    for role, dep in sorted(grants, key=lambda g: (g[0].value, g[1] or "")):
        label = ROLE_LABELS[role]
        parts.append(f"{label} ({dep})" if dep else label)
    return ", ".join(parts)


# --------------------------------------------------------------------------- validation


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères.",
            "mot_de_passe",
        )


def check_grants(roles: Iterable[Grant]) -> list[Grant]:
    """The grants, checked: at least one, a valid département for a local role, none for a
    national one, no duplicate. Raises ``AccountError``."""
    grants: list[Grant] = []
    for role, dep in roles:
        dep = dep.strip().upper() if dep else None
        if role in LOCAL_ROLES and not dep:
            raise AccountError(
                f"Le rôle « {ROLE_LABELS[role]} » se donne pour un département.",
                f"dep_{role.value}",
            )
        if role not in LOCAL_ROLES and dep:
            raise AccountError(f"Le rôle « {ROLE_LABELS[role]} » est national (sans département).")
        if dep is not None and dep not in DEPARTEMENT_CODES:
            raise AccountError(f"« {dep} » n'est pas un code de département.", f"dep_{role.value}")
        if (role, dep) not in grants:
            grants.append((role, dep))
    if not grants:
        raise AccountError("Un compte a au moins un rôle.", "roles")
    return grants


def check_phone(phone: str | None, grants: Iterable[Grant]) -> str | None:
    """The phone in E.164 (French numbers only), required for a listener."""
    if not phone or not phone.strip():
        if any(role is AccountRole.LISTENER for role, _ in grants):
            raise AccountError("Un écoutant a un numéro de poste (téléphone).", "telephone")
        return None
    try:
        e164 = normalize_number(phone)
    except InvalidPhoneNumberError:
        e164 = None
    if e164 is None or phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) not in (
        FRENCH_REGIONS
    ):
        raise AccountError(
            f"« {phone.strip()} » n'est pas un numéro de téléphone français valide "
            "(par exemple 01 69 00 00 00 ou +33 1 69 00 00 00).",
            "telephone",
        )
    return e164


def check_email(email: str | None) -> str | None:
    if not email or not email.strip():
        return None
    if not EMAIL_RE.fullmatch(email.strip()):
        raise AccountError(
            f"« {email.strip()} » n'est pas une adresse électronique valide.", "email"
        )
    return email.strip()


def check_login(login: str) -> None:
    if not login:
        raise AccountError("L'identifiant est obligatoire.", "login")
    if not LOGIN_RE.fullmatch(login):
        raise AccountError(
            "L'identifiant est fait de lettres sans accent, chiffres, points, tirets, "
            "soulignés ou @ (128 caractères au plus).",
            "login",
        )


def check_fields(
    roles: Iterable[Grant],
    phone: str | None,
    email: str | None,
    *,
    login: str | None = None,
    password: str | None = None,
) -> tuple[list[Grant], str | None, str | None]:
    """The account form's fields checked all at once: the grants, the phone in E.164 and
    the e-mail. Raises one ``AccountError`` with every field's message."""
    asked = list(roles)
    errors: dict[str, list[str]] = {}

    def checked(check: Callable[[], T]) -> T | None:
        try:
            return check()
        except AccountError as exc:
            for name, messages in exc.errors.items():
                errors.setdefault(name, []).extend(messages)
            return None

    if login is not None:
        checked(lambda: check_login(login))
    if password is not None:
        checked(lambda: check_password(password))
    grants = checked(lambda: check_grants(asked)) or []
    e164 = checked(lambda: check_phone(phone, grants or asked))
    mail = checked(lambda: check_email(email))
    if errors:
        every = [message for messages in errors.values() for message in messages]
        raise AccountError(" ".join(every), errors=errors)
    return grants, e164, mail


# --------------------------------------------------------------------------- creation, sign-in


def create_account(
    store: RecordStore,
    login: str,
    password: str,
    roles: Iterable[Grant],
    *,
    display_name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    by: str = "cli",
    must_change_password: bool = False,
) -> int:
    """Create an account that can sign in to the consoles; returns its id.

    ``roles`` are (role, département) pairs; a département (one of the 101 codes) is
    required for listeners, referents and départemental admins, and must be None for
    support and national admins. ``phone`` is the number the 115 queue rings for a
    listener: a French number, stored in E.164. Raises ``AccountError``.
    """
    login = login.strip()
    grants, e164, mail = check_fields(roles, phone, email, login=login, password=password)
    with Session(store.engine) as session:
        if session.scalar(sa.select(Account.id).where(Account.login == login)) is not None:
            raise AccountError(f"Le compte « {login} » existe déjà.", "login")
    return store.add_account(
        login,
        (display_name or "").strip() or login,
        grants,
        by,
        email=mail,
        phone=e164,
        password_hash=hash_password(password),
        must_change_password=must_change_password,
    )


def set_password(
    store: RecordStore, login: str, password: str, by: str, *, must_change: bool = False
) -> None:
    """Replace an account's password (audited); ``must_change``: a temporary one."""
    check_password(password)
    with Session(store.engine) as session, session.begin():
        account = session.scalar(sa.select(Account).where(Account.login == login))
        if account is None:
            raise AccountError(f"Compte « {login} » inconnu.")
        account.password_hash = hash_password(password)
        account.must_change_password = must_change
        ended = _end_sessions(session, account.id)
    store.audit(
        by, "update", "account_password", login, {"temporaire": must_change, "sessions": ended}
    )


def change_own_password(store: RecordStore, login: str, old: str, new: str) -> None:
    """The person's own change: the current password is required; the new one differs."""
    with Session(store.engine) as session:
        stored = session.scalar(
            sa.select(Account.password_hash).where(Account.login == login, Account.active.is_(True))
        )
    if not verify_password(old, stored):
        raise AccountError("Le mot de passe actuel est incorrect.")
    if new == old:
        raise AccountError("Le nouveau mot de passe doit différer de l'actuel.")
    set_password(store, login, new, login)


def load_principal(store: RecordStore, login: str) -> Principal | None:
    """The active account ``login`` with its grants (None when unknown or deactivated)."""
    with Session(store.engine) as session:
        account = session.scalar(
            sa.select(Account).where(Account.login == login, Account.active.is_(True))
        )
        return _principal(account) if account is not None else None


def _principal(account: Account) -> Principal:
    grants = tuple((AccountRole(g.role), g.departement) for g in account.roles)
    return Principal(
        account.login,
        account.display_name,
        account.phone,
        grants,
        account.must_change_password,
    )


def authenticate(store: RecordStore, login: str, password: str) -> Principal | None:
    """The principal when the password matches an active account; None otherwise.

    A hash made with older scrypt parameters (``needs_rehash``) is remade with today's,
    now that the password is known; the row changes only if nobody changed the hash since.
    """
    with Session(store.engine) as session:
        stored = session.scalar(
            sa.select(Account.password_hash).where(Account.login == login, Account.active.is_(True))
        )
    if stored is None:
        verify_password(password, DUMMY_HASH)  # same cost as a wrong password
        return None
    if not verify_password(password, stored):
        return None
    if needs_rehash(stored):
        with Session(store.engine) as session, session.begin():
            session.execute(
                sa.update(Account)
                .where(Account.login == login, Account.password_hash == stored)
                .values(password_hash=hash_password(password))
            )
    return load_principal(store, login)


# --------------------------------------------------------------------------- sessions


def open_session(store: RecordStore, login: str, now: datetime, lifetime: timedelta) -> str:
    """Open a console session for ``login`` (just authenticated); returns its id, for the
    signed cookie. Sessions past their expiry, anyone's, are deleted on the way."""
    sid = new_session_id()
    with Session(store.engine) as session, session.begin():
        account_id = session.scalar(sa.select(Account.id).where(Account.login == login))
        if account_id is None:
            raise AccountError(f"Compte « {login} » inconnu.")
        session.execute(sa.delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
        session.add(
            ConsoleSession(
                id_hash=session_id_hash(sid),
                account_id=account_id,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return sid


def session_principal(
    store: RecordStore, login: str, sid: str | None, now: datetime
) -> Principal | None:
    """The principal of a signed cookie: ``login``'s active account, if the cookie's
    server-side session ``sid`` is still open (not ended, not expired) and is theirs.

    Read from the records on every request (no cache): a session ended on one instance is
    refused by every other at its next request."""
    if not sid:
        return None
    with Session(store.engine) as session:
        account = session.scalar(
            sa.select(Account)
            .join(ConsoleSession, ConsoleSession.account_id == Account.id)
            .where(
                Account.login == login,
                Account.active.is_(True),
                ConsoleSession.id_hash == session_id_hash(sid),
                ConsoleSession.expires_at > now,
            )
        )
        return _principal(account) if account is not None else None


def close_session(store: RecordStore, sid: str) -> bool:
    """End one session (signing out); True if it was open."""
    with Session(store.engine) as session, session.begin():
        result = session.execute(
            sa.delete(ConsoleSession).where(ConsoleSession.id_hash == session_id_hash(sid))
        )
    return bool(getattr(result, "rowcount", 0))


def _end_sessions(session: Session, account_id: int, keep: str | None = None) -> int:
    """Delete the account's sessions (but ``keep``, a session id); how many there were."""
    query = sa.delete(ConsoleSession).where(ConsoleSession.account_id == account_id)
    if keep is not None:
        query = query.where(ConsoleSession.id_hash != session_id_hash(keep))
    return int(getattr(session.execute(query), "rowcount", 0) or 0)


def end_sessions(store: RecordStore, logins: Iterable[str], *, keep: str | None = None) -> int:
    """An admin's « fermer les sessions »: end every open session of ``logins`` (but
    ``keep``, the admin's own current session) in one transaction; how many ended. The
    caller audits it."""
    wanted = list(logins)
    if not wanted:
        return 0
    with Session(store.engine) as session, session.begin():
        ids = session.scalars(sa.select(Account.id).where(Account.login.in_(wanted))).all()
        return sum(_end_sessions(session, account_id, keep) for account_id in ids)


def open_sessions(store: RecordStore, now: datetime) -> dict[str, int]:
    """How many unexpired sessions each account has open (accounts with none left out)."""
    with Session(store.engine) as session:
        rows = session.execute(
            sa.select(Account.login, sa.func.count())
            .join(ConsoleSession, ConsoleSession.account_id == Account.id)
            .where(ConsoleSession.expires_at > now)
            .group_by(Account.login)
        ).all()
    return {login: int(count) for login, count in rows}


def record_sign_in(store: RecordStore, login: str, at: datetime) -> None:
    with Session(store.engine) as session, session.begin():
        session.execute(sa.update(Account).where(Account.login == login).values(last_sign_in_at=at))


# --------------------------------------------------------------------------- management


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account as the management page shows it (never its password hash)."""

    login: str
    display_name: str
    email: str | None
    phone: str | None
    active: bool
    grants: tuple[Grant, ...]
    created_at: datetime
    last_sign_in_at: datetime | None
    must_change_password: bool
    has_password: bool

    def roles_text(self) -> str:
        return roles_text(self.grants)

    def departements(self, role: AccountRole) -> str:
        return ", ".join(sorted(d for r, d in self.grants if r is role and d))

    def holds(self, role: AccountRole) -> bool:
        return any(r is role for r, _ in self.grants)


def _view(account: Account) -> AccountView:
    return AccountView(
        login=account.login,
        display_name=account.display_name,
        email=account.email,
        phone=account.phone,
        active=account.active,
        grants=tuple(
            sorted(
                ((AccountRole(g.role), g.departement) for g in account.roles),
                key=lambda g: (g[0].value, g[1] or ""),
            )
        ),
        created_at=account.created_at,
        last_sign_in_at=account.last_sign_in_at,
        must_change_password=account.must_change_password,
        has_password=account.password_hash is not None,
    )


def list_accounts(store: RecordStore) -> list[AccountView]:
    with Session(store.engine) as session:
        accounts = session.scalars(sa.select(Account).order_by(Account.login)).all()
        return [_view(a) for a in accounts]


def display_names(store: RecordStore, logins: Iterable[str]) -> dict[str, str]:
    """The names shown for these logins (a login with no account is not in the answer)."""
    wanted = sorted(set(logins))
    if not wanted:
        return {}
    with Session(store.engine) as session:
        rows = session.execute(
            sa.select(Account.login, Account.display_name).where(Account.login.in_(wanted))
        ).all()
    return {login: name or login for login, name in rows}


def get_account(store: RecordStore, login: str) -> AccountView | None:
    with Session(store.engine) as session:
        account = session.scalar(sa.select(Account).where(Account.login == login))
        return _view(account) if account is not None else None


def within_scope(admin: Principal, grants: Iterable[Grant]) -> bool:
    """Whether ``admin`` may manage an account with ``grants`` (or grant them): a national
    admin, everything; a départemental admin, only roles all in their départements."""
    if admin.national_admin:
        return True
    mine = set(admin.departements(AccountRole.ADMIN_DEPARTEMENT))
    grants = list(grants)
    return bool(grants) and all(dep is not None and dep in mine for _, dep in grants)


def update_account(
    store: RecordStore,
    login: str,
    roles: Iterable[Grant],
    *,
    display_name: str,
    phone: str | None,
    email: str | None,
    by: str,
) -> None:
    """Replace an account's roles, name, phone and e-mail (audited, before and after)."""
    grants, e164, mail = check_fields(roles, phone, email)
    with Session(store.engine) as session, session.begin():
        account = session.scalar(sa.select(Account).where(Account.login == login))
        if account is None:
            raise AccountError(f"Compte « {login} » inconnu.")
        before = sorted(f"{g.role}:{g.departement or ''}" for g in account.roles)
        after = sorted(f"{role.value}:{dep or ''}" for role, dep in grants)
        changed = {
            "roles": {"avant": before, "apres": after} if before != after else None,
            "nom": account.display_name != (display_name.strip() or login) or None,
            "telephone": account.phone != e164 or None,
            "email": account.email != mail or None,
        }
        kept = {(g.role, g.departement): g for g in account.roles}
        account.roles = [
            kept.get((role.value, dep)) or AccountRoleGrant(role=role.value, departement=dep)
            for role, dep in grants
        ]
        account.display_name = display_name.strip() or login
        account.phone = e164
        account.email = mail
    store.audit(by, "update", "account", login, {k: v for k, v in changed.items() if v})


def set_active(store: RecordStore, login: str, active: bool, by: str) -> None:
    """(De)activate an account (audited); deactivation ends its sessions."""
    with Session(store.engine) as session, session.begin():
        account = session.scalar(sa.select(Account).where(Account.login == login))
        if account is None:
            raise AccountError(f"Compte « {login} » inconnu.")
        account.active = active
        # Deactivation ends every session for good: reactivating the account later does
        # not bring old cookies back (their sessions no longer exist). Reactivation ends
        # none (there are none left) but is harmless.
        ended = _end_sessions(session, account.id)
    detail = None if active else {"sessions": ended}
    store.audit(by, "activate" if active else "deactivate", "account", login, detail)
