"""Read side of the organizers' round page and the CSV export.

Everything is aggregated in the database (``GROUP BY``) and the lists are paged with
``LIMIT``/``OFFSET``, so a page costs the same handful of queries for 100 applications or
10,000.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from math import ceil
from typing import Any

from flask_babel import gettext as _
from flask_babel import to_user_timezone
from sqlalchemy import Select, func, or_, select

from forum.codes import BODY_TYPES, DEPARTMENTS, ROLES, STATES, label
from forum.csvdownload import csv_chunks
from forum.extensions import db
from forum.models import Round

from .lifecycle import HOLDING, LISTING, ON_WAITLIST, awaits_answer, on_waitlist, values
from .models import Application, Status
from .selection.models import StagedDecision
from .selection.reviews import review_stats_subquery

PER_PAGE = 50
#: The order of the status tabs: the lifecycle's listing order.
STATUS_ORDER = LISTING


#: Sort orders of the list (review figures, issue 9); "-" = descending.
SORTS = ("score_mean", "-score_mean", "reviews", "-reviews", "spread", "-spread")


@dataclass
class Filters:
    status: str = ""  # "" = all
    q: str = ""
    state: str = ""
    role: str = ""
    body_type: str = ""
    sort: str = ""  # "" = by id (waitlist: by position); see SORTS
    page: int = 1

    @classmethod
    def from_args(cls, args) -> Filters:
        """Query parameters, with anything unknown dropped rather than refused: a filter link
        someone edited by hand shows the unfiltered list, never an error."""

        def pick(name: str, allowed) -> str:
            value = args.get(name, "")
            return value if value in allowed else ""

        try:
            page = max(1, min(int(args.get("page", 1)), 100_000))
        except (TypeError, ValueError):
            page = 1
        return cls(
            status=pick("status", {s.value for s in Status}),
            q=" ".join(str(args.get("q", "")).replace("\x00", "").split())[:100],
            state=pick("state", STATES),
            role=pick("role", ROLES),
            body_type=pick("body_type", BODY_TYPES),
            sort=pick("sort", SORTS),
            page=page,
        )

    def args(self, **changes) -> dict[str, str | int]:
        """Query parameters for a link (only the ones set)."""
        values: dict[str, Any] = {
            "status": self.status,
            "q": self.q,
            "state": self.state,
            "role": self.role,
            "body_type": self.body_type,
            "sort": self.sort,
            "page": self.page,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v and not (k == "page" and v == 1)}


@dataclass
class Breakdown:
    """Held seats by one attribute: ``rows`` is (code, offered, accepted) ordered by total."""

    rows: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def largest(self) -> int:
        return max((o + a for _c, o, a in self.rows), default=0)


@dataclass
class Stats:
    by_status: dict[str, int]
    offered: int
    accepted: int
    by_state: Breakdown
    by_role: Breakdown
    by_body_type: Breakdown

    @property
    def held(self) -> int:
        return self.offered + self.accepted

    @property
    def waitlisted(self) -> int:
        return sum(self.by_status.get(s.value, 0) for s in ON_WAITLIST)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def round_stats(rnd: Round) -> Stats:
    """Counts by status and held seats by state, role and body type: two queries."""
    by_status = {
        status.value: n
        for status, n in db.session.execute(
            select(Application.status, func.count())
            .where(Application.round_id == rnd.id)
            .group_by(Application.status)
        )
    }
    states: dict[str, list[int]] = {}
    roles: dict[str, list[int]] = {}
    body_types: dict[str, list[int]] = {}
    for state, role, body_type, status, n in db.session.execute(
        select(
            Application.state,
            Application.role,
            Application.body_type,
            Application.status,
            func.count(),
        )
        .where(
            Application.round_id == rnd.id,
            Application.status.in_(values(HOLDING)),
        )
        .group_by(Application.state, Application.role, Application.body_type, Application.status)
    ):
        slot = 0 if awaits_answer(status) else 1
        states.setdefault(state, [0, 0])[slot] += n
        roles.setdefault(role, [0, 0])[slot] += n
        body_types.setdefault(body_type, [0, 0])[slot] += n

    def breakdown(table: dict[str, list[int]]) -> Breakdown:
        rows = [(code, o, a) for code, (o, a) in table.items()]
        rows.sort(key=lambda r: (-(r[1] + r[2]), r[0]))
        return Breakdown(rows)

    return Stats(
        by_status=by_status,
        offered=by_status.get(Status.OFFERED.value, 0),
        accepted=by_status.get(Status.ACCEPTED.value, 0),
        by_state=breakdown(states),
        by_role=breakdown(roles),
        by_body_type=breakdown(body_types),
    )


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filtered(rnd: Round, filters: Filters) -> Select:
    stmt = select(Application).where(Application.round_id == rnd.id)
    if filters.status:
        stmt = stmt.where(Application.status == filters.status)
    if filters.state:
        stmt = stmt.where(Application.state == filters.state)
    if filters.role:
        stmt = stmt.where(Application.role == filters.role)
    if filters.body_type:
        stmt = stmt.where(Application.body_type == filters.body_type)
    if filters.q:
        pattern = _like(filters.q)
        full_name = Application.first_name + " " + Application.last_name
        stmt = stmt.where(
            or_(
                full_name.ilike(pattern, escape="\\"),
                Application.email.ilike(pattern, escape="\\"),
                Application.organisation.ilike(pattern, escape="\\"),
            )
        )
    return stmt


@dataclass
class Figures:
    """Review figures of one application in the list."""

    score_mean: float | None = None
    reviews: int = 0
    spread: float | None = None
    staged: str = ""


@dataclass
class Page:
    items: list[Application]
    total: int
    page: int
    per_page: int
    figures: dict[int, Figures] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))


def list_page(rnd: Round, filters: Filters, per_page: int = PER_PAGE) -> Page:
    """One page of the filtered list: one count and one LIMIT/OFFSET query."""
    stmt = filtered(rnd, filters)
    total = db.session.scalars(
        select(func.count()).select_from(stmt.order_by(None).subquery())
    ).one()
    pages = max(1, ceil(total / per_page))
    page = min(filters.page, pages)
    stats = review_stats_subquery()
    stmt = (
        stmt.add_columns(
            stats.c.score_mean,
            func.coalesce(stats.c.reviews, 0),
            stats.c.spread,
            StagedDecision.action,
        )
        .outerjoin(stats, stats.c.application_id == Application.id)
        .outerjoin(StagedDecision, StagedDecision.application_id == Application.id)
    )
    if filters.sort:
        column = {
            "score_mean": stats.c.score_mean,
            "reviews": func.coalesce(stats.c.reviews, 0),
            "spread": stats.c.spread,
        }[filters.sort.lstrip("-")]
        column = column.desc() if filters.sort.startswith("-") else column.asc()
        order: tuple[Any, ...] = (column.nulls_last(), Application.id)
    elif on_waitlist(filters.status):
        order = (Application.waitlist_position, Application.id)
    else:
        order = (Application.id,)
    rows = db.session.execute(
        stmt.order_by(*order).limit(per_page).offset((page - 1) * per_page)
    ).all()
    items = [row[0] for row in rows]
    figures = {
        a.id: Figures(
            None if m is None else float(m), n, None if sp is None else float(sp), st or ""
        )
        for a, m, n, sp, st in rows
    }
    return Page(items, total, page, per_page, figures)


# --- CSV export --------------------------------------------------------------------------------

CSV_COLUMNS = (
    "id",
    "status",
    "first_name",
    "last_name",
    "email",
    "phone",
    "organisation",
    "body_type",
    "state",
    "role",
    "department",
    "waitlist_position",
    "offer_deadline",
    "created_at",
    "confirmed_at",
    "motivation",
    "challenge",
)
#: Review figures after the application's columns (issue 9): mean score, number of reviews,
#: spread (highest minus lowest reviewer's mean), the staged decision.
SELECTION_COLUMNS = ("score_mean", "reviews", "spread", "staged")


def _two(value) -> str:
    return "" if value is None else f"{float(value):.2f}"


def export_csv(rnd: Round) -> Iterator[str]:
    """The round's applications as CSV (:func:`forum.csvdownload.csv_chunks`: every cell
    guarded, a BOM, in chunks); one query, streamed from the database."""
    from .participants.attendance import attended_counts, meetings_held

    # Read now, not when the stream starts: the round's meetings are loaded in the request's
    # session, which a streamed response may outlive.
    attended, held = attended_counts(rnd), meetings_held(rnd)
    columns = [*CSV_COLUMNS, *SELECTION_COLUMNS, "attendance"]
    return csv_chunks(columns, _export_rows(rnd.id, attended, held))


def _export_rows(round_id: int, attended: dict[int, int], held: int) -> Iterator[list]:
    """attended/meetings held, for those who hold a seat or were recorded at a meeting."""
    columns = [getattr(Application, name) for name in CSV_COLUMNS]
    stats = review_stats_subquery()
    holding = {s.value for s in HOLDING}
    result = db.session.execute(
        select(
            *columns,
            stats.c.score_mean,
            func.coalesce(stats.c.reviews, 0),
            stats.c.spread,
            StagedDecision.action,
        )
        .outerjoin(stats, stats.c.application_id == Application.id)
        .outerjoin(StagedDecision, StagedDecision.application_id == Application.id)
        .where(Application.round_id == round_id)
        .order_by(Application.id)
        .execution_options(yield_per=1000)
    )
    for row in result:
        mean, reviews, spread, staged = row[-4:]
        attendance = ""
        if row.status in holding or row.id in attended:
            attendance = f"{attended.get(row.id, 0)}/{held}"
        yield [*row[:-4], _two(mean), reviews, _two(spread), staged or "", attendance]


# --- for spreadsheets (Excel): labels, local times ---------------------------------------------

_LABELLED = {"body_type": BODY_TYPES, "state": STATES, "role": ROLES, "department": DEPARTMENTS}


def _column_titles() -> dict[str, str]:
    return {
        "id": _("Nr."),
        "status": _("Status"),
        "first_name": _("Vorname"),
        "last_name": _("Nachname"),
        "email": _("E-Mail-Adresse"),
        "phone": _("Telefon"),
        "organisation": _("Kommune / Organisation"),
        "body_type": _("Art der Kommune"),
        "state": _("Bundesland"),
        "role": _("Funktion"),
        "department": _("Bereich"),
        "waitlist_position": _("Platz auf der Warteliste"),
        "offer_deadline": _("Frist für die Zusage"),
        "created_at": _("Eingegangen"),
        "confirmed_at": _("Bestätigt"),
        "motivation": _("Motivation"),
        "challenge": _("Herausforderung"),
    }


def _local(value: datetime) -> datetime:
    """Local wall-clock time (``BABEL_DEFAULT_TIMEZONE``, Berlin) without a zone, as a
    spreadsheet shows and sorts it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return to_user_timezone(value).replace(tzinfo=None)


