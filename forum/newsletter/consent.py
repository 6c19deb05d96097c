"""The consent wording of the newsletter, versioned. A consent record stores the version and
the text shown, so that a later change of wording never changes what someone agreed to.

Bump :data:`CONSENT_VERSION` and add the new text when the wording changes; keep old
versions here so that the lookup page can show them."""

from __future__ import annotations

from flask import current_app

CONSENT_VERSION = "nl-2026-11-21"

_TEXTS = {
    "nl-2026-11-21": {
        "de": (
            "Ja, ich möchte den Newsletter von {service} per E-Mail erhalten: Ankündigungen "
            "neuer Runden und Formate für Entscheidungsträger*innen aus Kommunen. Meine "
            "Einwilligung kann ich jederzeit widerrufen, zum Beispiel über den Abmeldelink in "
            "jeder Ausgabe. Die Datenschutzhinweise habe ich zur Kenntnis genommen."
        ),
        "en": (
            "Yes, I would like to receive the {service} newsletter by e-mail: announcements of "
            "new rounds and formats for municipal decision-makers. I can withdraw my consent "
            "at any time, for example with the unsubscribe link in every issue. I have taken "
            "note of the privacy notice."
        ),
    },
}


def consent_text(locale: str = "de", version: str = CONSENT_VERSION) -> str:
    """The wording of the consent checkbox as shown in ``locale``."""
    texts = _TEXTS.get(version, {})
    text = texts.get(locale) or texts.get("de") or ""
    return text.format(service=current_app.config["ORGANIZER_NAME"])
