#!/usr/bin/env bash
# Delivery benchmark: Gazette's send rate into Postfix's smtp-sink against
# smtp-source's rate into the same sink at the same concurrency and message
# size, on SQLite and on PostgreSQL (also with VERP on:
# `delivery_verp_ratio_vs_smtp_source`), then the DKIM-signed (RSA-2048)
# rate against `openssl speed -multi 2 rsa2048`.
#
#   bench/delivery/run.sh [ROWS] [BACKENDS]
#
# ROWS defaults to 100000; BACKENDS to "sqlite postgres". Needs psql and
# createdb (PostgreSQL at 127.0.0.1:5432, user postgres), sqlite3, openssl,
# /usr/bin/time, and Debian's postfix package, which is downloaded and
# unpacked (not installed) on first use.
# --smoke: a small run on the debug binary (target/debug/gazette, or
# GAZETTE_BIN), as CI runs it; it checks that the bench still works, not
# its goal.
set -euo pipefail
cd "$(dirname "$0")/../.."
SMOKE=0
if [[ "${1:-}" == "--smoke" ]]; then SMOKE=1; shift; fi

ROWS=${1:-100000}
((SMOKE)) && ROWS=300
BACKENDS=${2:-"sqlite postgres"}
CONCURRENCY=${CONCURRENCY:-8}
STORIES=${STORIES:-17}
SINK_PORT=${SINK_PORT:-25250}
PG_ADMIN=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
WORK=$(mktemp -d /tmp/gazette-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

# --- Postfix's smtp-sink and smtp-source, without installing the MTA -------
POSTFIX=${POSTFIX_DIR:-/tmp/postfix-x}
if [[ ! -x $POSTFIX/usr/sbin/smtp-sink ]]; then
  echo "fetching postfix (smtp-sink, smtp-source)"
  (cd "$WORK" && apt-get download postfix >/dev/null && dpkg -x postfix_*.deb "$POSTFIX")
fi
export LD_LIBRARY_PATH=$POSTFIX/usr/lib/postfix
missing=$(ldd "$POSTFIX/usr/sbin/smtp-sink" "$POSTFIX/usr/sbin/smtp-source" | grep "not found" || true)
if [[ -n $missing ]]; then
  echo "smtp-sink needs libraries that are missing: $missing"
  echo "install them with apt-get (postfix's dependencies: libdb5.3, libicu, libnsl2, libssl3)"
  exit 1
fi
SINK=$POSTFIX/usr/sbin/smtp-sink
SOURCE=$POSTFIX/usr/sbin/smtp-source

if ((SMOKE)); then
  GAZETTE=${GAZETTE_BIN:-$PWD/target/debug/gazette}
elif [[ -n ${GAZETTE_BIN:-} ]]; then
  GAZETTE=$GAZETTE_BIN
else
  cargo build --release --quiet
  GAZETTE=$PWD/target/release/gazette
fi

start_sink() {
  "$SINK" -u nobody 127.0.0.1:$SINK_PORT 1024 >"$WORK/sink.log" 2>&1 &
  SINK_PID=$!
  sleep 0.5
}
stop_sink() { kill "$SINK_PID" 2>/dev/null || true; wait "$SINK_PID" 2>/dev/null || true; }

# Runs one query and prints the value.
query() {
  local backend=$1 sql=$2
  if [[ $backend == sqlite ]]; then
    sqlite3 "$WORK/bench.db" "$sql"
  else
    psql -qtA "${PG_ADMIN%/*}/gazette_bench" -c "$sql"
  fi
}

reset_database() {
  local backend=$1
  rm -f "$WORK"/bench.db*
  if [[ $backend == sqlite ]]; then
    export DATABASE_URL="sqlite://$WORK/bench.db"
  else
    psql -qtA "$PG_ADMIN" -c "DROP DATABASE IF EXISTS gazette_bench WITH (FORCE)" >/dev/null
    psql -qtA "$PG_ADMIN" -c "CREATE DATABASE gazette_bench" >/dev/null
    export DATABASE_URL="${PG_ADMIN%/*}/gazette_bench"
  fi
  (cd "$WORK" && "$GAZETTE" migrate >/dev/null)
  sed -e "s/:rows/$ROWS/" -e "s/:stories/$STORIES/" bench/delivery/seed.sql >"$WORK/seed.sql"
  if [[ $backend == sqlite ]]; then
    sqlite3 "$WORK/bench.db" <"$WORK/seed.sql"
  else
    psql -q "$DATABASE_URL" -f "$WORK/seed.sql" >/dev/null
    psql -q "$DATABASE_URL" -c "ANALYZE" >/dev/null
  fi
}

# CPU clock ticks used so far by process $1.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# Sends every seeded row with Gazette; prints "RATE PEAK_RSS_KB SENT
# GAZETTE_US SINK_US", the last two the CPU microseconds a message of
# Gazette (its whole run, start-up included) and of the sink.
run_gazette() {
  local backend=$1; shift
  local started ended sink0
  sink0=$(ticks "$SINK_PID")
  started=$(date +%s.%N)
  (cd "$WORK" && env GAZETTE__SERVER__PORT=0 \
      GAZETTE__MAIL__TRANSPORT=smtp \
      GAZETTE__MAIL__FROM__ADDRESS=newsletter@example.org \
      GAZETTE__SITE__POSTAL_ADDRESS="1 Example Street, Bamako, Mali" \
      GAZETTE__MAIL__SMTP__HOST=127.0.0.1 \
      GAZETTE__MAIL__SMTP__PORT=$SINK_PORT \
      GAZETTE__MAIL__SMTP__TLS=none \
      GAZETTE__MAIL__SMTP__POOL_SIZE=$CONCURRENCY \
      GAZETTE__MAIL__CONCURRENCY=$CONCURRENCY \
      GAZETTE__MAIL__RATE_PER_SECOND=1000000 \
      GAZETTE__LOG__LEVEL=warn \
      "$@" \
      /usr/bin/time -v -o "$WORK/time.txt" "$GAZETTE" serve >"$WORK/gazette.log" 2>&1) &
  local runner=$!
  while :; do
    local left
    # the trigger-kept counters, not a COUNT over the queue: the poll runs
    # five times a second beside Gazette and must cost it nothing
    left=$(query "$backend" "SELECT COALESCE(SUM(pending + sending), 0) FROM issue_counts")
    [[ $left == 0 ]] && break
    if ! kill -0 $runner 2>/dev/null; then
      echo "gazette stopped early:" >&2; tail -5 "$WORK/gazette.log" >&2; exit 1
    fi
    sleep 0.2
  done
  ended=$(date +%s.%N)
  local sink_ticks=$(($(ticks "$SINK_PID") - sink0))
  pkill -TERM -P "$(pgrep -P $runner -f /usr/bin/time || echo 0)" 2>/dev/null || true
  pkill -TERM -f "^$GAZETTE serve" 2>/dev/null || true
  wait $runner 2>/dev/null || true
  local sent rss cpu
  sent=$(query "$backend" "SELECT COUNT(*) FROM deliveries WHERE status = 'sent'")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
  cpu=$(awk -F': ' '/User time|System time/ {t += $2} END {print t}' "$WORK/time.txt")
  awk -v n="$sent" -v a="$started" -v b="$ended" -v r="$rss" -v c="$cpu" -v k="$sink_ticks" -v hz="$CLK_TCK" \
    'BEGIN {printf "%.1f %d %d %.0f %.0f\n", n/(b-a), r, n, c*1e6/n, k*1e6/hz/n}'
}

# The size of the messages Gazette sent, from a sample rendered by the file transport.
message_size() {
  local backend=$1
  (cd "$WORK" && env GAZETTE__SERVER__PORT=0 GAZETTE__MAIL__TRANSPORT=file \
      GAZETTE__MAIL__OUTBOX_DIR="$WORK/sample" GAZETTE__LOG__LEVEL=warn \
      timeout 3 "$GAZETTE" serve >/dev/null 2>&1 || true)
  local file
  file=$(ls "$WORK"/sample/*.eml 2>/dev/null | head -1)
  if [[ -n $file ]]; then stat -c %s "$file"; else echo 40000; fi
}

openssl genrsa -out "$WORK/dkim.pem" 2048 2>/dev/null
OPENSSL_SIGN=$(openssl speed -seconds "$( ((SMOKE)) && echo 1 || echo 3)" -multi 2 rsa2048 2>/dev/null \
  | awk '/^rsa 2048 bits/ || /^rsa2048/ {print $(NF-1); exit}')

for backend in $BACKENDS; do
  echo "== $backend: $ROWS digest rows, concurrency $CONCURRENCY"
  # one row sent to files gives the real message size for smtp-source
  ROWS_SAVED=$ROWS; ROWS=1; reset_database "$backend"; SIZE=$(message_size "$backend"); ROWS=$ROWS_SAVED
  echo "message size: $SIZE bytes"
  reset_database "$backend"
  start_sink
  read -r RATE RSS SENT GAZETTE_US SINK_US < <(run_gazette "$backend")
  stop_sink
  echo "gazette: $SENT messages, $RATE msg/s, peak RSS $((RSS / 1024)) MB"
  echo "CPU a message: gazette $GAZETTE_US us, smtp-sink $SINK_US us"
  start_sink
  t0=$(date +%s.%N)
  "$SOURCE" -d -s "$CONCURRENCY" -l "$SIZE" -m "$ROWS" -f newsletter@example.org \
    -t reader@example.net 127.0.0.1:$SINK_PORT
  t1=$(date +%s.%N)
  stop_sink
  SOURCE_RATE=$(awk -v n="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", n/(b-a)}')
  echo "smtp-source: $ROWS messages, $SOURCE_RATE msg/s"

  # The same with VERP on: each message's Return-Path names its delivery.
  reset_database "$backend"
  start_sink
  read -r VRATE VRSS VSENT VGAZETTE_US VSINK_US < <(run_gazette "$backend" \
    GAZETTE__MAIL__BOUNCE__DOMAIN=bounces.example.org)
  stop_sink
  echo "gazette with VERP: $VSENT messages, $VRATE msg/s, peak RSS $((VRSS / 1024)) MB, CPU a message $VGAZETTE_US us"

  reset_database "$backend"
  start_sink
  read -r DRATE DRSS DSENT DGAZETTE_US DSINK_US < <(run_gazette "$backend" \
    GAZETTE__MAIL__DKIM__DOMAIN=example.org GAZETTE__MAIL__DKIM__SELECTOR=bench \
    GAZETTE__MAIL__DKIM__PRIVATE_KEY_PATH="$WORK/dkim.pem")
  stop_sink
  echo "gazette with RSA-2048 DKIM: $DSENT messages, $DRATE msg/s, peak RSS $((DRSS / 1024)) MB"
  echo "CPU a signed message: gazette $DGAZETTE_US us, smtp-sink $DSINK_US us"
  echo "openssl speed -multi 2 rsa2048: $OPENSSL_SIGN sign/s"
  # Signing and sending share the two cores: a message costs a signature
  # (2/OPENSSL_SIGN core-seconds) plus what the unsigned run spent on it
  # (2/RATE, Gazette, the sink and the kernel together), so the signed
  # rate cannot pass OPENSSL_SIGN * RATE / (OPENSSL_SIGN + RATE), and the
  # ratio cannot pass RATE / (OPENSSL_SIGN + RATE).
  awk -v u="$RATE" -v s="$OPENSSL_SIGN" -v d="$DRATE" \
    'BEGIN {printf "dkim ceiling on these two cores: %.2f (Gazette reaches %.0f %% of it)\n", u/(s+u), 100*d*(s+u)/(s*u)}'
  awk -v a="$DRATE" -v b="$OPENSSL_SIGN" 'BEGIN {printf "dkim_rate_ratio_vs_openssl_sign: %.2f\n", a/b}'
  awk -v a="$RATE" -v b="$SOURCE_RATE" 'BEGIN {printf "delivery_ratio_vs_smtp_source: %.2f\n", a/b}'
  awk -v a="$VRATE" -v b="$SOURCE_RATE" 'BEGIN {printf "delivery_verp_ratio_vs_smtp_source: %.2f\n", a/b}'
done
