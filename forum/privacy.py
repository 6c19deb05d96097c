"""The privacy notice and the version of its wording that consent records refer to."""

from __future__ import annotations

from flask import Blueprint, render_template

#: Bump when the wording of the privacy notice or of a consent checkbox changes.
PRIVACY_VERSION = "2026-11-21"

bp = Blueprint("privacy", __name__)


@bp.get("/datenschutz")
def notice():
    return render_template("privacy.html", version=PRIVACY_VERSION)
