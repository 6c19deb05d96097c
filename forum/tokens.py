"""Signed tokens for every purpose: links in mails, the organizers' device cookie.

One salt per purpose, so a token made for one purpose never works for another. Each module
that makes tokens declares its purposes as a ``StrEnum`` whose values are the salts and
registers it with :func:`register_purposes`; a salt registered twice is an error at import.
Tokens are signed with ``SECRET_KEY`` and accepted with any of ``SECRET_KEY_FALLBACKS``
(:func:`forum.keys.secret_keys`), so links in mails already sent keep working after a rotation.

Timed purposes (links in mails) use itsdangerous' ``URLSafeTimedSerializer`` and may be read
with a ``max_age``; untimed ones (a cookie with its own lifetime) ``URLSafeSerializer``. The
serialisation is the one itsdangerous gives for ``(secret keys, salt)``: tokens made before this
module existed read as before."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from .keys import secret_keys


class TokenInvalid(Exception):
    """Forged, damaged, or made for another purpose."""


class TokenExpired(Exception):
    """The signature is valid, only too old; ``payload`` is what the token carries (the caller
    may offer a new link)."""

    def __init__(self, payload: Any = None):
        super().__init__("token expired")
        self.payload = payload


E = TypeVar("E", bound=type[StrEnum])

#: salt -> whether its tokens carry a time (the registry of every purpose).
_TIMED: dict[str, bool] = {}


def register_purposes(purposes: E, *, timed: bool = True) -> E:
    """Register the salts of a module's purposes (usable as a class decorator)."""
    for purpose in purposes:
        if purpose.value in _TIMED:
            raise ValueError(f"token salt registered twice: {purpose.value}")
    for purpose in purposes:
        _TIMED[purpose.value] = timed
    return purposes


def registered_salts() -> frozenset[str]:
    return frozenset(_TIMED)


def _serializer(purpose: StrEnum) -> URLSafeSerializer | URLSafeTimedSerializer:
    if _TIMED[purpose.value]:  # KeyError: a purpose nobody registered
        return URLSafeTimedSerializer(secret_keys(), salt=purpose.value)
    return URLSafeSerializer(secret_keys(), salt=purpose.value)


def sign(purpose: StrEnum, payload: Any) -> str:
    """A URL-safe token for ``payload`` (anything JSON can carry)."""
    return _serializer(purpose).dumps(payload)


def unsign(purpose: StrEnum, token: str, max_age: int | None = None) -> Any:
    """The payload of a token, or :class:`TokenInvalid` / :class:`TokenExpired` (only with a
    ``max_age``, only for timed purposes)."""
    serializer = _serializer(purpose)
    try:
        if isinstance(serializer, URLSafeTimedSerializer):
            return serializer.loads(token, max_age=max_age)
        return serializer.loads(token)
    except SignatureExpired:
        raise TokenExpired(serializer.loads(token)) from None
    except (BadSignature, UnicodeDecodeError, ValueError):
        raise TokenInvalid() from None
