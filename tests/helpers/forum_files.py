"""Forum files (``flask forum load``) for the tests."""

from __future__ import annotations

from forum.extensions import db

# A forum with one review round, as in PRODUCT.md.
FORUM_FILE = """
[forum]
slug = "meine-kommune-weiterdenken"
title = "Meine Kommune weiterdenken"
summary = "Forum für Entscheidungsträger*innen aus Bayern und Baden-Württemberg"
description = "Ein *Forum*."

[[rounds]]
slug = "mkw-2027"
title = "Staffel 2027"
seats = 24
opens = 2026-12-01T00:00:00+01:00
closes = 2027-01-31T23:59:00+01:00
admission = "review"
auto_promote = true
offer_hours = 168
confirm_hours = 48
states = ["DE-BY", "DE-BW"]
roles = ["lord_mayor", "mayor", "district_administrator", "deputy", "head_of_office"]
body_types = ["city", "municipality", "district"]
max_per_state = 14
max_per_organisation = 2

[[rounds.meetings]]
title = "1. Arbeitstreffen"
starts = 2027-03-10T10:00:00+01:00
ends = 2027-03-11T16:00:00+01:00
venue = "Nürnberg"
"""

# A forum with one small round (two seats) and two meetings.
MEETINGS_FILE = """
[forum]
slug = "mkw"
title = "Meine Kommune weiterdenken"
summary = "Forum für Entscheidungsträger*innen"
contact_email = "team@forum.example.org"

[[rounds]]
slug = "mkw-2027"
title = "Staffel 2027"
seats = 2
opens = 2026-11-01T00:00:00+01:00
closes = 2027-01-31T23:59:00+01:00
states = ["DE-BY", "DE-BW"]
roles = ["lord_mayor", "mayor", "deputy", "head_of_office"]
body_types = ["city", "municipality", "district"]

[[rounds.meetings]]
title = "1. Arbeitstreffen"
starts = 2027-03-10T10:00:00+01:00
ends = 2027-03-11T16:00:00+01:00
venue = "Nürnberg"
address = "Rathausplatz 2"

[[rounds.meetings]]
title = "2. Arbeitstreffen"
starts = 2027-05-05T10:00:00+02:00
ends = 2027-05-06T16:00:00+02:00
venue = "Ulm"
"""


def write_file(tmp_path, text, name="forum.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def load(runner, tmp_path, text, name="forum.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(args=["forum", "load", str(path)])
    db.session.commit()
    db.session.expire_all()
    return result
