"""Signed newsletter links. One salt per purpose: a confirmation token cannot unsubscribe and
an unsubscribe token cannot confirm. Tokens name random public ids, never row numbers."""

from __future__ import annotations

from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from forum.keys import secret_keys
from forum.mail import public_url


class Purpose(StrEnum):
    CONFIRM = "newsletter-confirm"  # names a consent record (one request to subscribe)
    UNSUBSCRIBE = "newsletter-unsubscribe"  # names a subscriber; never expires


class TokenInvalid(Exception):
    """Forged, damaged, or made for another purpose."""


class TokenExpired(Exception):
    """The signature is valid but the link is too old."""


def _serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_keys(), salt=purpose.value)


def make_token(purpose: Purpose, public_id: str) -> str:
    return _serializer(purpose).dumps(public_id)


def read_token(purpose: Purpose, token: str, max_age: int | None = None) -> str:
    """The public id in a token, or :class:`TokenInvalid` / :class:`TokenExpired`."""
    try:
        payload = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenExpired() from None
    except (BadSignature, UnicodeDecodeError, ValueError):
        raise TokenInvalid() from None
    if not isinstance(payload, str) or not 0 < len(payload) <= 32:
        raise TokenInvalid()
    return payload


def confirm_url(consent_public_id: str, locale: str | None = None) -> str:
    token = make_token(Purpose.CONFIRM, consent_public_id)
    return public_url(f"/newsletter/confirm/{token}", locale)


def unsubscribe_url(subscriber_public_id: str, locale: str | None = None) -> str:
    token = make_token(Purpose.UNSUBSCRIBE, subscriber_public_id)
    return public_url(f"/newsletter/unsubscribe/{token}", locale)
