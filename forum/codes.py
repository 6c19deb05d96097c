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
    # Open formats (seminars for citizens, associations, business …): shown only in rounds
    # that accept them, under the heading "Art der Organisation".
    "association": _l("Verein/Verband"),
    "business": _l("Unternehmen"),
    "science": _l("Hochschule/Forschung"),
    "public_agency": _l("Behörde von Land oder Bund"),
    "private": _l("Privatperson"),
}

#: A private person stands for no organisation: the per-organisation limit does not count them.
PRIVATE = "private"

#: The body types of municipal administrations; a round accepting only these is "municipal"
#: and its form looks as it always did.
MUNICIPAL_BODY_TYPES = ("city", "municipality", "district")

ROLES = {
    "lord_mayor": _l("Oberbürgermeister*in"),
    "mayor": _l("Bürgermeister*in"),
    "district_administrator": _l("Landrät*in"),
    "deputy": _l("Beigeordnete*r"),
    "head_of_office": _l("Amts- oder Fachbereichsleitung"),
    "council_member": _l("Mitglied des Gemeinderats/Stadtrats, Kreistags"),
    "staff": _l("Verwaltungsmitarbeiter*in"),
    "other": _l("Andere Funktion"),
    # Open formats
    "executive": _l("Vorstand/Geschäftsführung"),
    "employee": _l("Mitarbeiter*in"),
    "volunteer": _l("Ehrenamtliche*r"),
    "citizen": _l("Bürger*in"),
}

#: The roles of municipal rounds (offered in every round, as before the open formats).
MUNICIPAL_ROLES = (
    "lord_mayor",
    "mayor",
    "district_administrator",
    "deputy",
    "head_of_office",
    "council_member",
    "staff",
    "other",
)

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


def is_open_format(rnd) -> bool:
    """A round that accepts organisations beyond municipal administrations."""
    return any(code not in MUNICIPAL_BODY_TYPES for code in rnd.body_types or ())


def offered_codes(table: dict, municipal: tuple[str, ...], accepted) -> list[str]:
    """The codes a round's form offers: the municipal ones (as always) and those of the open
    formats that the round accepts."""
    accepted = set(accepted or ())
    return [code for code in table if code in municipal or code in accepted]


def who_may_apply(rnd) -> dict[str, str]:
    """A round's eligibility rules in words, for the public pages."""
    return {
        "states": ", ".join(label(STATES, c) for c in rnd.states),
        "roles": ", ".join(label(ROLES, c) for c in rnd.roles),
        "body_types": ", ".join(label(BODY_TYPES, c) for c in rnd.body_types),
    }
