#!/usr/bin/env bash
# Interop check: the Claude Code CLI (`claude mcp add` + `claude mcp list`) against mcp-commander,
# with no API key and no network.
#
# The script runs itself again inside fresh network + PID namespaces (unshare), where only
# loopback exists, brings `lo` up, starts the server there from MCP_SERVER_CMD, waits for
# http://127.0.0.1:$PORT/health, registers the server with a throwaway HOME and asserts that
# `claude mcp list` reports it as connected. The PID namespace guarantees that the server and
# anything claude spawned die with the script.
#
# Environment:
#   MCP_SERVER_CMD  required: shell command line that starts the server in the foreground, listening
#                   on 127.0.0.1:$PORT with token $MCP_TOKEN (both are exported to it), e.g.
#                   'exec /path/to/mcp-commander --port "$PORT" --token "$MCP_TOKEN"'
#   MCP_TOKEN       required: the auth token (sent as X-MCP-Auth-Token).
#   PORT            optional, default 18080 (the namespace is private, so no port can clash).
#   CLAUDE_BIN      optional, default <this dir>/node_modules/.bin/claude, or, while that is still the
#                   pre-postinstall stub, the native binary in @anthropic-ai/claude-code-linux-<arch>.
#   CLAUDE_INTEROP_TIMEOUT         optional, whole-run hard limit in seconds, default 240.
#   CLAUDE_INTEROP_HEALTH_TIMEOUT  optional, seconds to wait for /health, default 30.
#   CLAUDE_INTEROP_CMD_TIMEOUT     optional, limit per claude command in seconds, default 60.
#
# Exit 0 and `OK claude: ...` on success; exit 1 with `FAIL claude: ...` and diagnostics otherwise.
# Needs root (or unprivileged user namespaces), util-linux `unshare`, iproute2 `ip`.
set -euo pipefail

SELF="$(readlink -f "${BASH_SOURCE[0]}")"
HERE="$(dirname "$SELF")"

fail() {
  echo "FAIL claude: $*" >&2
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Stage 1 (host namespace): validate, then run this script again inside new net + pid namespaces.
# ---------------------------------------------------------------------------------------------
if [[ "${_MCP_INTEROP_IN_NETNS:-}" != 1 ]]; then
  [[ -n "${MCP_SERVER_CMD:-}" ]] || fail "MCP_SERVER_CMD is not set (a command line that starts the server on 127.0.0.1:\$PORT)"
  [[ -n "${MCP_TOKEN:-}" ]] || fail "MCP_TOKEN is not set"
  command -v unshare >/dev/null || fail "unshare not found (apt-get install util-linux)"
  command -v ip >/dev/null || fail "ip not found (apt-get install iproute2)"
  command -v timeout >/dev/null || fail "timeout not found (coreutils)"

  if [[ -z "${CLAUDE_BIN:-}" ]]; then
    CLAUDE_BIN="$HERE/node_modules/.bin/claude"
    # Until the package's postinstall (install.cjs) has run, bin/claude.exe is a ~500-byte shell
    # stub; the native binary already sits in the platform package, so use that one directly.
    if [[ ! -x "$CLAUDE_BIN" ]] || (($(stat -L -c %s "$CLAUDE_BIN" 2>/dev/null || echo 0) < 4096)); then
      case "$(uname -m)" in
        x86_64) arch=x64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) arch="$(uname -m)" ;;
      esac
      libc=""
      ldd --version 2>&1 | grep -qi musl && libc="-musl"
      native="$HERE/node_modules/@anthropic-ai/claude-code-linux-$arch$libc/claude"
      [[ -x "$native" ]] && CLAUDE_BIN="$native"
    fi
  fi
  [[ -x "$CLAUDE_BIN" ]] || fail "claude not found at $CLAUDE_BIN (cd $HERE && npm ci && node node_modules/@anthropic-ai/claude-code/install.cjs)"
  export CLAUDE_BIN PORT="${PORT:-18080}" MCP_TOKEN MCP_SERVER_CMD
  export _MCP_INTEROP_IN_NETNS=1
  # The work dir is made and removed out here, so that it goes even when the hard limit strikes.
  _MCP_INTEROP_WORK="$(mktemp -d /tmp/claude-interop.XXXXXX)"
  export _MCP_INTEROP_WORK

  ns_flags=(--net --pid --fork --kill-child)
  if [[ "$(id -u)" != 0 ]]; then
    ns_flags=(--map-root-user "${ns_flags[@]}")
  fi
  # Hard limit: SIGKILL for unshare (which ignores SIGTERM while it waits); --kill-child then
  # kills the namespace's init, and with it every process in the PID namespace.
  limit="${CLAUDE_INTEROP_TIMEOUT:-240}"
  rc=0
  timeout -s KILL "$limit" unshare "${ns_flags[@]}" -- bash "$SELF" "$@" || rc=$?
  if ((rc == 137)); then
    {
      echo "FAIL claude: hard limit of ${limit}s reached (CLAUDE_INTEROP_TIMEOUT); everything in the namespace was killed"
      echo "---- server log (last 40 lines): $MCP_SERVER_CMD"
      tail -n 40 "$_MCP_INTEROP_WORK/server.log" 2>/dev/null || true
    } >&2
    rc=1
  fi
  rm -rf "$_MCP_INTEROP_WORK"
  exit "$rc"
fi

