"""JSON Web Tokens of the JSON API: short-lived access tokens and rotating refresh tokens.

Both are HS256 JWTs signed with `settings.JWT_SECRET`. Claims: `iss`, `sub` (the member's id), `typ`
("access" or "refresh"), `fam` (the token family: every token issued from one sign-in), `jti`, `iat`, `exp`.
A refresh token is good for one rotation: `accounts.services.rotate_refresh_token` spends it, and
spending it twice revokes its family. An access token is refused once its family is revoked (sign-out,
reuse detected), so signing out ends access at once rather than when the access token expires.

Encoding and the reads needed to accept a token live here; every write is in `accounts/services.py`.
"""

import hashlib
import secrets
from datetime import timedelta

import jwt
from django.conf import settings

from accounts.models import RefreshToken, User
from directorate.db import first_of
from directorate.errors import DomainError

ALGORITHM = "HS256"
ISSUER = "directorate"
ACCESS = "access"
REFRESH = "refresh"
ACCESS_LIFETIME = timedelta(minutes=15)
REFRESH_LIFETIME = timedelta(days=14)
REQUIRED_CLAIMS = ["iss", "sub", "typ", "fam", "jti", "iat", "exp"]


class TokenRefused(DomainError):
    """A missing, malformed, tampered, expired, revoked or wrong-type token: HTTP 401."""

    status = 401
    code = "not_authenticated"


def new_jti():
    return secrets.token_urlsafe(32)


def jti_hash(jti):
    return hashlib.sha256(jti.encode()).hexdigest()


def encode(*, user_id, token_type, family, jti, issued_at):
    lifetime = ACCESS_LIFETIME if token_type == ACCESS else REFRESH_LIFETIME
    claims = {
        "iss": ISSUER,
        "sub": user_id,
        "typ": token_type,
        "fam": family,
        "jti": jti,
        "iat": issued_at,
        "exp": issued_at + lifetime,
    }
    return jwt.encode(claims, settings.JWT_SECRET, algorithm=ALGORITHM)


def decode(token, *, expected_type):
    """The claims of a token we signed, of the expected type and still valid, or TokenRefused."""
    try:
        claims = jwt.decode(
            token,
            settings.JWT_SECRET,
            algorithms=[ALGORITHM],  # never "none", never another algorithm named in the token's header
            issuer=ISSUER,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRefused("The token has expired.") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise TokenRefused("The token is not valid.") from None
    if claims["typ"] != expected_type:
        raise TokenRefused(f"This is not {'an access' if expected_type == ACCESS else 'a refresh'} token.")
    if not all(isinstance(claims[name], str) and claims[name] for name in ("sub", "fam", "jti")):
        raise TokenRefused("The token is not valid.")
    return claims


def family_revoked(family):
    return RefreshToken.objects.filter(family=family).exclude(revoked_at=None).exists()


def active_member(user_id):
    """The member a token names, if they exist and may still act; else TokenRefused."""
    user = first_of(User.objects.filter(id=user_id))
    if user is None or not user.is_active:
        raise TokenRefused("The token is not valid.")
    return user


def user_for_access_token(token):
    """The member an access token authenticates, or TokenRefused."""
    claims = decode(token, expected_type=ACCESS)
    user = active_member(claims["sub"])
    if family_revoked(claims["fam"]):
        raise TokenRefused("This session has ended; sign in again.")
    return user
