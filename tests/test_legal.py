"""The legal pages (issue 11): the privacy notice names the controller, the legal notice
(Impressum) and the accessibility statement come from the settings and are linked in every
page's footer, in German and English."""

from __future__ import annotations

import re

import pytest

from tests.helpers.clients import IsolatedClient

SETTINGS = {
    "LEGAL_CONTROLLER_NAME": "Netzwerk Kommune e. V.",
    "LEGAL_CONTROLLER_ADDRESS": "Rathausplatz 2, 90403 Nürnberg",
    "LEGAL_CONTROLLER_EMAIL": "kontakt@netzwerk-kommune.example",
    "LEGAL_CONTROLLER_PHONE": "+49 911 0000",
    "LEGAL_REPRESENTATIVE": "Dr. Erika Muster (Vorstand)",
    "LEGAL_DATA_PROTECTION_OFFICER": "Max Beispiel, dsb@netzwerk-kommune.example",
    "LEGAL_REGISTER": "Vereinsregister Amtsgericht Nürnberg, VR 1234",
    "ACCESSIBILITY_CONTACT_EMAIL": "barrieren@netzwerk-kommune.example",
    "ACCESSIBILITY_STATEMENT_DATE": "2026-11-30",
}


@pytest.fixture
def legal_client(make_app):
    app = make_app(**SETTINGS)
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app.test_client()


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_privacy_notice_names_the_controller(legal_client):
    page = text(legal_client.get("/datenschutz"))
    controller = re.search(r'<div id="controller">(.*?)</div>', page).group(1)
    for key in ("NAME", "ADDRESS", "EMAIL", "PHONE"):
        assert SETTINGS[f"LEGAL_CONTROLLER_{key}"] in controller, key
    assert "Max Beispiel, dsb@netzwerk-kommune.example" in page
    assert "Aufsichtsbehörde" in page


def test_legal_notice_and_accessibility_statement(legal_client):
    notice = legal_client.get("/impressum")
    assert notice.status_code == 200
    page = text(notice)
    for value in (
        "Netzwerk Kommune e. V.",
        "Rathausplatz 2, 90403 Nürnberg",
        "Dr. Erika Muster (Vorstand)",
        "Vereinsregister Amtsgericht Nürnberg, VR 1234",
    ):
        assert value in page, value
    assert "Umsatzsteuer" not in page  # not set, not shown

    statement = legal_client.get("/barrierefreiheit")
    assert statement.status_code == 200
    page = text(statement)
    feedback = re.search(r'id="accessibility-feedback">(.*?)</p>', page).group(1)
    assert 'href="mailto:barrieren@netzwerk-kommune.example"' in feedback
    assert "30. November 2026" in page and "BITV 2.0" in page and "Schlichtungsstelle" in page

    english = text(legal_client.get("/barrierefreiheit?lang=en"))
    assert "Accessibility statement" in english and "November 30, 2026" in english


def test_footer_links_the_three_pages_everywhere(legal_client):
    for path in ("/", "/newsletter", "/admin/login", "/gibt-es-nicht"):
        footer = re.search(r'<footer class="site">(.*?)</footer>', text(legal_client.get(path)))
        links = re.findall(r'href="([^"]+)"', footer.group(1))
        assert links[:3] == ["/datenschutz", "/impressum", "/barrierefreiheit"], path
