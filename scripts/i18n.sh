#!/usr/bin/env bash
# Extract the German msgids, update the English catalog, compile it.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
PYBABEL="$VENV/bin/pybabel"
"$PYBABEL" extract -q -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
  -o translations/messages.pot .
if [ -f translations/en/LC_MESSAGES/messages.po ]; then
  "$PYBABEL" update -q --no-fuzzy-matching -i translations/messages.pot -d translations -l en
else
  "$PYBABEL" init -q -i translations/messages.pot -d translations -l en
fi
"$PYBABEL" compile -q -d translations
grep -c '^msgstr ""$' translations/en/LC_MESSAGES/messages.po | xargs echo "empty msgstr lines (incl. header):"
