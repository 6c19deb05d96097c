"""The newsletter: double opt-in subscriptions with a consent record, announcements of new
rounds dispatched in batches, one-click unsubscribe (RFC 8058)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the newsletter's blueprints, commands and maintenance tasks."""
    from forum.maintenance import register_task
    from forum.outbox import register_intake
    from forum.privacy import register_personal_data
    from forum.suppression import register_suppression_hook

    from . import messages, models
    from .cli import newsletter_cli
    from .jobs import resume_dispatches
    from .privacy import erase_newsletter, export_newsletter
    from .render import body_to_html
    from .services import (
        SUBSCRIPTION_INTAKE,
        prune_unconfirmed,
        subscription_intake,
        unsubscribe_suppressed,
    )
    from .views import admin_bp, bp

    app.register_blueprint(bp)
    app.register_blueprint(admin_bp)
    app.cli.add_command(newsletter_cli)
    # The statuses' named sets as Jinja tests and their words: the one place templates
    # learn about the newsletter's statuses.
    app.jinja_env.tests.update(models.TESTS)
    app.add_template_global(messages.status_word, "newsletter_status")
    app.extensions["mail_templates"].filters["newsletter_html"] = body_to_html
    register_task(app, "newsletter_resume", resume_dispatches)
    register_task(app, "newsletter_pruned", prune_unconfirmed)
    register_intake(app, SUBSCRIPTION_INTAKE, subscription_intake)
    register_personal_data(app, "newsletter", export_newsletter, erase_newsletter)
    register_suppression_hook(app, unsubscribe_suppressed)
