#!/bin/sh
# Debian packages the tests run for real: postgresql (feedback storage), chromium (SMART app) and
# haproxy (the load balancer in front of three replicas, test/integration/replicas-haproxy.test.ts).
# Run by `npm test` (pretest) and by .ci/run. Installs what is missing when run as root with
# apt-get; otherwise says exactly what to install. TEST_DATABASE_URL / CHROMIUM_PATH skip a check.
set -eu
need=""
if [ -z "${TEST_DATABASE_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need="$need postgresql"; fi
if [ -z "${CHROMIUM_PATH:-}" ] && [ ! -x /usr/bin/chromium ]; then need="$need chromium"; fi
if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then need="$need haproxy"; fi
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian packages the tests need:$need"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
  echo "Installed:$need"
else
  echo "The tests need Debian packages that are missing:$need" >&2
  echo "Install them with: sudo apt-get install$need (or set TEST_DATABASE_URL / CHROMIUM_PATH)" >&2
  exit 1
fi
