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
# volume) on /tmp, where the daemon keeps each principal's workspace.
#
# The daemon runs as uid 0 so that it can hold exactly the capabilities it
# needs (a non-root user gets none: container runtimes set no ambient
# capabilities): CAP_SETUID and CAP_SETGID to run each principal's commands
# under a uid of its own, CAP_CHOWN to give each principal its workspace,
# CAP_SYS_PTRACE to take the sockets of those commands for the socket
# broker. The task definitions drop every other one (no CAP_DAC_OVERRIDE:
# root cannot read what it does not own), set no-new-privileges, and the
# root filesystem is read-only. Commands never run as root.

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
    && rm -f /usr/bin/apt /usr/bin/apt-* /usr/bin/dpkg /usr/bin/dpkg-*

COPY --from=build /src/target/release/mcp-commander /usr/local/bin/mcp-commander

LABEL org.opencontainers.image.title="mcp-commander" \
      org.opencontainers.image.description="MCP server that runs shell commands for AI agents under a kernel-enforced sandbox" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/mcp-commander/mcp-commander"

ENV MCP_HOST=0.0.0.0 \
    MCP_PORT=3000 \
    MCP_LOG_FORMAT=json \
    TMPDIR=/tmp

# Root with four capabilities (see the top of this file), never commands.
# hadolint ignore=DL3002
USER 0:0
WORKDIR /tmp
EXPOSE 3000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/mcp-commander", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/mcp-commander"]
