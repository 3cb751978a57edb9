#!/usr/bin/env bash
# Translations (Flask-Babel): French is the source language, English the second locale.
# Usage: scripts/i18n.sh update   -> extract strings and merge them into the English catalogue
#        scripts/i18n.sh compile  -> build the .mo files the app reads (run by make run/test)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${VENV:-.venv}/bin
dir=dispatch_ui/translations
case "${1:-compile}" in
update)
  "$bin/pybabel" extract -F babel.cfg -k _l -k N_ -k lazy_gettext --no-location --sort-output \
    --project TGD -o "$dir/messages.pot" .
  if [ -f "$dir/en/LC_MESSAGES/messages.po" ]; then
    "$bin/pybabel" update -i "$dir/messages.pot" -d "$dir" -l en --no-fuzzy-matching
  else
    "$bin/pybabel" init -i "$dir/messages.pot" -d "$dir" -l en
  fi ;;
compile)
  out=$("$bin/pybabel" compile --statistics -d "$dir" 2>&1) || { echo "$out" >&2; exit 1; }
  echo "$out" | grep -v '^compiling' || true ;;
*) echo "usage: $0 update|compile" >&2; exit 2 ;;
esac
