#!/usr/bin/env bash
# The release binary on a read-only root, as ECS runs it with
# readonlyRootFilesystem: bubblewrap binds / read-only, binds a tmpfs
# mounted noexec,nosuid,nodev (as the task definition's) on /tmp and runs
# the daemon as the task definitions do: uid 0 with every capability
# dropped but CHOWN, SETGID, SETUID and SYS_PTRACE, under no_new_privs.
# It must serve initialize, tools/list and execute_command end to end (the
# command under a uid of its principal's, neither root nor the daemon's),
# pass its own health check, and leave a verifiable audit trail.
#
# Usage: tests/deploy/readonly_root.sh [path/to/mcp-commander]
set -euo pipefail
bin=$(realpath "${1:-target/release/mcp-commander}")
work=$(mktemp -d)
token="read-only-root-token"
# The binary is bound into the jail's /tmp: wherever the checkout lives
# (perhaps under the host's /tmp, which the tmpfs hides), it is found.
jailed=/tmp/.bin/mcp-commander
mkdir -p "$work/tmp"
# bubblewrap's own --tmpfs cannot be noexec: a tmpfs mounted in a private
# mount namespace is bound instead (bubblewrap keeps its noexec flag).
jail=(unshare --mount --propagation private -- sh -c
  'mount -t tmpfs -o noexec,nosuid,nodev,mode=1777 tmpfs "$0" && exec "$@"' "$work/tmp"
  bwrap --cap-drop ALL --cap-add CAP_CHOWN --cap-add CAP_SETGID --cap-add CAP_SETUID --cap-add CAP_SYS_PTRACE
  --ro-bind / / --bind "$work/tmp" /tmp --ro-bind "$bin" "$jailed" --dev /dev --proc /proc --die-with-parent)
"${jail[@]}" --setenv MCP_PORT 0 --setenv MCP_AUTH_TOKEN "$token" -- "$jailed" >"$work/audit" 2>"$work/log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*address=[0-9.]*:\([0-9]*\).*/\1/p' "$work/log" | head -n 1)
  [[ -n "$port" ]] && break
  sleep 0.05
done
[[ -n "$port" ]] || { echo "the daemon did not start on a read-only root:"; cat "$work/log"; exit 1; }

call() {
  curl -sS -H "X-MCP-Auth-Token: $token" -H "Content-Type: application/json" "http://127.0.0.1:$port/mcp" -d "$1"
}
fail() { echo "FAIL: $*"; exit 1; }

call '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"ro","version":"1"}}}' \
  | grep -q '"serverInfo"' || fail "initialize"
call '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' | grep -q '"execute_command"' || fail "tools/list"
reply=$(call '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"execute_command","arguments":{"command":"id -u; echo kept > f && cat f; touch /etc/ro-test"}}}')
uid=$(echo "$reply" | sed -n 's/.*"stdout":"\([0-9]*\)\\nkept\\n".*/\1/p' | head -n 1)
[[ -n "$uid" && "$uid" != 0 ]] || fail "execute_command did not run as a principal's uid in a writable workspace: $reply"
echo "$reply" | grep -q 'Read-only file system' || fail "the root was writable: $reply"
reply=$(call '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"execute_command","arguments":{"command":"cp /usr/bin/id ./id && /lib64/ld-linux-x86-64.so.2 ./id"}}}')
echo "$reply" | grep -q 'failed to map segment' || fail "a program written to the noexec /tmp ran: $reply"
"${jail[@]}" --setenv MCP_PORT "$port" -- "$jailed" healthcheck >/dev/null || fail "healthcheck"
kill "$pid"
wait "$pid" 2>/dev/null || true
"$bin" audit verify "$work/audit" >/dev/null || fail "audit trail: $("$bin" audit verify "$work/audit")"
echo "read-only root, uid 0 with CHOWN SETGID SETUID SYS_PTRACE, commands as uid $uid: initialize, tools/list, execute_command (workspace writable and noexec, / read-only), healthcheck, audit chain OK"
