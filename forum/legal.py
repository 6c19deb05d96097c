"""The legal notice (Impressum) and the accessibility statement, from the settings
``LEGAL_*`` and ``ACCESSIBILITY_*`` (forum/config.py). The privacy notice is forum/privacy.py."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("legal", __name__)


@bp.get("/impressum")
def legal_notice():
    return render_template("legal/impressum.html")


@bp.get("/barrierefreiheit")
def accessibility():
    return render_template("legal/barrierefreiheit.html")
