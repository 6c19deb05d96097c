"""Certificates of attendance (Teilnahmebescheinigung) as PDF, made with fpdf2 and the embedded
DejaVu Sans (in ``fonts/``, with its licence), which has every German character, so no system
font is needed. One page per participant: name, organisation, forum, round, the meetings
attended with date and title, the organizer; in the participant's language."""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import select

from forum.db import utcnow
from forum.extensions import db
from forum.models import Meeting, Round

from ..models import Application, Attendance
from .attendance import Presence

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVuSans"


def attended_meetings(application: Application) -> list[Meeting]:
    return list(
        db.session.scalars(
            select(Meeting)
            .join(Attendance, Attendance.meeting_id == Meeting.id)
            .where(
                Attendance.application_id == application.id,
                Attendance.status == Presence.ATTENDED.value,
            )
            .order_by(Meeting.starts)
        )
    )


def participants_with_certificates(rnd: Round) -> list[Application]:
    """Everyone in the round who attended at least one meeting, by name."""
    attended = select(Attendance.application_id).where(Attendance.status == Presence.ATTENDED.value)
    return list(
        db.session.scalars(
            select(Application)
            .where(Application.round_id == rnd.id, Application.id.in_(attended))
            .order_by(Application.last_name, Application.first_name, Application.id)
        )
    )


def _pdf(title: str):
    from fpdf import FPDF  # on first use: the web workers start faster

    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_creator(current_app.config["ORGANIZER_NAME"])
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(25, 30, 25)
    pdf.set_auto_page_break(True, margin=25)
    return pdf


def _page(pdf, application: Application, meetings: list[Meeting]) -> None:
    rnd = application.round
    forum = rnd.forum
    with force_locale(application.locale if application.locale in ("de", "en") else "de"):
        pdf.add_page()
        pdf.set_font(FONT, "B", 24)
        pdf.cell(0, 16, _("Teilnahmebescheinigung"), new_x="LMARGIN", new_y="NEXT", align="C")
        pdf.ln(10)
        pdf.set_font(FONT, "B", 16)
        pdf.cell(0, 10, application.full_name, new_x="LMARGIN", new_y="NEXT", align="C")
        pdf.set_font(FONT, "", 12)
        if application.organisation:
            pdf.cell(0, 8, application.organisation, new_x="LMARGIN", new_y="NEXT", align="C")
        pdf.ln(8)
        pdf.multi_cell(
            0,
            7,
            _(
                "hat an folgenden Arbeitstreffen von „%(round)s“ im Forum „%(forum)s“ "
                "teilgenommen:",
                round=rnd.title,
                forum=forum.title,
            ),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.ln(4)
        for meeting in meetings:
            line = f"{format_date(meeting.starts, 'long')}: {meeting.title}, {meeting.venue}"
            pdf.multi_cell(0, 7, "•  " + line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(14)
        pdf.multi_cell(
            0,
            7,
            _("Ausgestellt am %(date)s", date=format_date(utcnow(), "long")),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.ln(10)
        organizer = forum.contact_name or current_app.config["ORGANIZER_NAME"]
        pdf.set_font(FONT, "B", 12)
        pdf.multi_cell(0, 7, organizer, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 11)
        pdf.multi_cell(
            0,
            6,
            _("für das Organisationsteam von %(forum)s", forum=forum.title),
            new_x="LMARGIN",
            new_y="NEXT",
        )


def certificate_pdf(applications: list[Application], title: str) -> bytes | None:
    """One page per application that attended a meeting; None if none did."""
    pdf = _pdf(title)
    pages = 0
    for application in applications:
        meetings = attended_meetings(application)
        if meetings:
            _page(pdf, application, meetings)
            pages += 1
    return bytes(pdf.output()) if pages else None
