#!/usr/bin/env bash
# Runs every test of the workspace: unit, integration, rule-case, doc tests and the examples.
#
# It does its own set-up on a fresh machine (nothing assumed beyond the Rust toolchain,
# Python with pip, and apt), and fails loudly when a part the tests need is missing:
# tests that need a server never skip.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

# What to undo on exit (servers started, scratch directories), run in order.
on_exit=()
cleanup() { for action in "${on_exit[@]}"; do eval "$action" || true; done; }
trap cleanup EXIT

# --- Python tools for pacbot-autofix's tests (kept apart from the moto set-up) ---
# aiosmtpd: the SMTP server the notifier tests start on a loopback port.
# Installed with pip when missing; the tests fail (never skip) without it.
AIOSMTPD_VERSION=1.4.6
ensure_python_tools() {
    if ! python3 -c "import aiosmtpd" 2>/dev/null; then
        log "installing aiosmtpd==$AIOSMTPD_VERSION with pip"
        python3 -m pip install --quiet "aiosmtpd==$AIOSMTPD_VERSION"
    fi
}
ensure_python_tools
# --- end of the Python tools for pacbot-autofix ---

# Make sure rustfmt/clippy exist for .ci/run and for developers (no-op when present).
ensure_rust_components() {
    if command -v rustup >/dev/null 2>&1; then
        rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
        rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    fi
}

# PostgreSQL for pacbot-store's `postgres` tests: the server named by
# PACBOT_TEST_POSTGRES_URL, or one at 127.0.0.1:5432 that the postgres user can
# reach without a password. Started when installed but stopped, installed with
# apt when absent. The tests themselves fail (never skip) when it is missing.
pg_answers() {
    if [ -n "${PACBOT_TEST_POSTGRES_URL:-}" ]; then
        psql "$PACBOT_TEST_POSTGRES_URL" -Atqc 'select 1' >/dev/null 2>&1
    else
        psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1
    fi
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -n -u postgres "$@"; fi
}

