#!/usr/bin/env bash
# Installs what devpulse needs to build, run and test, and nothing that is already there.
# Idempotent and quick when everything is present; run by `make run` and `make test`.
# Every install says what it installs; a registry that cannot be reached stops the set-up
# with a message naming it.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || die "Rust is not installed: install it with rustup (https://rustup.rs), then run this again."
command -v rustup >/dev/null || die "rustup is needed to add the wasm32 target."
export PATH="$HOME/.cargo/bin:$PATH"

# --- Rust pieces ------------------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "installing the Rust target wasm32-unknown-unknown (rustup)"
  rustup target add wasm32-unknown-unknown || die "rustup could not download the wasm32 target (is the network up?)"
fi

if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION from crates.io (takes ~13 min on 2 cores, once)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads \
    || die "cargo install cargo-leptos failed (is crates.io reachable?)"
fi

# The CLI must equal the wasm-bindgen crate in Cargo.lock exactly.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
[ -n "$WB_VERSION" ] || die "cannot find wasm-bindgen in Cargo.lock"
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
  say "installing wasm-bindgen-cli $WB_VERSION from crates.io (matches Cargo.lock)"
  # Not --locked: its lockfile names a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --force \
    || die "cargo install wasm-bindgen-cli failed (is crates.io reachable?)"
fi

# --- Debian packages --------------------------------------------------------------------
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v pg_ctl >/dev/null || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# pdftotext: the report tests read the PDFs Chromium prints.
command -v pdftotext >/dev/null || missing+=(poppler-utils)
command -v redis-server >/dev/null || missing+=(redis-server)
# PgBouncer: the pooler test runs every query shape through it in transaction mode.
[ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
# SAML: samael verifies XML signatures with libxmlsec1 (its headers and bindgen's libclang
# are needed to build it).
for pkg in libxml2-dev libxmlsec1-dev libclang-dev pkg-config libssl-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    die "missing Debian packages: ${missing[*]} (install them as root)"
  fi
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  say "installing Debian packages: ${missing[*]} (apt-get)"
  $SUDO apt-get update -qq || die "apt-get update failed (are Debian's package mirrors reachable?)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

# --- npm packages: ECharts (served from public/), Playwright (tests), binaryen (wasm-opt) --
command -v npm >/dev/null || die "Node.js and npm are needed (Debian: apt-get install nodejs npm)"
stamp=node_modules/.devpulse-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing npm packages from package-lock.json (echarts, @playwright/test, binaryen, oidc-provider and samlify for the single sign-on tests); no browser download"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error \
    || die "npm ci failed (is the npm registry reachable?)"
  echo "$want" > "$stamp"
fi
if ! cmp -s node_modules/echarts/dist/echarts.min.js public/echarts.min.js; then
  say "copying ECharts into public/"
  cp node_modules/echarts/dist/echarts.min.js public/echarts.min.js
fi

# --- Python: the real OpenTelemetry SDK and MCP client, the clients of the OTLP and MCP tests -----------------------
venv=.data/venv-py
req=server/tests/python/requirements.txt
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ "$(cat "$venv/.devpulse-req.sha" 2>/dev/null)" != "$want" ]; then
  say "installing the OpenTelemetry SDK and the MCP client into $venv (PyPI)"
  mkdir -p .data && rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" \
    || die "pip install -r $req failed (is PyPI reachable?)"
  echo "$want" > "$venv/.devpulse-req.sha"
fi
