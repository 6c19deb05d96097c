"""The floor for ``bench/apply.py``: the least a Flask + Flask-WTF + Flask-SQLAlchemy app can do
for a public form, with the same database settings as the service (SQLite in WAL mode with the
same pragmas and busy timeout; PostgreSQL as given). GET renders a form with its CSRF token; a
valid POST stores one row and redirects.

    gunicorn --workers 2 --threads 4 "bench.floor_app:create_app()"

The database URL comes from ``FLOOR_DATABASE_URL``.
"""

from __future__ import annotations

import os

from flask import Flask, redirect, render_template_string
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import FlaskForm
from sqlalchemy import event
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

db = SQLAlchemy()


class Row(db.Model):
    __tablename__ = "floor_rows"
    id = db.Column(db.Integer, primary_key=True)
    first_name = db.Column(db.String(100), nullable=False)
    last_name = db.Column(db.String(100), nullable=False)
    email = db.Column(db.String(254), nullable=False)
    organisation = db.Column(db.String(200), nullable=False)
    motivation = db.Column(db.Text, nullable=False)


class FloorForm(FlaskForm):
    first_name = StringField(validators=[DataRequired(), Length(max=100)])
    last_name = StringField(validators=[DataRequired(), Length(max=100)])
    email = StringField(validators=[DataRequired(), Email()])
    organisation = StringField(validators=[DataRequired(), Length(max=200)])
    motivation = TextAreaField(validators=[DataRequired(), Length(max=5000)])
    commitment = BooleanField(validators=[DataRequired()])
    privacy_consent = BooleanField(validators=[DataRequired()])


PAGE = """<!doctype html><title>Floor</title><form method="post">{{ form.csrf_token }}
{% for f in form if f.name != 'csrf_token' %}{{ f.label }} {{ f() }}{% endfor %}
<button>Senden</button></form>"""


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "floor"
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["FLOOR_DATABASE_URL"]
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":

            @event.listens_for(db.engine, "connect")
            def _pragmas(dbapi_connection, _record):
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA busy_timeout = 30000")
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
                cursor.execute("PRAGMA foreign_keys = ON")
                cursor.close()

        if os.environ.get("FLOOR_CREATE_TABLES"):
            db.create_all()  # once, before the web workers start (bench/apply.py does it)

    @app.route("/apply", methods=["GET", "POST"])
    def apply():
        form = FloorForm()
        if form.validate_on_submit():
            db.session.add(
                Row(
                    first_name=form.first_name.data,
                    last_name=form.last_name.data,
                    email=form.email.data,
                    organisation=form.organisation.data,
                    motivation=form.motivation.data,
                )
            )
            db.session.commit()
            return redirect("/done")
        return render_template_string(PAGE, form=form), (422 if form.is_submitted() else 200)

    return app
