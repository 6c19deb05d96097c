"""Signed links of applications and invitations (:mod:`forum.tokens`, one salt per purpose);
each token names the application by its random ``public_id``, never by its number."""

from __future__ import annotations

from enum import StrEnum

from forum.tokens import TokenExpired, TokenInvalid, register_purposes, sign, unsign

__all__ = ["Purpose", "TokenExpired", "TokenInvalid", "make_token", "read_token"]


@register_purposes
class Purpose(StrEnum):
    CONFIRM = "application-confirm"
    STATUS = "application-status"
    OFFER = "application-offer"
    INVITATION = "round-invitation"  # names an Invitation's public_id


def make_token(purpose: Purpose, public_id: str, **extra) -> str:
    return sign(purpose, {"a": public_id, **extra})


def read_token(purpose: Purpose, token: str, max_age: int | None = None) -> dict:
    payload = unsign(purpose, token, max_age)
    if not isinstance(payload, dict) or not isinstance(payload.get("a"), str):
        raise TokenInvalid()
    return payload
