"""Signed newsletter links (:mod:`forum.tokens`). One salt per purpose: a confirmation token
cannot unsubscribe and an unsubscribe token cannot confirm. Tokens name random public ids, never
row numbers."""

from __future__ import annotations

from enum import StrEnum

from forum.mail import public_url
from forum.tokens import TokenExpired, TokenInvalid, register_purposes, sign, unsign

__all__ = ["Purpose", "TokenExpired", "TokenInvalid", "make_token", "read_token"]


@register_purposes
class Purpose(StrEnum):
    CONFIRM = "newsletter-confirm"  # names a consent record (one request to subscribe)
    UNSUBSCRIBE = "newsletter-unsubscribe"  # names a subscriber; never expires


def make_token(purpose: Purpose, public_id: str) -> str:
    return sign(purpose, public_id)


def read_token(purpose: Purpose, token: str, max_age: int | None = None) -> str:
    """The public id in a token, or :class:`TokenInvalid` / :class:`TokenExpired`."""
    payload = unsign(purpose, token, max_age)
    if not isinstance(payload, str) or not 0 < len(payload) <= 32:
        raise TokenInvalid()
    return payload


def confirm_url(consent_public_id: str, locale: str | None = None) -> str:
    token = make_token(Purpose.CONFIRM, consent_public_id)
    return public_url(f"/newsletter/confirm/{token}", locale)


def unsubscribe_url(subscriber_public_id: str, locale: str | None = None) -> str:
    token = make_token(Purpose.UNSUBSCRIBE, subscriber_public_id)
    return public_url(f"/newsletter/unsubscribe/{token}", locale)
