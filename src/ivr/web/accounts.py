"""Accounts as the consoles see them: creation with a password, sign-in, roles."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ivr.records.models import Account, AccountRole
from ivr.records.store import RecordStore
from ivr.web.security import DUMMY_HASH, hash_password, verify_password

ROLE_LABELS = {
    AccountRole.LISTENER: "écoutant",
    AccountRole.REFERENT: "référent",
    AccountRole.SUPPORT: "support national",
    AccountRole.ADMIN_DEPARTEMENT: "admin départemental",
    AccountRole.ADMIN_NATIONAL: "admin national",
}
MIN_PASSWORD_LENGTH = 12


class AccountError(ValueError):
    """An account that cannot be created as asked; the message is French."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in person: login, name, listener phone and role grants."""

    login: str
    display_name: str
    phone: str | None
    grants: tuple[tuple[AccountRole, str | None], ...]

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
        parts = []
        for role, dep in sorted(self.grants, key=lambda g: (g[0].value, g[1] or "")):
            label = ROLE_LABELS[role]
            parts.append(f"{label} ({dep})" if dep else label)
        return ", ".join(parts)


def create_account(
    store: RecordStore,
    login: str,
    password: str,
    roles: Iterable[tuple[AccountRole, str | None]],
    *,
    display_name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    by: str = "cli",
) -> int:
    """Create an account that can sign in to the consoles; returns its id.

    ``roles`` are (role, département) pairs; a département is required for listeners,
    referents and départemental admins, and must be None for support and national admins.
    ``phone`` is the number the 115 queue rings for a listener. Raises ``AccountError``.
    """
    grants = list(roles)
    if not login.strip():
        raise AccountError("L'identifiant est obligatoire.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères."
        )
    if not grants:
        raise AccountError("Un compte a au moins un rôle.")
    local = {AccountRole.LISTENER, AccountRole.REFERENT, AccountRole.ADMIN_DEPARTEMENT}
    for role, dep in grants:
        if role in local and not dep:
            raise AccountError(f"Le rôle « {ROLE_LABELS[role]} » se donne pour un département.")
        if role not in local and dep:
            raise AccountError(f"Le rôle « {ROLE_LABELS[role]} » est national (sans département).")
    if any(role is AccountRole.LISTENER for role, _ in grants) and not phone:
        raise AccountError("Un écoutant a un numéro de poste (téléphone).")
    with Session(store.engine) as session:
        if session.scalar(sa.select(Account.id).where(Account.login == login)) is not None:
            raise AccountError(f"Le compte « {login} » existe déjà.")
    account_id = store.add_account(login, display_name or login, grants, by, email=email)
    with Session(store.engine) as session, session.begin():
        account = session.get_one(Account, account_id)
        account.password_hash = hash_password(password)
        account.phone = phone
    return account_id


def set_password(store: RecordStore, login: str, password: str, by: str) -> None:
    """Replace an account's password (audited)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères."
        )
    with Session(store.engine) as session, session.begin():
        account = session.scalar(sa.select(Account).where(Account.login == login))
        if account is None:
            raise AccountError(f"Compte « {login} » inconnu.")
        account.password_hash = hash_password(password)
    store.audit(by, "update", "account_password", login)


def load_principal(store: RecordStore, login: str) -> Principal | None:
    """The active account ``login`` with its grants (None when unknown or deactivated)."""
    with Session(store.engine) as session:
        account = session.scalar(
            sa.select(Account).where(Account.login == login, Account.active.is_(True))
        )
        if account is None:
            return None
        grants = tuple((AccountRole(g.role), g.departement) for g in account.roles)
        return Principal(account.login, account.display_name, account.phone, grants)


def authenticate(store: RecordStore, login: str, password: str) -> Principal | None:
    """The principal when the password matches an active account; None otherwise."""
    with Session(store.engine) as session:
        stored = session.scalar(
            sa.select(Account.password_hash).where(Account.login == login, Account.active.is_(True))
        )
    if stored is None:
        verify_password(password, DUMMY_HASH)  # same cost as a wrong password
        return None
    if not verify_password(password, stored):
        return None
    return load_principal(store, login)
