#!/usr/bin/env bash
# Extract the German msgids, update the English catalog, compile it.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
PYBABEL="$VENV/bin/pybabel"
"$PYBABEL" extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
  -o translations/messages.pot .
if [ -f translations/en/LC_MESSAGES/messages.po ]; then
  "$PYBABEL" update --no-fuzzy-matching -i translations/messages.pot -d translations -l en
else
  "$PYBABEL" init -i translations/messages.pot -d translations -l en
fi
"$PYBABEL" compile -d translations
grep -c '^msgstr ""$' translations/en/LC_MESSAGES/messages.po | xargs echo "empty msgstr lines (incl. header):"
