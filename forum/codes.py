"""The codes of PRODUCT.md: German states, body types, roles, departments, with their labels."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

STATES = {
    "DE-BW": _l("Baden-Württemberg"),
    "DE-BY": _l("Bayern"),
    "DE-BE": _l("Berlin"),
    "DE-BB": _l("Brandenburg"),
    "DE-HB": _l("Bremen"),
    "DE-HH": _l("Hamburg"),
    "DE-HE": _l("Hessen"),
    "DE-MV": _l("Mecklenburg-Vorpommern"),
    "DE-NI": _l("Niedersachsen"),
    "DE-NW": _l("Nordrhein-Westfalen"),
    "DE-RP": _l("Rheinland-Pfalz"),
    "DE-SL": _l("Saarland"),
    "DE-SN": _l("Sachsen"),
    "DE-ST": _l("Sachsen-Anhalt"),
    "DE-SH": _l("Schleswig-Holstein"),
    "DE-TH": _l("Thüringen"),
}

BODY_TYPES = {
    "city": _l("Stadt"),
    "municipality": _l("Gemeinde"),
    "district": _l("Landkreis/Kreis"),
}

ROLES = {
    "lord_mayor": _l("Oberbürgermeister*in"),
    "mayor": _l("Bürgermeister*in"),
    "district_administrator": _l("Landrät*in"),
    "deputy": _l("Beigeordnete*r"),
    "head_of_office": _l("Amts- oder Fachbereichsleitung"),
    "council_member": _l("Mitglied des Gemeinderats/Stadtrats, Kreistags"),
    "staff": _l("Verwaltungsmitarbeiter*in"),
    "other": _l("Andere Funktion"),
}

DEPARTMENTS = {
    "main_office": _l("Hauptamt"),
    "treasury": _l("Kämmerei"),
    "urban_development": _l("Stadtentwicklung"),
    "social": _l("Soziales"),
    "building": _l("Bauen"),
    "environment": _l("Umwelt"),
    "other": _l("Anderer Bereich"),
}

RULES = {"states": STATES, "roles": ROLES, "body_types": BODY_TYPES}


def label(table: dict, code: str | None) -> str:
    if not code:
        return ""
    value = table.get(code)
    return str(value) if value is not None else code


def who_may_apply(rnd) -> dict[str, str]:
    """A round's eligibility rules in words, for the public pages."""
    return {
        "states": ", ".join(label(STATES, c) for c in rnd.states),
        "roles": ", ".join(label(ROLES, c) for c in rnd.roles),
        "body_types": ", ".join(label(BODY_TYPES, c) for c in rnd.body_types),
    }
