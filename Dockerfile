# mcp-commander container image.
#
# Build stage: a locked release build (Cargo.lock is authoritative).
# Runtime stage: debian:bookworm-slim rather than distroless, scratch or
# Alpine. Agents need a POSIX shell and the everyday tools, and each tool
# must be a binary of its own: the kernel allowlist (Landlock EXECUTE)
# grants execution per file, so a busybox-style multi-call binary would let
# every applet run as soon as one is allowed. Debian ships coreutils, grep,
# sed, findutils and dash as separate binaries. The package manager's
# executables are removed after the install; its status file stays, so
# image scanners can still list the packages.
#
# Works with a read-only root filesystem and a tmpfs (or ECS ephemeral
# volume) on /tmp, where the daemon creates each run's scratch directory.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked \
    && strip target/release/mcp-commander

FROM debian:bookworm-slim
# Versions are not pinned: the image is rebuilt to take Debian security
# updates, and bookworm's archive drops superseded versions.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates coreutils findutils grep sed gawk diffutils tar gzip xz-utils file less jq git \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
    && rm -f /usr/bin/apt /usr/bin/apt-* /usr/bin/dpkg /usr/bin/dpkg-* \
    && groupadd --gid 10001 commander \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin commander

COPY --from=build /src/target/release/mcp-commander /usr/local/bin/mcp-commander

LABEL org.opencontainers.image.title="mcp-commander" \
      org.opencontainers.image.description="MCP server that runs shell commands for AI agents under a kernel-enforced sandbox" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/mcp-commander/mcp-commander"

ENV MCP_HOST=0.0.0.0 \
    MCP_PORT=3000 \
    MCP_LOG_FORMAT=json \
    TMPDIR=/tmp

USER 10001:10001
WORKDIR /tmp
EXPOSE 3000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/mcp-commander", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/mcp-commander"]