ensure_postgres() {
    if command -v psql >/dev/null 2>&1 && pg_answers; then
        return
    fi
    if [ -n "${PACBOT_TEST_POSTGRES_URL:-}" ]; then
        echo "PACBOT_TEST_POSTGRES_URL=$PACBOT_TEST_POSTGRES_URL does not answer" >&2
        exit 1
    fi
    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
        log "installing PostgreSQL with apt"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client >/dev/null
    fi
    if ! ls /etc/postgresql/*/main/postgresql.conf >/dev/null 2>&1; then
        log "creating a PostgreSQL cluster"
        version=$(ls /usr/lib/postgresql | sort -V | tail -n1)
        as_root pg_createcluster "$version" main
    fi
    log "starting PostgreSQL"
    for conf in /etc/postgresql/*/main; do
        version=$(basename "$(dirname "$conf")")
        as_root pg_ctlcluster "$version" main start 2>/dev/null || true
    done
    for _ in $(seq 1 30); do
        psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1 && return
        # The server runs but refuses a password-less login over TCP: let the
        # postgres user in from loopback only (a test machine's server).
        if as_postgres psql -Atqc 'select 1' >/dev/null 2>&1; then
            for hba in /etc/postgresql/*/main/pg_hba.conf; do
                if ! grep -q '^# pacbot-rs tests' "$hba"; then
                    log "trusting loopback connections in $hba"
                    tmp=$(mktemp)
                    {
                        echo '# pacbot-rs tests: trust the postgres user on loopback'
                        echo 'host all postgres 127.0.0.1/32 trust'
                        echo 'host all postgres ::1/128 trust'
                        as_root cat "$hba"
                    } >"$tmp"
                    as_root cp "$tmp" "$hba"
                    rm -f "$tmp"
                    as_postgres psql -Atqc 'select pg_reload_conf()' >/dev/null
                fi
            done
        fi
        sleep 1
    done
    echo "PostgreSQL does not answer at 127.0.0.1:5432 as user postgres" >&2
    exit 1
}

# moto (an AWS API emulator) for pacbot-aws's tests: installed with pip
# (pinned) when missing, started on a free loopback port for this run and
# stopped on exit; its URL is PACBOT_TEST_MOTO_URL. The tests fail (never
# skip) when it does not answer.
MOTO_VERSION=5.2.5
ensure_moto() {
    if [ -n "${PACBOT_TEST_MOTO_URL:-}" ]; then
        return
    fi
    if ! python3 -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null \
        || ! command -v moto_server >/dev/null 2>&1; then
        log "installing moto[server]==$MOTO_VERSION with pip"
        python3 -m pip install --quiet "moto[server]==$MOTO_VERSION"
    fi
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    log "starting moto_server on 127.0.0.1:$port"
    MOTO_IAM_LOAD_MANAGED_POLICIES=true moto_server -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/pacbot-moto-$port.log" 2>&1 &
    MOTO_PID=$!
    on_exit+=('kill "$MOTO_PID" 2>/dev/null')
    export PACBOT_TEST_MOTO_URL="http://127.0.0.1:$port"
    for _ in $(seq 1 60); do
        if python3 -c "import urllib.request; urllib.request.urlopen('$PACBOT_TEST_MOTO_URL/moto-api/data.json', timeout=2)" 2>/dev/null; then
            return
        fi
        sleep 0.5
    done
    echo "moto_server does not answer at $PACBOT_TEST_MOTO_URL (log: ${TMPDIR:-/tmp}/pacbot-moto-$port.log)" >&2
    exit 1
}

# Headless Chromium and its WebDriver for the dashboard's browser test
# (tests/dashboard_browser.rs): installed with apt when absent. The test fails
# (never skips) without them.
ensure_chromium() {
    if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
        return
    fi
    log "installing Chromium and chromium-driver with apt"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
}

ensure_rust_components
ensure_postgres
ensure_chromium
ensure_moto
# The scanner's AWS-source test runs the connector's standard credential
# chain against moto, which accepts any key.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"

log "unit, integration and rule-case tests (all features: SQLite and PostgreSQL)"
cargo test --workspace --all-features --lib --bins --tests

log "doc tests (the READMEs' quick starts)"
cargo test --workspace --all-features --doc

# Every benchmark once, at its smallest size (the AWS discovery bench needs moto,
# which runs only here): they must build and run; their figures are `cargo bench`'s.
log "benchmarks, each run once"
cargo test --workspace --all-features --benches

log "examples"
cargo run --quiet --example quickstart >/dev/null

# The provider crates build without their connectors (the packs and shapes the
# facade always has), and the quick start builds no cloud SDK.
log "provider crates without their connectors"
cargo check --quiet -p pacbot-aws --no-default-features
cargo check --quiet -p pacbot-azure --no-default-features
# (Examples build with the normal and dev dependencies of the facade.)
if cargo tree -p pacbot -e normal,dev --prefix none | grep -Eq '^(aws-sdk-|aws-config |azure_core |azure_mgmt_)'; then
    echo "the scanner example with default features depends on a cloud SDK" >&2
    exit 1
fi

# The README's quick start, as a newcomer runs it (a debug build here: the
# release build the README suggests is only faster), into a scratch data
# directory: two demo scans, then the fixed estate, then a report.
log "the scanner's quick start"
scanner_dir=$(mktemp -d)
on_exit+=('rm -rf "$scanner_dir"')
scanner() { env -u PACBOT_DB -u PACBOT_CONFIG PACBOT_DATA_DIR="$scanner_dir" cargo run --quiet --example scanner -- --no-progress "$@"; }
scanner scan --demo >"$scanner_dir/first.txt"
scanner scan --demo >"$scanner_dir/second.txt"
grep -q '^Violations: 0 opened' "$scanner_dir/second.txt" || { echo "a second demo scan opened violations" >&2; exit 1; }
scanner scan --demo fixed >"$scanner_dir/fixed.txt"
grep -Eq 'closed as fixed' "$scanner_dir/fixed.txt"
scanner report --format html --output "$scanner_dir/report.html" >/dev/null
status=0
scanner scan --demo --fail-on critical >/dev/null || status=$?
[ "$status" = 1 ] || { echo "scan --fail-on critical exited $status, not 1" >&2; exit 1; }

# The scanner against moto as a user points it at an emulator: no endpoint in
# the configuration, only `AWS_ENDPOINT_URL` and dummy credentials. (moto is
# emptied first; its default VPCs, groups and the IAM account remain.)
log "the scanner against moto through AWS_ENDPOINT_URL"
python3 -c "import urllib.request; urllib.request.urlopen(urllib.request.Request('$PACBOT_TEST_MOTO_URL/moto-api/reset', method='POST'), timeout=10)"
cat >"$scanner_dir/aws.toml" <<TOML
[[sources]]
type = "aws"
regions = ["us-east-1", "eu-west-1"]

[policies]
packs = ["aws"]
TOML
status=0
AWS_ENDPOINT_URL="$PACBOT_TEST_MOTO_URL" env -u PACBOT_DB -u PACBOT_CONFIG PACBOT_DATA_DIR="$scanner_dir" \
    cargo run --quiet --features aws --example scanner -- --no-progress --db "$scanner_dir/aws.db" \
    scan --config "$scanner_dir/aws.toml" >"$scanner_dir/aws.txt" || status=$?
[ "$status" = 0 ] || { cat "$scanner_dir/aws.txt" >&2; echo "the scan of moto exited $status" >&2; exit 1; }
grep -Eq '^Scan 1 \(scan\) complete: [1-9][0-9]* assets' "$scanner_dir/aws.txt" \
    || { cat "$scanner_dir/aws.txt" >&2; echo "the scan of moto was not complete" >&2; exit 1; }
