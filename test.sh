#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests (the emulator over real HTTPS and OAuth),
# then Microsoft's own Python SDK run, unmodified, against the emulator, then schemathesis against
# the REST API's own OpenAPI document.
set -euo pipefail
cd "$(dirname "$0")"
cargo test --workspace
# Microsoft's Python SDK, unmodified, against the emulator over HTTPS (installs its pinned
# packages into a venv under target/).
bash sdk-compat/run.sh
# Schemathesis fuzzes every operation of /api/v1/openapi.json against a real server (installs its
# pinned packages into a venv under target/).
bash api-check/run.sh
