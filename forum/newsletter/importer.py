"""``flask newsletter import FILE.csv``: bring over a list whose consent is documented.

Columns ``email``, ``name``, ``consented_at`` (ISO 8601; a date alone means midnight in
Berlin, a time without offset is Berlin time). Every row is checked on its own: bad rows are
reported with their line number and reason, the others are imported. Addresses that are
present already, in whatever status, are left alone (so running the import twice changes
nothing, and an address that unsubscribed is never subscribed again by an import)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from forum.db import utcnow
from forum.extensions import db
from forum.form_limits import CONTROL

from .models import ConsentRecord, Source, Subscriber, SubscriberStatus
from .services import InvalidAddress, normalize_address

REQUIRED_COLUMNS = ("email", "name", "consented_at")
CHUNK = 1000
BERLIN = ZoneInfo("Europe/Berlin")


class ImportFileError(ValueError):
    """The file as a whole cannot be read (nothing is imported)."""


@dataclass
class ImportReport:
    imported: int = 0
    present: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _Row:
    line: int
    email: str
    key: str
    name: str
    consented_at: datetime


def parse_consented_at(value: str, now: datetime) -> datetime:
    value = (value or "").strip()
    if not value:
        raise ValueError("consented_at is empty")
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), time(0, 0), tzinfo=BERLIN)
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=BERLIN)
    except ValueError:
        raise ValueError(
            f"consented_at {value!r} is not a date or time in ISO 8601 "
            "(e.g. 2024-05-01 or 2024-05-01T10:30:00+02:00)"
        ) from None
    if parsed > now:
        raise ValueError(f"consented_at {value!r} lies in the future")
    return parsed


def _rows(
    lines: Iterable[str], report: ImportReport, now: datetime, delimiter: str
) -> Iterator[_Row]:
    reader = csv.DictReader(lines, delimiter=delimiter)
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportFileError(
            f"line 1: the header row lacks the column(s) {', '.join(missing)} "
            f"(expected {', '.join(REQUIRED_COLUMNS)})"
        )
    unknown = [h for h in header if h not in REQUIRED_COLUMNS]
    if unknown:
        raise ImportFileError(f"line 1: unknown column(s) {', '.join(unknown)}")
    reader.fieldnames = header
    seen: dict[str, int] = {}
    # The csv module's own reader counts the lines it has read, also for a row it cannot
    # parse (DictReader.line_num only advances with a row it returns).
    source = reader.reader
    start = source.line_num + 1
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # E.g. a field over the csv module's size limit. The reader starts afresh with the
            # next line: report this row (the lines of the record it began) and go on.
            end = source.line_num
            where = f" (the row spans lines {start}-{end})" if end > start else ""
            report.errors.append((start, f"the row cannot be read: {exc}{where}"))
            start = end + 1
            continue
        line, start = start, source.line_num + 1
        if None in raw or any(v is None for v in raw.values()):
            report.errors.append((line, "wrong number of fields"))
            continue
        if not any((v or "").strip() for v in raw.values()):
            continue  # an empty line
        try:
            email, key = normalize_address(raw["email"])
        except InvalidAddress as exc:
            report.errors.append((line, f"invalid e-mail address {raw['email']!r}: {exc}"))
            continue
        name = " ".join(raw["name"].split())
        control = CONTROL.search(name)
        if control:  # PostgreSQL cannot store NUL; no control character belongs in a name
            report.errors.append(
                (line, f"name contains the control character U+{ord(control.group()):04X}")
            )
            continue
        if len(name) > 200:
            report.errors.append((line, "name is longer than 200 characters"))
            continue
        try:
            consented_at = parse_consented_at(raw["consented_at"], now)
        except ValueError as exc:
            report.errors.append((line, str(exc)))
            continue
        if key in seen:
            report.errors.append((line, f"{email} appears again (first in line {seen[key]})"))
            continue
        seen[key] = line
        yield _Row(line, email, key, name, consented_at)


def _add(chunk: list[_Row], label: str, now: datetime) -> tuple[int, int]:
    """Add the rows' subscribers (not yet present) to the session: ``(added, present)``."""
    present = set(
        db.session.scalars(
            select(Subscriber.email_normalized).where(
                Subscriber.email_normalized.in_([r.key for r in chunk])
            )
        )
    )
    added = 0
    for row in chunk:
        if row.key in present:
            continue
        subscriber = Subscriber(
            email=row.email,
            email_normalized=row.key,
            name=row.name,
            locale="de",
            status=SubscriberStatus.CONFIRMED.value,
            created_at=now,
            confirmed_at=row.consented_at,
        )
        subscriber.consents.append(
            ConsentRecord(
                email=row.email,
                name=row.name,
                locale="de",
                source=Source.IMPORT.value,
                wording_version="import",
                wording_text="",
                privacy_version="",
                requested_at=row.consented_at,
                confirmed_at=row.consented_at,
                note=f"imported {now.isoformat(timespec='seconds')} from {label}, line {row.line}; "
                "consent documented in the previous system",
            )
        )
        db.session.add(subscriber)
        added += 1
    return added, len(chunk) - added


def _store(chunk: list[_Row], report: ImportReport, label: str, now: datetime) -> None:
    try:
        added, present = _add(chunk, label, now)
        db.session.commit()
    except SQLAlchemyError:
        # The database refused a row the checks let through (or a parallel run stored one of
        # the addresses): store this chunk row by row, so that only that row fails.
        db.session.rollback()
        added = present = 0
        for row in chunk:
            try:
                one_added, one_present = _add([row], label, now)
                db.session.commit()
            except SQLAlchemyError as exc:
                db.session.rollback()
                reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                report.errors.append((row.line, f"the database refused the row: {reason}"[:500]))
                continue
            added += one_added
            present += one_present
    report.imported += added
    report.present += present


def import_csv(path: str | Path) -> ImportReport:
    """Import a CSV file (UTF-8, with or without BOM; comma or semicolon separated)."""
    path = Path(path)
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ImportFileError(f"cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"the file is not UTF-8 (byte {exc.start})") from None
    first = content.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return import_lines(io.StringIO(content, newline=""), label=path.name, delimiter=delimiter)


def import_lines(lines: Iterable[str], label: str = "import", delimiter: str = ",") -> ImportReport:
    report = ImportReport()
    now = utcnow()
    chunk: list[_Row] = []
    for row in _rows(lines, report, now, delimiter):
        chunk.append(row)
        if len(chunk) >= CHUNK:
            _store(chunk, report, label, now)
            chunk = []
    if chunk:
        _store(chunk, report, label, now)
    db.session.commit()
    report.errors.sort(key=lambda error: error[0])
    return report
