"""Applications: the form, eligibility, tokens, the lifecycle, the waitlist and review.
Builds on :mod:`forum`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from forum.maintenance import register_task
    from forum.outbox import register_intake
    from forum.privacy import register_forum_link, register_personal_data
    from forum.round_hooks import register_round_hooks

    from . import (
        admin,
        lifecycle,
        models,  # noqa: F401
        selection,
        views,
    )
    from .admission import lapse_expired_offers, messages
    from .cli import round_cli
    from .invitations import (
        delete_finished_invitations,
        erase_invitations,
        export_invitations,
        send_invitation_reminders,
    )
    from .participants import attendance, changes, edits, reminders
    from .participants import views as participant_views
    from .privacy import (
        anonymise_finished_rounds,
        applied_in_forums,
        erase_applications,
        export_applications,
    )
    from .services import APPLICATION_INTAKE, application_intake, expire_unconfirmed

    # First: its personal-data provider must erase tags and notes while the applications
    # still carry the address (the "applications" provider anonymises them).
    selection.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(participant_views.bp)
    app.register_blueprint(participant_views.public_bp)
    app.add_template_global(attendance.has_attended, "has_attended")
    app.add_template_global(edits.can_edit, "can_edit_application")
    # The lifecycle's named sets as Jinja tests ({% if a is holding_seat %}), and the words
    # for a status: the one place templates learn about statuses.
    app.jinja_env.tests.update(lifecycle.TESTS)
    app.add_template_global(messages.status_label, "status_label")
    app.add_template_global(messages.status_text, "status_text")
    app.add_template_global(messages.offer_heading, "offer_heading")
    register_task(app, "expired_unconfirmed", expire_unconfirmed)
    register_task(app, "lapsed_offers", lapse_expired_offers)
    register_task(app, "retention_applications", anonymise_finished_rounds)
    register_task(app, "invitation_reminders", send_invitation_reminders)
    register_task(app, "retention_invitations", delete_finished_invitations)
    register_task(app, "meeting_reminders", reminders.send_due_reminders)
    register_intake(app, APPLICATION_INTAKE, application_intake)
    app.cli.add_command(round_cli)
    register_personal_data(app, "applications", export_applications, erase_applications)
    register_forum_link(app, applied_in_forums)
    register_personal_data(app, "invitations", export_invitations, erase_invitations)
    register_round_hooks(app, changes.HOOKS)
