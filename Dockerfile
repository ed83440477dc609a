# Multi-stage image of the server and its site. No Docker engine runs on our build machines,
# so this file is not exercised by `make test`; keep it simple and in step with scripts/setup.sh.
FROM rust:1.95-bookworm AS build
# libxmlsec1-dev and libclang-dev: SAML's XML signatures (samael builds against libxmlsec1).
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm \
    libxml2-dev libxmlsec1-dev libclang-dev pkg-config libssl-dev && rm -rf /var/lib/apt/lists/*
RUN rustup target add wasm32-unknown-unknown \
 && cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
RUN cargo install wasm-bindgen-cli --version "$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)"
COPY package.json package-lock.json ./
RUN PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --omit=dev --no-audit --no-fund \
 && npm install --no-save binaryen@132.0.0
COPY . .
RUN cp node_modules/echarts/dist/echarts.min.js public/ \
 && PATH="$PWD/node_modules/.bin:$PATH" cargo leptos build --release

FROM debian:bookworm-slim
# postgresql: only for the embedded default; production sets DATABASE_URL. chromium and a
# font: printing dashboards and scheduled reports to PDF (headless, no network).
# libxmlsec1-openssl: checking SAML identity providers' signatures.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl postgresql \
    chromium fonts-dejavu-core tini libxmlsec1 libxmlsec1-openssl libxml2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 devpulse \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /var/lib/devpulse devpulse
WORKDIR /var/lib/devpulse
COPY --from=build /src/target/release/server /usr/local/bin/devpulse-server
COPY --from=build /src/target/site /usr/share/devpulse/site
# Production by default: listening on every address, so no demo accounts, Secure cookies, and
# the operator must supply DEVPULSE_JWT_KEYS (the server says so and stops without it).
ENV DEVPULSE_ENV=production HOST=0.0.0.0 PORT=3000 OTLP_GRPC_PORT=4317 LOG_FORMAT=json \
    DEVPULSE_SITE_ROOT=/usr/share/devpulse/site DEVPULSE_DATA_DIR=/var/lib/devpulse/data
USER 10001
EXPOSE 3000 4317
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s CMD curl -fsS http://127.0.0.1:3000/healthz || exit 1
# tini reaps what the server's children leave (a PDF print's browser helpers).
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/devpulse-server"]
CMD ["serve"]
