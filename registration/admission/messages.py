"""The words shown to people about admission: status labels, limits, what a decision came to.
The domain functions return codes (:class:`~registration.admission.results.Result`); views
and templates turn them into text here, in the current language."""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import force_locale
from flask_babel import gettext as _

from forum.codes import STATES, label
from forum.formatting import deadline
from forum.models import Round

from ..lifecycle import Action, Status
from ..models import Application
from .results import DecisionOutcome, Result
from .seats import Limit

DO = DecisionOutcome


def status_label(status: str) -> str:
    """The organizers' short word for a status (lists, badges, the history)."""
    return {
        Status.PENDING_EMAIL: _("unbestätigt"),
        Status.SUBMITTED: _("eingegangen"),
        Status.WAITLISTED: _("Warteliste"),
        Status.OFFERED: _("Platz angeboten"),
        Status.ACCEPTED: _("angenommen"),
        Status.REJECTED: _("abgelehnt"),
        Status.DECLINED: _("Angebot ausgeschlagen"),
        Status.LAPSED: _("Angebot verfallen"),
        Status.WITHDRAWN: _("zurückgezogen"),
        Status.EXPIRED: _("nicht bestätigt"),
        Status.REVOKED: _("zurückgenommen"),
    }.get(status, status)  # type: ignore[call-overload]  # a str looks up a StrEnum key


def status_text(application: Application) -> str:
    """The applicant's sentence about the state of their application (status page, offer
    page, confirmation page)."""
    a = application
    texts: dict[Status, Callable[[], str]] = {
        Status.PENDING_EMAIL: lambda: _("Ihre E-Mail-Adresse ist noch nicht bestätigt."),
        Status.SUBMITTED: lambda: _(
            "Ihre Bewerbung liegt dem Organisationsteam zur Auswahl vor. Wir melden uns per E-Mail."
        ),
        Status.WAITLISTED: lambda: _(
            "Sie stehen auf der Warteliste, derzeit auf Platz %(pos)s. "
            "Wird ein Platz frei, bieten wir ihn Ihnen per E-Mail an.",
            pos=a.waitlist_position,
        ),
        Status.OFFERED: lambda: _(
            "Wir bieten Ihnen einen Platz an. Bitte sagen Sie bis %(date)s zu oder ab.",
            date=deadline(a.offer_deadline) if a.offer_deadline else "",
        ),
        Status.ACCEPTED: lambda: _("Sie haben Ihren Platz angenommen. Wir freuen uns auf Sie!"),
        Status.REJECTED: lambda: _(
            "Leider können wir Ihnen für diese Runde keinen Platz anbieten."
        ),
        Status.DECLINED: lambda: _("Sie haben den angebotenen Platz abgelehnt."),
        Status.LAPSED: lambda: _("Das Platzangebot ist abgelaufen, ohne dass Sie zugesagt haben."),
        Status.WITHDRAWN: lambda: _("Sie haben Ihre Bewerbung zurückgezogen."),
        Status.REVOKED: lambda: _("Ihr Platz wurde vom Organisationsteam zurückgenommen."),
        Status.EXPIRED: lambda: _("Die Bewerbung wurde nicht rechtzeitig bestätigt."),
    }
    return texts[Status(a.status)]()


def offer_heading(application: Application) -> str:
    """The heading of the offer page once the offer is no longer open."""
    return {
        Status.LAPSED: _("Das Angebot ist abgelaufen"),
        Status.ACCEPTED: _("Sie haben zugesagt"),
        Status.DECLINED: _("Sie haben abgelehnt"),
    }.get(Status(application.status), _("Dieses Angebot gilt nicht mehr"))


