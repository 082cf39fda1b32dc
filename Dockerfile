# Two stages: build the release binary with the Rust toolchain, then run it on a slim Debian
# with only the PostgreSQL client library (SQLite is compiled into the binary).
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY migrations migrations
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/convene --create-home convene
COPY --from=build /src/target/release/convene /usr/local/bin/convene
USER convene
WORKDIR /var/lib/convene
# The SQLite default lives in the working directory; mount a volume here to keep it.
ENV BIND=0.0.0.0:8080 RUST_LOG=info
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health/ready || exit 1
ENTRYPOINT ["convene"]
CMD ["serve"]
