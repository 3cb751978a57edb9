#!/usr/bin/env bash
# Install the front-end packages pinned in package-lock.json from the npm registry and copy
# the files the app serves into dispatch_ui/static/vendor/ (no CDN: the operations room may
# be cut off from the internet). --ignore-scripts: the DSFR's preinstall expects a DSFR
# project scaffold, and we only need its built files.
set -euo pipefail
cd "$(dirname "$0")/.."
vendor=dispatch_ui/static/vendor
stamp="$vendor/.lock-sha256"
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$vendor/dsfr/dsfr.min.css" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is missing: apt-get install -y nodejs npm" >&2; exit 1; }
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
rm -rf "$vendor"; mkdir -p "$vendor/dsfr/utility/icons" "$vendor/leaflet" "$vendor/socket.io"
dsfr=node_modules/@gouvfr/dsfr/dist
cp "$dsfr"/dsfr.min.css "$dsfr"/dsfr.module.min.js "$dsfr"/dsfr.nomodule.min.js "$vendor/dsfr/"
cp -r "$dsfr"/fonts "$dsfr"/icons "$dsfr"/favicon "$vendor/dsfr/"
cp "$dsfr"/utility/icons/icons.min.css "$vendor/dsfr/utility/icons/"
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$vendor/leaflet/"
cp -r node_modules/leaflet/dist/images "$vendor/leaflet/"
cp node_modules/socket.io-client/dist/socket.io.min.js "$vendor/socket.io/"
echo "$want" > "$stamp"
echo "assets copied into $vendor"