# ---------------------------------------------------------------------------------------------
# Stage 2 (inside the namespaces; we are PID 1 of the new pid namespace).
# ---------------------------------------------------------------------------------------------
ip link set lo up || fail "could not bring up loopback in the new network namespace"
# Sanity: nothing but loopback may exist here, so neither the server nor claude can reach out.
links="$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')"
[[ "$links" == "lo " ]] || fail "network namespace is not isolated: links are: $links"

WORK="$_MCP_INTEROP_WORK"
SERVER_PID=""
OK=0

stop_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

on_exit() {
  local rc=$?
  stop_server
  if [[ "$OK" != 1 ]]; then
    {
      if [[ -f "$WORK/server.log" ]]; then
        echo "---- server log (last 40 lines): $MCP_SERVER_CMD"
        tail -n 40 "$WORK/server.log"
      fi
      for f in "$WORK"/home/.cache/claude-cli-nodejs/*/mcp-logs-commander/*; do
        [[ -f "$f" ]] || continue
        echo "---- claude MCP log $f (last 40 lines)"
        tail -n 40 "$f"
      done
    } >&2
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 1' INT TERM

# --- start the server in its own process group, from the caller's directory and environment ---
# setsid does not fork here (a background job of a non-interactive shell is not a group
# leader), so $! is the server's pid and also its process-group id.
setsid bash -c "$MCP_SERVER_CMD" >"$WORK/server.log" 2>&1 </dev/null &
SERVER_PID=$!

http_ok() { # GET url → success if 2xx
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null -m 2 "$1" 2>/dev/null
  else
    local hostport="${1#http://}"
    hostport="${hostport%%/*}"
    local path="/${1#http://*/}"
    exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}" 2>/dev/null || return 1
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
    local status
    IFS= read -r -t 2 status <&3 || { exec 3<&-; return 1; }
    exec 3<&-
    [[ "$status" =~ ^HTTP/[0-9.]+\ 2[0-9][0-9] ]]
  fi
}

HEALTH_URL="http://127.0.0.1:$PORT/health"
deadline=$((SECONDS + ${CLAUDE_INTEROP_HEALTH_TIMEOUT:-30}))
until http_ok "$HEALTH_URL"; do
  kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited before $HEALTH_URL answered"
  ((SECONDS < deadline)) || fail "server did not answer $HEALTH_URL within ${CLAUDE_INTEROP_HEALTH_TIMEOUT:-30}s"
  sleep 0.2
done

# --- claude, with a throwaway HOME, no credentials, no non-essential traffic ---
mkdir -p "$WORK/home" "$WORK/cwd"
cd "$WORK/cwd" # keep any project-scoped .mcp.json out of the picture
unset ANTHROPIC_API_KEY ANTHROPIC_AUTH_TOKEN CLAUDE_CODE_OAUTH_TOKEN ANTHROPIC_BASE_URL \
  HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy CLAUDE_CONFIG_DIR
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" XDG_CACHE_HOME="$WORK/home/.cache" \
  XDG_DATA_HOME="$WORK/home/.local/share" XDG_STATE_HOME="$WORK/home/.local/state"
export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 DISABLE_TELEMETRY=1 \
  DISABLE_ERROR_REPORTING=1 DISABLE_BUG_COMMAND=1 NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
  MCP_TIMEOUT=20000 CI=true
CLAUDE_TIMEOUT="${CLAUDE_INTEROP_CMD_TIMEOUT:-60}"

# Before its postinstall has run, bin/claude.exe is a ~500-byte shell stub that only prints an error.
if ! CLAUDE_VERSION="$(timeout -k 5 "$CLAUDE_TIMEOUT" "$CLAUDE_BIN" --version </dev/null 2>&1)"; then
  fail "claude is not runnable: $CLAUDE_VERSION
  (the native binary is put in place by the package's postinstall; run:
   cd $HERE && node node_modules/@anthropic-ai/claude-code/install.cjs)"
fi
CLAUDE_VERSION="${CLAUDE_VERSION%%$'\n'*}"

URL="http://127.0.0.1:$PORT/mcp"
rc=0
# --header is variadic in claude's CLI: it must come after the positional name and URL.
out="$(timeout -k 5 "$CLAUDE_TIMEOUT" "$CLAUDE_BIN" mcp add --scope user --transport http \
  commander "$URL" --header "X-MCP-Auth-Token: $MCP_TOKEN" </dev/null 2>&1)" || rc=$?
((rc == 0)) || fail "claude mcp add failed (rc=$rc): $out"

rc=0
out="$(timeout -k 5 "$CLAUDE_TIMEOUT" "$CLAUDE_BIN" mcp list </dev/null 2>&1)" || rc=$?
((rc != 124 && rc != 137)) || fail "claude mcp list timed out after ${CLAUDE_TIMEOUT}s; output: $out"
# Success line (claude 2.1.x): "commander: http://127.0.0.1:PORT/mcp (HTTP) - ✔ Connected"
# Failure looks like "... - ✘ Failed to connect — <reason>", "... - ! Needs authentication" or
# "... - ! Connected · tools fetch failed — <reason>" (connected, but tools/list failed).
# `claude mcp list` exits 0 either way, so the text is what counts.
line="$(grep -E '^commander: ' <<<"$out" || true)"
if ! grep -qE '(✔|✓) Connected' <<<"$line"; then
  fail "claude mcp list does not show commander as connected (rc=$rc); output:
$out"
fi

OK=1
echo "OK claude: ${line} ($CLAUDE_VERSION)"
