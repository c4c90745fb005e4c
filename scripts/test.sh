#!/usr/bin/env bash
# Runs every test of the workspace: unit, integration, rule-case, doc tests and the examples.
#
# It does its own set-up on a fresh machine (nothing assumed beyond the Rust toolchain,
# Python with pip, and apt), and fails loudly when a part the tests need is missing:
# tests that need a server never skip.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

# Make sure rustfmt/clippy exist for .ci/run and for developers (no-op when present).
ensure_rust_components() {
    if command -v rustup >/dev/null 2>&1; then
        rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
        rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    fi
}

ensure_rust_components

log "unit, integration and rule-case tests"
cargo test --workspace --lib --bins --tests

log "doc tests (the READMEs' quick starts)"
cargo test --workspace --doc

log "examples"
cargo run --quiet --example quickstart >/dev/null
