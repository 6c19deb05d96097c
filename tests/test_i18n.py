"""German by default, English when chosen; the English catalog is complete."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

from tests.helpers import ROOT


def test_german_by_default_even_for_english_browsers(client, make_round):
    rnd = make_round()
    page = client.get(f"/rounds/{rnd.slug}/apply", headers={"Accept-Language": "en-US,en"})
    html = page.get_data(as_text=True)
    assert '<html lang="de">' in html and "Vorname" in html


def test_english_when_chosen_and_kept_in_the_session(client, make_round):
    rnd = make_round()
    html = client.get(f"/rounds/{rnd.slug}/apply?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html and "First name" in html and "Vorname" not in html
    # The choice sticks for the next page.
    assert "Forums and rounds" in client.get("/").get_data(as_text=True)
    assert "Foren und Runden" in client.get("/?lang=de").get_data(as_text=True)


def test_english_catalog_is_complete_and_compiled():
    po = ROOT / "translations" / "en" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh)
    missing = [m.id for m in catalog if m.id and not m.string]
    assert missing == []
    assert Path(po.with_suffix(".mo")).stat().st_mtime >= po.stat().st_mtime - 1


def test_every_string_in_the_code_is_in_the_catalog(tmp_path):
    import subprocess
    import sys

    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "--no-location", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    with (ROOT / "translations/en/LC_MESSAGES/messages.po").open("rb") as fh:
        translated = {m.id for m in read_po(fh) if m.id and m.string}
    assert sorted(wanted - translated) == []
