# Shell helpers shared by the interop and conformance runners (sourced, not run).
#
# start_daemon LOGFILE [VAR=VALUE ...]: starts "$MCP_COMMANDER_BIN" on a free
# loopback port with the given environment, waits until it listens, and sets
# DAEMON_PID, DAEMON_PORT and DAEMON_AUDIT (the file its stdout, the audit
# records, goes to). stop_daemon ends it.

start_daemon() {
  local log="$1"
  shift
  env -i PATH="$PATH" HOME="${HOME:-/root}" MCP_PORT=0 MCP_LOG_LEVEL=info "$@" \
    "$MCP_COMMANDER_BIN" >"$log.audit" 2>"$log" &
  DAEMON_PID=$!
  DAEMON_AUDIT="$log.audit"
  local address=""
  for _ in $(seq 1 200); do
    address=$(sed -n 's/.*address=\([0-9.:]*\).*/\1/p' "$log" | head -n 1)
    [[ -n "$address" ]] && break
    kill -0 "$DAEMON_PID" 2>/dev/null || { echo "daemon exited at start:" >&2; cat "$log" >&2; return 1; }
    sleep 0.05
  done
  [[ -n "$address" ]] || { echo "daemon did not report its address" >&2; cat "$log" >&2; return 1; }
  DAEMON_PORT=${address##*:}
}

stop_daemon() {
  if [[ -n "${DAEMON_PID:-}" ]]; then
    kill "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
    DAEMON_PID=""
  fi
}

# check NAME COMMAND...: runs COMMAND, prints PASS with its last non-empty
# output line or FAIL with all of it, and counts into $passed and $failed.
passed=0
failed=0
check() {
  local name="$1" output
  shift
  if output=$("$@" 2>&1); then
    passed=$((passed + 1))
    echo "PASS $name: $(echo "$output" | grep -v '^\s*$' | tail -n 1)"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    echo "$output" | sed 's/^/    /'
  fi
}
