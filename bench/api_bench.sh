#!/usr/bin/env bash
# The REST API benchmark of issue 4 on one database (sqlite or postgres):
#  1. directory import of the generated companies and 1,000,000 people with `leadbridge import`
#     (wall time, rows/s, peak RSS from /usr/bin/time);
#  2. 200 reps with 2,000 saved leads each (a quarter brought by a CRM opportunity, a third
#     matched to a CRM contact), then GET /api/v1/me/leads (the first 50-lead page) under 200
#     concurrent connections with wrk (latency percentiles).
# Usage: bench/api_bench.sh sqlite|postgres DIR_WITH_people.csv_AND_companies.csv
#   (make them with: bench/directory_gen.py --people 1000000 --companies DIR/companies.csv DIR/people.csv)
# Env: LEADBRIDGE_BIN (default $CARGO_TARGET_DIR/release/leadbridge), WRK_DURATION (default 30s),
#      LEADS_PER_REP (default 2000), PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail

backend="$1"
files="$(cd "$2" && pwd)"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LEADBRIDGE_BIN:-${CARGO_TARGET_DIR:-$repo_root/target}/release/leadbridge}"
duration="${WRK_DURATION:-30s}"
pg_admin="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
reps=200
leads_per_rep="${LEADS_PER_REP:-2000}"

work="$(mktemp -d)"
server_pid=""
pg_db=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    if [ -n "$pg_db" ]; then psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
cp "$bin" "$work/leadbridge"
lb() { "$work/leadbridge" "$@"; }
export LEADBRIDGE_DATA_DIR="$work/data"
export RUST_LOG=warn
mkdir -p "$LEADBRIDGE_DATA_DIR"

case "$backend" in
    sqlite)
        sql() { sqlite3 "$LEADBRIDGE_DATA_DIR/leadbridge.db" "$@"; }
        ;;
    postgres)
        pg_db="lb_bench_$$"
        psql -q "$pg_admin" -c "CREATE DATABASE $pg_db"
        export LEADBRIDGE_DATABASE_URL="${pg_admin%/*}/$pg_db"
        lb migrate
        sql() { psql -qtA "$LEADBRIDGE_DATABASE_URL" -c "$@"; }
        ;;
    *) echo "usage: $0 sqlite|postgres DIR" >&2; exit 2 ;;
esac

tenant="$(lb admin create-tenant --name Bench --seats 250 | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenant_id"])')"
echo "== import ($backend)"
for kind in companies people; do
    /usr/bin/time -f "%e s wall, %M KiB peak RSS" -o "$work/time.txt" \
        "$work/leadbridge" import --tenant "$tenant" --kind "$kind" "$files/$kind.csv" > "$work/import.json"
    rows="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["upserted"])' "$work/import.json")"
    wall="$(cut -d' ' -f1 "$work/time.txt")"
    echo "$kind: $rows rows, $(cat "$work/time.txt"), $(python3 -c "print(round($rows / $wall))") rows/s"
done

echo "== $reps reps with $leads_per_rep saved leads each"
password="bench password 123"
for i in $(seq 1 "$reps"); do
    echo "$password" | lb admin create-user --tenant "$tenant" --email "rep$i@bench.test" \
        --name "Rep $i" --seat --password-stdin >/dev/null
done
# Saved leads go in with SQL: seeding, not what is measured. Each rep's leads were saved a second
# apart; a quarter carry the CRM opportunity that brought them, a third are matched in the CRM.
now_ms="$(date +%s%3N)"
sql "INSERT INTO saved_leads (tenant_id, seat_id, person_id, by_hand, saved_at)
     SELECT s.tenant_id, s.id, p.id, TRUE, $now_ms - 1000 * (p.n % $leads_per_rep)
     FROM (SELECT tenant_id, id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS n FROM seats WHERE tenant_id = '$tenant') s
     JOIN (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS n FROM people WHERE tenant_id = '$tenant'
           ORDER BY id LIMIT $((reps * leads_per_rep))) p
       ON p.n / $leads_per_rep = s.n"
sql "INSERT INTO saved_lead_reasons (tenant_id, seat_id, person_id, opportunity_id, stage)
     SELECT tenant_id, seat_id, person_id, person_id, 3 FROM saved_leads
     WHERE tenant_id = '$tenant' AND substr(person_id, 1, 1) IN ('0', '1', '2', '3')"
sql "INSERT INTO person_matches (tenant_id, person_id, crm_table, crm_id, confidence, origin, explanation, updated_at)
     SELECT tenant_id, person_id, 'contact', person_id, 100, 'exact', 'same email', $now_ms FROM saved_leads
     WHERE tenant_id = '$tenant' AND substr(person_id, 2, 1) IN ('a', 'b', 'c', 'd', 'e')"
echo "saved leads: $(sql "SELECT COUNT(*) FROM saved_leads")"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
base="http://127.0.0.1:$port"
"$work/leadbridge" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -fsS "$base/api/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
: > "$work/tokens"
for i in $(seq 1 "$reps"); do
    curl -fsS -X POST "$base/api/v1/auth/token" -H 'content-type: application/json' \
        -d "{\"email\":\"rep$i@bench.test\",\"password\":\"$password\"}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' >> "$work/tokens"
done
first="$(head -1 "$work/tokens")"
curl -fsS "$base/api/v1/me/leads" -H "Authorization: Bearer $first" \
    | python3 -c 'import json,sys; p=json.load(sys.stdin); print("one page:", len(p["items"]), "leads, next_cursor", "next_cursor" in p)'

echo "== GET /api/v1/me/leads, 200 connections, $duration ($backend)"
TOKENS="$work/tokens" wrk -t2 -c200 -d"$duration" --timeout 10s --latency \
    -s "$repo_root/bench/me_leads.lua" "$base" | tail -8
echo "server peak RSS: $(grep VmHWM /proc/$server_pid/status | awk '{print $2, $3}')"
