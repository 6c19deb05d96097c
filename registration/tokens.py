"""Signed links. One salt per purpose, so a token made for one purpose never works for another;
each token names the application by its random ``public_id``, never by its number."""

from __future__ import annotations

from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from forum.keys import signing_keys


class Purpose(StrEnum):
    CONFIRM = "application-confirm"
    STATUS = "application-status"
    OFFER = "application-offer"


class TokenInvalid(Exception):
    """Forged, damaged, or made for another purpose."""


class TokenExpired(Exception):
    def __init__(self, payload):
        super().__init__("token expired")
        self.payload = payload


def _serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_keys(), salt=purpose.value)


def make_token(purpose: Purpose, public_id: str, **extra) -> str:
    return _serializer(purpose).dumps({"a": public_id, **extra})


def read_token(purpose: Purpose, token: str, max_age: int | None = None) -> dict:
    serializer = _serializer(purpose)
    try:
        payload = serializer.loads(token, max_age=max_age)
    except SignatureExpired:
        # The signature is valid, only too old: the caller may offer a new link.
        raise TokenExpired(serializer.loads(token)) from None
    except (BadSignature, UnicodeDecodeError, ValueError):
        raise TokenInvalid() from None
    if not isinstance(payload, dict) or not isinstance(payload.get("a"), str):
        raise TokenInvalid()
    return payload
