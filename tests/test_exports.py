"""Exports for spreadsheets (issue 11): the machine-readable CSV stays as it was (the contract),
``?format=excel`` gives German Excel semicolons, labels and local times, ``.xlsx`` a workbook."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from openpyxl import load_workbook

from forum.extensions import db


def _data(make_round, make_application):
    rnd = make_round(title="Staffel 2027")
    application = make_application(
        rnd,
        first_name="Jürgen",
        phone="+49 911 123",
        organisation='=HYPERLINK("http://x")',
        state="DE-BY",
        role="mayor",
        body_type="municipality",
    )
    application.created_at = datetime(2027, 1, 31, 22, 59, 30, 123456, tzinfo=UTC)
    db.session.commit()
    return rnd


def test_machine_readable_csv_is_unchanged(client, login, make_round, make_application):
    rnd = _data(make_round, make_application)
    login(forums=[rnd.forum])
    response = client.get(f"/admin/rounds/{rnd.slug}/applications.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0]["state"] == "DE-BY" and rows[0]["role"] == "mayor"
    assert rows[0]["created_at"].startswith("2027-01-31T22:59:30")
    assert rows[0]["organisation"].startswith("'=")


def test_excel_csv_has_semicolons_labels_and_local_times(
    client, login, make_round, make_application
):
    rnd = _data(make_round, make_application)
    login(forums=[rnd.forum])
    response = client.get(f"/admin/rounds/{rnd.slug}/applications.csv?format=excel")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "excel.csv" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    row = rows[0]
    assert row["Bundesland"] == "Bayern" and row["Funktion"] == "Bürgermeister*in"
    assert row["Art der Kommune"] == "Gemeinde" and row["Status"] == "eingegangen"
    assert row["Eingegangen"] == "31.01.2027 23:59"  # Berlin, winter time
    assert row["Vorname"] == "Jürgen"
    assert row["Kommune / Organisation"].startswith("'=")  # still no formula
    english = client.get(f"/admin/rounds/{rnd.slug}/applications.csv?format=excel&lang=en")
    header = english.get_data(as_text=True).lstrip("\ufeff").splitlines()[0]
    assert header.startswith("No.;Status;First name;Last name;")
    assert client.get(f"/admin/rounds/{rnd.slug}/applications.csv?format=pdf").status_code == 400


def test_xlsx_has_text_cells_and_date_cells(client, login, make_round, make_application):
    rnd = _data(make_round, make_application)
    login(forums=[rnd.forum])
    response = client.get(f"/admin/rounds/{rnd.slug}/applications.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    header = [c.value for c in sheet[1]]
    row = dict(zip(header, [c for c in sheet[2]], strict=True))
    assert row["Bundesland"].value == "Bayern"
    assert row["Telefon"].value == "+49 911 123" and row["Telefon"].data_type == "s"
    assert row["Kommune / Organisation"].value == '=HYPERLINK("http://x")'
    assert row["Kommune / Organisation"].data_type == "s"  # text, not a formula
    assert row["Eingegangen"].is_date  # a date cell, in Berlin time
    assert row["Eingegangen"].value.replace(microsecond=0) == datetime(2027, 1, 31, 23, 59, 30)
    # Another forum's organizer gets nothing.
    assert client.get("/admin/rounds/gibt-es-nicht/applications.xlsx").status_code == 404
