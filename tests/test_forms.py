"""The public forms (issue 11): every required control carries its marker, the consent
checkboxes sit with their text, the apply form asks for eligibility first and offers only the
round's choices, and an ineligible answer keeps everything typed."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from tests.helpers import application_data

REQUIRED_APPLY = (
    "state",
    "body_type",
    "role",
    "first_name",
    "last_name",
    "email",
    "organisation",
    "motivation",
    "challenge",
    "commitment",
    "privacy_consent",
)


def label_of(html: str, name: str) -> str:
    return re.search(rf'<label for="{name}">(.*?)</label>', html, re.S).group(1)


def control_of(html: str, name: str) -> str:
    return re.search(rf'<(?:input|select|textarea)\b[^>]*\bid="{name}"[^>]*>', html).group(0)


def options_of(html: str, name: str) -> list[str]:
    select = re.search(rf'<select\b[^>]*id="{name}".*?</select>', html, re.S).group(0)
    return re.findall(r'<option[^>]*value="([^"]*)"', select)


def test_newsletter_consent_checkbox_sits_with_its_text(client):
    html = client.get("/newsletter").get_data(as_text=True)
    check = re.search(
        r'<div class="field check">\s*(<input[^>]*id="privacy_consent"[^>]*>)\s*'
        r'<label for="privacy_consent">(.*?)</label>',
        html,
        re.S,
    )
    assert check, html
    assert 'type="checkbox"' in check.group(1) and "required" in check.group(1)
    assert "Newsletter" in check.group(2) and 'class="req"' in check.group(2)
    assert 'class="req"' in label_of(html, "email") and 'class="req"' not in label_of(html, "name")


@pytest.mark.parametrize("lang", ["de", "en"])
def test_every_required_control_is_marked(client, make_round, lang):
    rnd = make_round()
    html = client.get(f"/rounds/{rnd.slug}/apply?lang={lang}").get_data(as_text=True)
    for name in REQUIRED_APPLY:
        assert 'class="req"' in label_of(html, name), name
        assert re.search(r"\brequired\b", control_of(html, name)), name
    for name in ("phone", "department", "newsletter"):
        assert 'class="req"' not in label_of(html, name), name
        assert not re.search(r"\brequired\b", control_of(html, name)), name


def test_eligibility_comes_first_with_only_the_rounds_choices(client, make_round):
    rnd = make_round(
        states=["DE-BY", "DE-BW"],
        roles=["lord_mayor", "mayor", "district_administrator", "deputy", "head_of_office"],
        body_types=["city", "municipality"],
    )
    html = client.get(f"/rounds/{rnd.slug}/apply").get_data(as_text=True)
    form = html[html.index('id="apply-form"') :]
    first_controls = re.findall(r'<(?:input|select|textarea)\b[^>]*\bname="(\w+)"', form)
    assert [n for n in first_controls if n != "csrf_token"][:3] == ["state", "body_type", "role"]
    assert set(options_of(html, "state")) == {"", "DE-BY", "DE-BW"}
    assert set(options_of(html, "role")) == {"", *rnd.roles}
    assert set(options_of(html, "body_type")) == {"", "city", "municipality"}
    note = re.search(r'id="eligibility-note">(.*?)</p>', html, re.S).group(1)
    assert "Bayern" in note and "Baden-Württemberg" in note and 'href="/newsletter' in note

    # A round that leaves a list empty accepts everything in it.
    open_round = make_round(states=[], roles=["mayor"], body_types=["city"])
    html = client.get(f"/rounds/{open_round.slug}/apply").get_data(as_text=True)
    assert len(options_of(html, "state")) == 17

    # A prefilled value the round does not accept stays (the check then says why).
    html = client.get(f"/rounds/{rnd.slug}/apply?state=DE-NW").get_data(as_text=True)
    assert "DE-NW" in options_of(html, "state")
    assert re.search(r'<option selected value="DE-NW">|<option value="DE-NW" selected', html)


def test_ineligible_answer_keeps_everything_typed(client, make_round):
    rnd = make_round(states=["DE-BY", "DE-BW"])
    data = application_data(
        state="DE-NW",
        first_name="Jürgen",
        motivation="Ein langer Text über unsere Kommune & ihre <Pläne>.",
        challenge="Die Sanierung der Grundschule.",
        phone="+49 911 123",
        newsletter="y",
    )
    response = client.post(f"/rounds/{rnd.slug}/apply", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-rule="state"' in html and 'href="#correct"' in html
    form = html[html.index('id="correct"') :]
    textareas = {
        name: html_lib.unescape(text)
        for name, text in re.findall(
            r'<textarea[^>]*name="(\w+)"[^>]*>\s*(.*?)</textarea>', form, re.S
        )
    }
    assert textareas["motivation"] == data["motivation"]
    assert textareas["challenge"] == data["challenge"]
    for name in ("first_name", "last_name", "email", "phone", "organisation"):
        assert (
            html_lib.unescape(re.search(r'value="([^"]*)"', control_of(form, name)).group(1))
            == (data[name])
        ), name
    for name in ("commitment", "privacy_consent", "newsletter"):
        assert "checked" in control_of(form, name), name
    assert re.search(r'<option selected value="DE-NW">|<option value="DE-NW" selected', form)
    # Corrected, the same form goes through.
    corrected = dict(data, state="DE-BY")
    assert client.post(f"/rounds/{rnd.slug}/apply", data=corrected).status_code == 302
