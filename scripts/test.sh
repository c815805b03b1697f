#!/usr/bin/env bash
# Install Couponry with its test tools, make sure PostgreSQL and Redis run, then run the whole test
# suite twice: on SQLite (the default) and on PostgreSQL. Usage: ./scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

# The browser tests (tests/browser) drive Debian's Chromium through Playwright; never `playwright install`.
if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null 2>&1 || true
fi

PG_URL="${COUPONRY_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}"
export COUPONRY_TEST_POSTGRES_URL="$PG_URL"

echo "== tests on SQLite"
python3 -m pytest -n 2 -q "$@"
echo "== tests on PostgreSQL"
COUPONRY_TEST_DATABASE_URL="$PG_URL" python3 -m pytest -n 2 -q "$@"
