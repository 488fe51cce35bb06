#!/usr/bin/env bash
# Runs Microsoft's Dataverse Python SDK, unmodified, against a freshly started leadbridge emulator.
# Usage: sdk-compat/run.sh [extra pytest args]. Exits with pytest's status.
# Env: SDK_VENV (default target/sdk-venv), CARGO_TARGET_DIR, PYTHON (default python3),
#      LEADBRIDGE_BIN (use this binary instead of building), KEEP_STATE=1 (keep the temp state dir).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
compat_dir="$repo_root/sdk-compat"

venv="${SDK_VENV:-target/sdk-venv}"
case "$venv" in /*) ;; *) venv="$repo_root/$venv" ;; esac
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "sdk-compat: creating venv $venv" >&2
    "$python" -m venv "$venv"
fi
# Reinstall only when requirements.txt changed, so CI caches of the venv stay useful.
req_hash="$(sha256sum "$compat_dir/requirements.txt" | cut -d' ' -f1)"
if [ "$(cat "$venv/.sdk-compat-requirements" 2>/dev/null || true)" != "$req_hash" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$compat_dir/requirements.txt"
    echo "$req_hash" > "$venv/.sdk-compat-requirements"
fi

if [ -n "${LEADBRIDGE_BIN:-}" ]; then
    bin="$LEADBRIDGE_BIN"
else
    cargo build -p leadbridge
    target_dir="${CARGO_TARGET_DIR:-target}"
    case "$target_dir" in /*) ;; *) target_dir="$repo_root/$target_dir" ;; esac
    bin="$target_dir/debug/leadbridge"
fi
if [ ! -x "$bin" ]; then
    echo "sdk-compat: no executable leadbridge binary at $bin" >&2
    exit 1
fi

port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
state_dir="$(mktemp -d "${TMPDIR:-/tmp}/leadbridge-sdk-compat.XXXXXX")"
emulator_json="$state_dir/emulator.json"
log="$state_dir/emulator.log"
emulator_pid=""

cleanup() {
    local status=$?
    if [ -n "$emulator_pid" ] && kill -0 "$emulator_pid" 2>/dev/null; then
        kill "$emulator_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$emulator_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$emulator_pid" 2>/dev/null || true
        wait "$emulator_pid" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ] && [ -f "$log" ]; then
        echo "sdk-compat: last lines of the emulator log ($log):" >&2
        tail -n 40 "$log" >&2 || true
    fi
    if [ "${KEEP_STATE:-0}" = "1" ]; then
        echo "sdk-compat: state kept in $state_dir" >&2
    else
        rm -rf "$state_dir"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$bin" emulator --listen "127.0.0.1:$port" --state-dir "$state_dir" --seed small >"$log" 2>&1 &
emulator_pid=$!

# emulator.json may appear before it is fully written: wait until it parses and names a CA file.
ready=0
for _ in $(seq 1 600); do
    if ! kill -0 "$emulator_pid" 2>/dev/null; then
        echo "sdk-compat: the emulator exited before it was ready" >&2
        exit 1
    fi
    if [ -s "$emulator_json" ] && "$venv/bin/python" - "$emulator_json" <<'PY' 2>/dev/null
import json, os, sys
info = json.load(open(sys.argv[1], encoding="utf-8"))
sys.exit(0 if info.get("org_url") and os.path.isfile(info.get("ca_cert", "")) else 1)
PY
    then
        ready=1
        break
    fi
    sleep 0.1
done
if [ "$ready" -ne 1 ]; then
    echo "sdk-compat: $emulator_json did not appear within 60 s" >&2
    exit 1
fi

export LEADBRIDGE_EMULATOR_JSON="$emulator_json"
REQUESTS_CA_BUNDLE="$("$venv/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1], encoding="utf-8"))["ca_cert"])' "$emulator_json")"
export REQUESTS_CA_BUNDLE

set +e
(cd "$compat_dir" && "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@")
status=$?
set -e
exit "$status"
