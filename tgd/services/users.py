"""Use cases of user accounts: creation, password rules, TOTP secrets (R-50, R-51).

TOTP secrets are personal-grade secrets: stored encrypted under a per-user
data key, like beneficiary data (R-52).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.territories import Juridiction
from tgd.db.models.users import Organisation, OrganisationKind, User
from tgd.domain.errors import N_, Conflict, NotFound, ValidationError
from tgd.domain.roles import Role
from tgd.ports import Cipher, Clock, PasswordHasher
from tgd.services import audit, vault

PASSWORD_MIN_LENGTH = 12
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


def check_password_strength(password: str) -> None:
    """Refuse a password that is too short or too simple."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationError(
            N_("Le mot de passe doit contenir au moins %(n)s caractères."), n=PASSWORD_MIN_LENGTH
        )
    if len(set(password)) < 6:
        raise ValidationError(N_("Le mot de passe est trop simple."))


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    juridiction_insees: Sequence[str] = (),
    organisation: Organisation | None = None,
    email: str | None = None,
    totp_secret: str | None = None,
    actor: str,
    cipher: Cipher,
    hasher: PasswordHasher,
    clock: Clock,
) -> tuple[User, str]:
    """Create an account and its TOTP secret; return the user and the secret to enrol.

    The creation is audited (``user.create``) as ``actor``, in the caller's transaction.
    """
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise ValidationError(
            N_("L'identifiant « %(u)s » n'est pas valide (lettres minuscules, chiffres, . _ -)."),
            u=username,
        )
    check_password_strength(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(N_("L'identifiant « %(u)s » est déjà pris."), u=username)
    juridictions = _juridictions(session, juridiction_insees)
    if role.is_scoped and not juridictions:
        raise ValidationError(
            N_("Un compte « %(role)s » doit être rattaché à au moins une juridiction."),
            role=role.label,
        )
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        email=email,
        role=role,
        organisation=organisation,
        password_hash=hasher.hash(password),
        created_at=clock.now(),
    )
    user.juridictions = juridictions
    session.add(user)
    session.flush()
    secret = totp_secret or pyotp.random_base32()
    set_totp_secret(session, user, secret, cipher=cipher, clock=clock)
    audit.record(
        session,
        actor=actor,
        action="user.create",
        object_type="user",
        object_id=user.id,
        details={"role": role.value},
        clock=clock,
    )
    return user, secret


def _juridictions(session: Session, insees: Sequence[str]) -> list[Juridiction]:
    found = list(session.scalars(select(Juridiction).where(Juridiction.insee.in_(list(insees)))))
    missing = set(insees) - {j.insee for j in found}
    if missing:
        raise NotFound(N_("Juridiction inconnue : %(codes)s."), codes=", ".join(sorted(missing)))
    return found


def set_totp_secret(
    session: Session, user: User, secret: str, *, cipher: Cipher, clock: Clock
) -> None:
    """Store a new TOTP secret, encrypted; enrolment completes at the first valid code."""
    if user.totp_key_id is None:
        user.totp_key_id = vault.create_key(session, cipher, purpose="user", clock=clock).id
    vault.put_text(session, cipher, user, "totp_secret_enc", secret, key_id=user.totp_key_id)
    user.totp_enrolled_at = None
    user.totp_last_step = None


def totp_secret(session: Session, user: User, *, cipher: Cipher) -> str | None:
    """Return the user's TOTP secret in clear, for verification or enrolment display."""
    if user.totp_secret_enc is None:
        return None
    return vault.get_text(session, cipher, user, "totp_secret_enc", key_id=user.totp_key_id)


def provisioning_uri(user: User, secret: str, *, issuer: str) -> str:
    """Return the otpauth:// URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)


def list_users(session: Session) -> list[User]:
    """List every account, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def associations(session: Session, juridiction_ids: frozenset[int] | None) -> list[Organisation]:
    """List the associations, by name; only those of these courts unless ``None``."""
    query = select(Organisation).where(Organisation.kind == OrganisationKind.ASSOCIATION)
    orgs = session.scalars(query.order_by(Organisation.name)).all()
    if juridiction_ids is None:
        return list(orgs)
    return [o for o in orgs if any(j.id in juridiction_ids for j in o.juridictions)]


def find_user(session: Session, username: str) -> User | None:
    """Return the account with this username, if any."""
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def mark_enrolled(session: Session, usernames: Sequence[str], *, clock: Clock) -> None:
    """Consider these accounts' TOTP secrets enrolled (demo accounts, whose secrets are printed)."""
    for user in session.scalars(select(User).where(User.username.in_(list(usernames)))):
        user.totp_enrolled_at = clock.now()
    session.flush()
