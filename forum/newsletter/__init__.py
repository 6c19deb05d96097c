"""The newsletter: double opt-in subscriptions with a consent record, announcements of new
rounds dispatched in batches, one-click unsubscribe (RFC 8058)."""

from __future__ import annotations

from flask import Flask

#: Defaults of the newsletter's settings (``instance/config.py`` and ``FORUM_*`` override them).
DEFAULTS = {
    "NEWSLETTER_RATE_PER_MINUTE": 0,  # mails per minute over all workers; 0 = unlimited
    "NEWSLETTER_BATCH_SIZE": 1000,  # mails per batch job (one SMTP connection each)
    "NEWSLETTER_CONFIRM_DAYS": 7,  # how long a confirmation link works
    "NEWSLETTER_RESEND_SECONDS": 3600,  # a pending address gets the confirmation mail again
    "NEWSLETTER_PENDING_DAYS": 30,  # unconfirmed requests are deleted after this
    "NEWSLETTER_LIST_ID": None,  # default: "<name> Newsletter" <newsletter.<public host>>
    "NEWSLETTER_UNSUBSCRIBE_MAILTO": None,  # an address for mailto: unsubscribes, if handled
    "NEWSLETTER_RATELIMIT": "10 per minute; 100 per hour",  # the public form, per address
}


def init_app(app: Flask) -> None:
    """Register the newsletter's blueprints, commands and maintenance tasks."""
    from forum.maintenance import register_task
    from forum.outbox import register_intake
    from forum.privacy import register_personal_data
    from forum.suppression import register_suppression_hook

    from . import models  # noqa: F401  (the tables)
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

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.register_blueprint(bp)
    app.register_blueprint(admin_bp)
    app.cli.add_command(newsletter_cli)
    app.extensions["mail_templates"].filters["newsletter_html"] = body_to_html
    register_task(app, "newsletter_resume", resume_dispatches)
    register_task(app, "newsletter_pruned", prune_unconfirmed)
    register_intake(app, SUBSCRIPTION_INTAKE, subscription_intake)
    register_personal_data(app, "newsletter", export_newsletter, erase_newsletter)
    register_suppression_hook(app, unsubscribe_suppressed)
