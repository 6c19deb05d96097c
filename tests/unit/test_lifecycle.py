"""The lifecycle table, checked against PRODUCT.md: every pair of statuses with every actor is
allowed exactly as the table says, ``transition`` refuses the rest and changes nothing, and
each allowed transition sets and clears its fields."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from forum.db import utcnow
from forum.extensions import db
from registration import lifecycle
from registration.lifecycle import Action, Actor, Field, Status
from registration.models import Application, ApplicationEvent

S, A = Status, Actor

#: PRODUCT.md's lifecycle, written out independently of the table: (from, to): who.
EXPECTED: dict[tuple[Status, Status], set[Actor]] = {
    (S.PENDING_EMAIL, S.SUBMITTED): {A.APPLICANT},  # the confirm link
    (S.PENDING_EMAIL, S.EXPIRED): {A.SYSTEM},  # no confirmation in time
    (S.PENDING_EMAIL, S.WITHDRAWN): {A.SYSTEM},  # erasure only
    (S.SUBMITTED, S.OFFERED): {A.ORGANIZER, A.SYSTEM},  # admit; first come
    (S.SUBMITTED, S.WAITLISTED): {A.ORGANIZER, A.SYSTEM},
    (S.SUBMITTED, S.REJECTED): {A.ORGANIZER},
    (S.SUBMITTED, S.WITHDRAWN): {A.APPLICANT, A.SYSTEM},
    (S.WAITLISTED, S.OFFERED): {A.ORGANIZER, A.SYSTEM},  # by hand; promotion
    (S.WAITLISTED, S.REJECTED): {A.ORGANIZER},
    (S.WAITLISTED, S.WITHDRAWN): {A.APPLICANT, A.SYSTEM},
    (S.OFFERED, S.ACCEPTED): {A.APPLICANT},
    (S.OFFERED, S.DECLINED): {A.APPLICANT},
    (S.OFFERED, S.LAPSED): {A.SYSTEM},
    (S.OFFERED, S.WITHDRAWN): {A.APPLICANT, A.SYSTEM},
    (S.OFFERED, S.REVOKED): {A.ORGANIZER},
    (S.ACCEPTED, S.WITHDRAWN): {A.APPLICANT, A.SYSTEM},
    (S.ACCEPTED, S.REVOKED): {A.ORGANIZER},
}


def _application(status: Status) -> Application:
    now = utcnow()
    return Application(
        status=status,
        waitlist_position=3 if status == S.WAITLISTED else None,
        offer_deadline=now + timedelta(days=7) if status == S.OFFERED else None,
        confirm_deadline=now + timedelta(hours=48),
        confirmed_at=None if status == S.PENDING_EMAIL else now,
    )


def _values(rule: lifecycle.Rule) -> dict:
    given = {}
    if Field.OFFER_DEADLINE in rule.sets:
        given["offer_deadline"] = utcnow() + timedelta(hours=168)
    if Field.WAITLIST_POSITION in rule.sets:
        given["waitlist_position"] = 7
    return given


def test_the_table_is_the_product_lifecycle():
    table = {(r.source, r.target): set(r.actors) for r in lifecycle.TABLE}
    assert table == EXPECTED
    assert len(lifecycle.TABLE) == len(lifecycle.RULES)  # no pair twice


@pytest.mark.parametrize("source", list(Status))
def test_can_exactly_as_the_table_says(context, source):
    """Every target and actor from ``source``: allowed as PRODUCT.md says; the refused ones
    raise and change nothing, not even the history."""
    for target, actor in itertools.product(Status, Actor):
        case = f"{source} -> {target} by {actor}"
        application = _application(source)
        allowed = actor in EXPECTED.get((source, target), set())
        assert lifecycle.can(application, target, actor) is allowed, case
        if allowed:
            continue
        before = {f: getattr(application, f.value) for f in Field}
        with pytest.raises(lifecycle.TransitionError):
            lifecycle.transition(application, target, actor, **_values_for(source, target))
        assert application.status == source, case
        assert {f: getattr(application, f.value) for f in Field} == before, case
        assert not [o for o in db.session.new if isinstance(o, ApplicationEvent)], case


def _values_for(source: Status, target: Status) -> dict:
    rule = lifecycle.rule(source, target)
    return _values(rule) if rule is not None else {}


@pytest.mark.parametrize("rule", lifecycle.TABLE, ids=lambda r: f"{r.source}-{r.target}")
def test_each_transition_sets_and_clears_its_fields(context, rule):
    application = _application(rule.source)
    actor = sorted(rule.actors)[0]
    given = _values(rule)
    before = {f: getattr(application, f.value) for f in Field}
    event = lifecycle.transition(application, rule.target, actor, "Grund", **given)
    assert application.status == rule.target
    for field in Field:
        value = getattr(application, field.value)
        if field in rule.clears:
            assert value is None, field
        elif field in rule.sets:
            assert value is not None and value != before[field], field
            if field.value in given:
                assert value == given[field.value]
        else:
            assert value == before[field], field
    assert (event.from_status, event.to_status, event.actor) == (rule.source, rule.target, actor)
    assert event.reason == "Grund"


def test_status_fields_after_each_transition_match_the_status(context):
    """Waitlist position exactly on the waitlist, an offer deadline exactly while offered."""
    for rule in lifecycle.TABLE:
        application = _application(rule.source)
        lifecycle.transition(application, rule.target, sorted(rule.actors)[0], **_values(rule))
        assert (application.waitlist_position is not None) == (rule.target == S.WAITLISTED)
        assert (application.offer_deadline is not None) == (rule.target == S.OFFERED)
        if rule.target != S.PENDING_EMAIL:
            assert application.confirm_deadline is None or rule.source != S.PENDING_EMAIL


@pytest.mark.parametrize(
    ("source", "target", "given"),
    [
        (S.SUBMITTED, S.OFFERED, {}),  # the offer needs its deadline
        (S.SUBMITTED, S.WAITLISTED, {}),  # the waitlist needs a position
        (S.SUBMITTED, S.REJECTED, {"waitlist_position": 2}),  # a value the rule does not set
        (S.OFFERED, S.ACCEPTED, {"offer_deadline": utcnow()}),
    ],
)
def test_values_must_match_what_the_rule_sets(context, source, target, given):
    application = _application(source)
    rule = lifecycle.rule(source, target)
    assert rule is not None
    with pytest.raises(ValueError):
        lifecycle.transition(application, target, sorted(rule.actors)[0], **given)
    assert application.status == source


def test_confirmation_sets_the_time_given(context):
    application = _application(S.PENDING_EMAIL)
    at = utcnow() - timedelta(minutes=5)
    lifecycle.transition(application, S.SUBMITTED, Actor.APPLICANT, now=at)
    assert application.confirmed_at == at


def test_derived_sets():
    assert lifecycle.LIVE == {S.PENDING_EMAIL, S.SUBMITTED, S.WAITLISTED, S.OFFERED, S.ACCEPTED}
    assert lifecycle.FINAL == {S.REJECTED, S.DECLINED, S.LAPSED, S.WITHDRAWN, S.EXPIRED, S.REVOKED}
    assert lifecycle.HOLDING == {S.OFFERED, S.ACCEPTED}
    assert lifecycle.HOLDING <= lifecycle.LIVE
    assert lifecycle.ON_WAITLIST == {S.WAITLISTED}
    assert lifecycle.DECIDABLE == {S.SUBMITTED, S.WAITLISTED}
    assert lifecycle.AWAITING_ANSWER == {S.OFFERED}
    assert lifecycle.PARTICIPATING == {S.ACCEPTED}
    assert lifecycle.UNCONFIRMED == {S.PENDING_EMAIL}


def test_listing_order_is_every_status_once_decisions_first():
    assert sorted(lifecycle.LISTING) == sorted(Status)
    assert lifecycle.LISTING[:5] == (
        S.SUBMITTED,
        S.WAITLISTED,
        S.OFFERED,
        S.ACCEPTED,
        S.PENDING_EMAIL,
    )
    assert set(lifecycle.LISTING[5:]) == lifecycle.FINAL


@pytest.mark.parametrize("name", sorted(lifecycle.TESTS))
def test_jinja_tests_take_an_application_a_status_or_anything(context, name):
    """Each named set is a Jinja test (registered once) over an application or a status; a
    value that is no status (the empty filter of a list) is in no set."""
    members = {
        "holding_seat": lifecycle.HOLDING,
        "awaiting_answer": lifecycle.AWAITING_ANSWER,
        "participating": lifecycle.PARTICIPATING,
        "unconfirmed": lifecycle.UNCONFIRMED,
        "on_waitlist": lifecycle.ON_WAITLIST,
        "decidable": lifecycle.DECIDABLE,
        "live": lifecycle.LIVE,
        "final": lifecycle.FINAL,
    }[name]
    test = context.jinja_env.tests[name]
    for status in Status:
        assert test(Application(status=status)) is (status in members)
        assert test(status.value) is (status in members)
    assert test("") is False
    assert test(None) is False
    template = context.jinja_env.from_string("{{ a is " + name + " }}")
    some = next(iter(members))
    assert template.render(a=Application(status=some)) == "True"
    assert lifecycle.values(lifecycle.LIVE) == [
        "pending_email",
        "submitted",
        "waitlisted",
        "offered",
        "accepted",
    ]


ORG, P = Actor.ORGANIZER, Actor.APPLICANT
ACTIONS = {
    (S.PENDING_EMAIL, P): set(),
    (S.PENDING_EMAIL, ORG): set(),
    (S.SUBMITTED, P): {Action.WITHDRAW},
    (S.SUBMITTED, ORG): {Action.ADMIT, Action.WAITLIST, Action.REJECT},
    (S.WAITLISTED, P): {Action.WITHDRAW},
    (S.WAITLISTED, ORG): {Action.ADMIT, Action.REJECT, Action.MOVE},
    (S.OFFERED, P): {Action.ACCEPT, Action.DECLINE, Action.WITHDRAW},
    (S.OFFERED, ORG): {Action.REVOKE},
    (S.ACCEPTED, P): {Action.WITHDRAW},
    (S.ACCEPTED, ORG): {Action.REVOKE},
    **{(s, who): set() for s in sorted(lifecycle.FINAL) for who in (P, ORG)},
}


@pytest.mark.parametrize(("status", "actor"), list(ACTIONS), ids=str)
def test_allowed_actions_are_the_buttons_of_the_pages(status, actor):
    assert lifecycle.allowed_actions(_application(status), actor) == ACTIONS[(status, actor)]
