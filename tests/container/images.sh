#!/usr/bin/env bash
# Makes the images the Dockerfile names, on a machine that can reach
# Debian's archive and the crate registry but no image registry, then
# builds the Dockerfile unchanged:
#
#   debian:bookworm-slim      mmdebstrap --variant=minbase (bookworm,
#                             bookworm-updates, bookworm-security) into
#                             docker import
#   rust:1.95-slim-bookworm   that, with Debian's rustc-web and cargo-web and
#                             the crates of Cargo.lock in CARGO_HOME, offline
#                             (rust-bookworm.Dockerfile)
#   mcp-commander:test        the project's Dockerfile
#   mcp-commander:test-tools  that, with Python, ssh-agent and tmux for the
#                             escape suites (tools.Dockerfile)
#
# Each base image is labelled with a digest of what made it and kept while
# that digest holds, so a second run costs only the project's build.
# Starts dockerd (host networking only) when no engine answers.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { echo "images: $*" >&2; }

if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io
  fi
  log "starting dockerd (--iptables=false --bridge=none)"
  nohup dockerd --iptables=false --bridge=none >/var/log/mcp-commander-dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { log "dockerd did not start"; tail -20 /var/log/mcp-commander-dockerd.log >&2; exit 1; }
fi
command -v mmdebstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap

# The digest an image was made from, or nothing.
made_from() { docker image inspect --format '{{ index .Config.Labels "made-from" }}' "$1" 2>/dev/null || true; }

suites=(
  "deb http://deb.debian.org/debian bookworm main"
  "deb http://deb.debian.org/debian bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main"
)
# The base is remade weekly, for Debian's updates.
base_digest=$(printf '%s\n' "${suites[@]}" "minbase" "$(date +%G-%V)" | sha256sum | cut -c1-16)
if [[ $(made_from debian:bookworm-slim) != "$base_digest" ]]; then
  log "making debian:bookworm-slim (mmdebstrap, about a minute)"
  mmdebstrap --quiet --variant=minbase bookworm - "${suites[@]}" \
    | docker import --change 'CMD ["bash"]' --change "LABEL made-from=$base_digest" - debian:bookworm-slim >/dev/null
fi

crates=/var/tmp/mcp-commander-container-cargo
CARGO_HOME=$crates cargo fetch --locked --quiet
rust_digest=$( (echo "$base_digest"; cat tests/container/rust-bookworm.Dockerfile Cargo.lock) | sha256sum | cut -c1-16)
if [[ $(made_from rust:1.95-slim-bookworm) != "$rust_digest" ]]; then
  log "making rust:1.95-slim-bookworm (Debian's rustc-web and cargo-web, crates offline)"
  context=$(mktemp -d)
  trap 'rm -rf "$context"' EXIT
  mkdir -p "$context/registry"
  cp -r "$crates/registry/index" "$crates/registry/cache" "$context/registry/"
  cp tests/container/rust-bookworm.Dockerfile "$context/Dockerfile"
  echo "LABEL made-from=$rust_digest" >>"$context/Dockerfile"
  docker build --quiet --network host -t rust:1.95-slim-bookworm "$context" >/dev/null
fi

log "building the Dockerfile as mcp-commander:test"
started=$(date +%s)
docker build --quiet --network host -t mcp-commander:test . >/dev/null
log "built in $(($(date +%s) - started)) s; $(docker image inspect --format '{{.Size}}' mcp-commander:test | awk '{printf "%.1f MiB", $1/1048576}')"

log "adding what the escape suites run as mcp-commander:test-tools"
docker build --quiet --network host -t mcp-commander:test-tools -f tests/container/tools.Dockerfile tests/container >/dev/null
