#!/usr/bin/env bash
# Install the Debian packages a command needs, only those missing (idempotent, quiet when done).
# Usage: scripts/system_packages.sh run|test|stack
# `run` needs Python's venv module and Node.js/npm (front-end assets); `test` also needs a
# PostgreSQL server, a Redis server (Socket.IO message queue), Chromium (browser tests) and
# LibreOffice (reports open in it); `stack` (make stack, the failure drills) needs nginx,
# PostgreSQL (server and client tools: pg_basebackup, pg_dump) and Redis.
# Runs apt-get as root, or through sudo when available.
set -euo pipefail
want=(python3-venv nodejs npm)
[ "${1:-run}" = test ] && want+=(postgresql redis-server chromium libreoffice nginx)
[ "${1:-run}" = stack ] && want+=(postgresql redis-server nginx)

missing=()
for pkg in "${want[@]}"; do
  case $pkg in
    python3-venv) python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=("python3-venv") ;;
    nodejs) command -v node >/dev/null || missing+=("nodejs") ;;
    npm) command -v npm >/dev/null || missing+=("npm") ;;
    postgresql) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=("postgresql") ;;
    redis-server) command -v redis-server >/dev/null || missing+=("redis-server") ;;
    nginx) [ -x /usr/sbin/nginx ] || missing+=("nginx") ;;
    chromium) [ -x /usr/bin/chromium ] || missing+=("chromium") ;;
    libreoffice) command -v soffice >/dev/null || missing+=("libreoffice-writer-nogui" "libreoffice-calc-nogui") ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
  echo "Missing Debian packages: ${missing[*]} (run as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's postgresql package starts a cluster on port 5432; the tests use their own.
# Debian's nginx package starts a server on port 80; the stack runs its own on loopback.
if [[ " ${missing[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null; then
  "${sudo[@]}" systemctl disable --now nginx >/dev/null 2>&1 || true
fi