def limit_text(limit: Limit, rnd: Round, application: Application) -> str:
    if limit == Limit.SEATS:
        return _("alle %(seats)d Plätze sind vergeben", seats=rnd.seats)
    if limit == Limit.STATE:
        return _(
            "das Kontingent für %(state)s (%(max)d Plätze) ist ausgeschöpft",
            state=label(STATES, application.state),
            max=rnd.max_per_state,
        )
    return _(
        "„%(organisation)s“ hat bereits die Höchstzahl von %(max)d Plätzen",
        organisation=application.organisation,
        max=rnd.max_per_organisation,
    )


def record_text(limit: Limit, rnd: Round, application: Application) -> str:
    """The same, in German, for the history (a record, not a page)."""
    with force_locale("de"):
        return limit_text(limit, rnd, application)


def _verb(action: Action) -> str:
    return {
        Action.ADMIT: _("zulassen"),
        Action.WAITLIST: _("auf die Warteliste setzen"),
        Action.REJECT: _("ablehnen"),
    }[action]


def _no_seat(result: Result, limit: Limit) -> str:
    """Admit found no seat: on the waitlist now, or (waitlisted already) kept its place."""
    application = result.application
    words = {
        "name": application.full_name,
        "reason": limit_text(limit, application.round, application),
        "position": result.position,
    }
    if result.outcome == DO.WAITLISTED:
        return _(
            "Kein Platz für %(name)s: %(reason)s. "
            "Die Bewerbung steht jetzt auf Platz %(position)d der Warteliste.",
            **words,
        )
    return _(
        "Kein Platz für %(name)s: %(reason)s. Die Bewerbung bleibt auf Platz "
        "%(position)d der Warteliste.",
        **words,
    )


def _refused(result: Result, name: str) -> str:
    application = result.application
    if result.action == Action.REVOKE:
        return _(
            "Nur ein angebotener oder angenommener Platz lässt sich zurücknehmen "
            "(Status: „%(status)s“). Es wurde nichts geändert.",
            status=status_label(result.status or application.status),
        )
    if result.action == Action.MOVE:
        return _("Die Bewerbung steht nicht auf der Warteliste. Es wurde nichts geändert.")
    if result.action in (Action.ADMIT, Action.WAITLIST, Action.REJECT):
        return _(
            "%(name)s: Eine Bewerbung im Status „%(status)s“ lässt sich nicht %(verb)s. "
            "Es wurde nichts geändert.",
            name=name,
            status=status_label(result.status or application.status),
            verb=_verb(result.action),
        )
    return ""


def result_message(result: Result) -> str:
    """What an organizer reads after a decision ("" for the applicant's own actions, whose
    pages say it themselves)."""
    application = result.application
    name = application.full_name
    outcome = result.outcome
    if result.limit is not None:
        return _no_seat(result, result.limit)
    if outcome == DO.REFUSED:
        return _refused(result, name)
    if outcome == DO.OFFERED:
        return _("%(name)s wurde ein Platz angeboten.", name=name)
    if outcome in (DO.WAITLISTED, DO.MOVED):
        return _(
            "%(name)s steht jetzt auf Platz %(position)d der Warteliste.",
            name=name,
            position=result.position,
        )
    if outcome == DO.UNCHANGED and result.action == Action.WAITLIST:
        return _(
            "%(name)s steht bereits auf Platz %(position)d der Warteliste.",
            name=name,
            position=result.position,
        )
    if outcome == DO.UNCHANGED and result.action == Action.MOVE:
        return _("Die Bewerbung steht bereits auf Platz %(position)d.", position=result.position)
    if outcome == DO.REJECTED:
        return _("%(name)s wurde abgesagt.", name=name)
    if outcome == DO.REVOKED:
        return _("Der Platz von %(name)s ist zurückgenommen.", name=name)
    return ""


def result_category(result: Result) -> str:
    """The flash category of a result: ``error``, ``warning`` or ``success``."""
    if result.outcome == DO.REFUSED:
        return "error"
    if result.outcome in (DO.WAITLISTED, DO.UNCHANGED):
        return "warning"
    return "success"