def _labelled_rows(rnd: Round, status_label) -> Iterator[list]:
    """The export's rows with labels for codes and Berlin times (datetimes, not text)."""
    columns = [getattr(Application, name) for name in CSV_COLUMNS]
    result = db.session.execute(
        select(*columns)
        .where(Application.round_id == rnd.id)
        .order_by(Application.id)
        .execution_options(yield_per=1000)
    )
    for row in result:
        out = []
        for name, value in zip(CSV_COLUMNS, row, strict=True):
            if isinstance(value, datetime):
                value = _local(value)
            elif name == "status":
                value = status_label(value)
            elif name in _LABELLED and value:
                value = label(_LABELLED[name], value)
            out.append(value)
        yield out


def export_excel_csv(rnd: Round, status_label) -> Iterator[str]:
    """For German Excel: semicolons, column titles and labels in the page's language, Berlin
    times as ``31.01.2027 23:59``; cells a spreadsheet would run as a formula still get the
    apostrophe (the XLSX export needs none)."""
    titles = _column_titles()
    rows = (
        [v.strftime("%d.%m.%Y %H:%M") if isinstance(v, datetime) else v for v in row]
        for row in _labelled_rows(rnd, status_label)
    )
    return csv_chunks([titles[name] for name in CSV_COLUMNS], rows, delimiter=";")


def export_xlsx(rnd: Round, status_label) -> bytes:
    """The same as :func:`export_excel_csv` as an Excel workbook (openpyxl, write-only mode):
    text cells are text (never formulas), times are date cells."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(rnd.slug[:31])
    titles = _column_titles()
    header = []
    for name in CSV_COLUMNS:
        cell = WriteOnlyCell(sheet, value=titles[name])
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in _labelled_rows(rnd, status_label):
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, datetime):
                cell.number_format = "DD.MM.YYYY HH:MM"
            elif isinstance(value, str):
                cell.data_type = "s"  # text, also when it starts with "=" or "+"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
