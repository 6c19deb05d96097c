"""Issue 7: every CSV download goes through forum.csvdownload: no cell reaches a spreadsheet
as a formula, and every download name is made safe by one function."""

from __future__ import annotations

import csv
import io

import pytest

from forum.csvdownload import download_name, guard

ATTACK = "=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (ATTACK, "'" + ATTACK),
        ("+49 911 123", "'+49 911 123"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("Gemeinde =A1", "Gemeinde =A1"),
        (None, ""),
        (3, "3"),
    ],
)
def test_guard(value, cell):
    assert guard(value) == cell


@pytest.mark.parametrize(
    ("stem", "extension", "name"),
    [
        ("einwilligung-anna@gemeinde.de", "csv", "einwilligung-anna-at-gemeinde.de.csv"),
        ('a"; filename="evil.exe', "json", "a___filename__evil.exe.json"),
        ("bürgermeisterin\r\nX-Evil: 1", "pdf", "b_rgermeisterin__X-Evil__1.pdf"),
        ("../../etc/passwd", "csv", "_.._etc_passwd.csv"),
        ("", "ics", "download.ics"),
    ],
)
def test_download_name(stem, extension, name):
    assert download_name(stem, extension) == name


def _rows(response, delimiter=","):
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


@pytest.mark.parametrize(("query", "delimiter"), [("", ","), ("?format=excel", ";")])
def test_application_csvs_guard_a_formula(
    client, login, make_round, make_application, query, delimiter
):
    rnd = make_round()
    make_application(rnd, first_name=ATTACK, organisation="@SUM(1+1)")
    login(forums=[rnd.forum])
    response = client.get(f"/admin/rounds/{rnd.slug}/applications.csv{query}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    cells = [cell for row in _rows(response, delimiter) for cell in row]
    assert "'" + ATTACK in cells and "'@SUM(1+1)" in cells
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))]


def test_consent_csv_guards_a_formula_and_names_the_file_safely(client, login, smtp, work):
    address = "=cmd|calc@gemeinde.de"
    answer = client.post("/newsletter", data={"email": address, "privacy_consent": "y"})
    assert answer.status_code == 302
    work()  # the flush job records the request and its consent (same work for every address)
    login()
    response = client.get("/admin/newsletter/consent.csv", query_string={"email": address})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="einwilligung-_cmd_calc-at-gemeinde.de.csv"'
    )
    rows = _rows(response)
    assert rows[0][0] == "email" and rows[1][0] == "'" + address
    assert not [cell for row in rows for cell in row if cell.startswith(("=", "+", "-", "@"))]
    as_json = client.get("/admin/newsletter/consent.json", query_string={"email": address})
    assert as_json.headers["Content-Disposition"].endswith('-at-gemeinde.de.json"')
