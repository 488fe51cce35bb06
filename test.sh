#!/usr/bin/env bash
# The whole test suite: Rust unit and integration tests (the emulator over real HTTPS and OAuth),
# then Microsoft's own Python SDK run, unmodified, against the emulator.
set -euo pipefail
cd "$(dirname "$0")"
cargo test --workspace
# Microsoft's Python SDK, unmodified, against the emulator over HTTPS (installs its pinned
# packages into a venv under target/).
bash sdk-compat/run.sh
