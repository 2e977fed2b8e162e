# A local stand-in for the official rust:1.95-slim-bookworm image, for
# machines that can reach Debian's archive but no image registry: Debian's
# own Rust (rustc-web, cargo-web) on the locally made debian:bookworm-slim,
# with the crates of Cargo.lock already in CARGO_HOME, offline. The
# project's Dockerfile is built unchanged against it.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends rustc-web cargo-web gcc libc6-dev binutils ca-certificates \
    && rm -rf /var/lib/apt/lists/*
ENV CARGO_HOME=/usr/local/cargo \
    CARGO_NET_OFFLINE=true
COPY registry /usr/local/cargo/registry
RUN cargo --version && rustc --version
