"""Downloads: CSV with the formula guard, streamed in chunks, and one safe download name.

Every CSV the service writes goes through :func:`csv_chunks`, so no cell reaches a spreadsheet
as a formula (OWASP's advice against CSV injection: a leading apostrophe before ``=``, ``+``,
``-``, ``@``, tab and carriage return). Every ``Content-Disposition`` is made by
:func:`download_response` from a name :func:`download_name` made safe."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from flask import Response, stream_with_context

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A chunk of a streamed CSV is handed to the server once it holds this many characters.
CHUNK = 64 * 1024


def guard(value: Any) -> str:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe; ``None`` is
    empty; times are ISO 8601 (a datetime in seconds); other values are written as they are."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")  # UTC, ISO 8601, no microseconds
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def csv_chunks(
    header: Iterable[str], rows: Iterable[Iterable[Any]], *, delimiter: str = ",", bom: bool = True
) -> Iterator[str]:
    """The CSV of ``header`` and ``rows`` (every cell guarded), ``\\r\\n`` line ends, with a
    BOM so that Excel reads UTF-8, in chunks of about :data:`CHUNK` characters."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    if bom:
        buffer.write("\ufeff")
    writer.writerow([guard(title) for title in header])
    for row in rows:
        writer.writerow([guard(value) for value in row])
        if buffer.tell() > CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def download_name(stem: str, extension: str) -> str:
    """``stem.extension`` with only letters, digits, ``.``, ``_`` and ``-`` (an address's ``@``
    becomes ``-at-``), at most 120 characters: safe in a quoted ``Content-Disposition``."""
    safe = _UNSAFE.sub("_", stem.replace("@", "-at-"))[:120].lstrip(".") or "download"
    return f"{safe}.{_UNSAFE.sub('_', extension)}"


def download_response(
    body: str | bytes | Iterator[str],
    name: str,
    mimetype: str,
    *,
    inline: bool = False,
    cache: str | None = "no-store",
) -> Response:
    """A download named ``name`` (made with :func:`download_name`); an iterator is streamed
    within the request context; ``cache``: the Cache-Control header (None: none)."""
    if not isinstance(body, str | bytes):
        body = stream_with_context(body)
    response = Response(body, mimetype=mimetype)
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    if cache:
        response.headers["Cache-Control"] = cache
    return response


def csv_response(chunks: Iterator[str], name: str) -> Response:
    """A streamed CSV download (UTF-8)."""
    response = download_response(chunks, name, "text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    return response
