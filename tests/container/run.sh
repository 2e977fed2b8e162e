#!/usr/bin/env bash
# The container suite: the image built from the Dockerfile (images.sh), run
# the way ECS runs it, with the options of each task definition in deploy/
# (translated by taskdef.py, so the test and the definitions cannot drift;
# Fargate's volume on /tmp instead of a noexec tmpfs) and host networking
# on loopback. Then, against the running container:
#
#   - the health check turns healthy (time from `docker run` measured);
#   - commands run under a uid of their own, never root, and not the
#     daemon's; the root filesystem is read-only and /tmp noexec;
#   - the allowlist holds in the kernel: a git alias reaching the loader
#     gets EACCES, a program that is not allowed cannot be copied;
#   - idle RSS in the container;
#   - throughput of `tools/list` and `echo hi` against the same binary on
#     the host, same settings, same run (throughput.py);
#   - `docker stop` with 48 calls in flight: every one completes, none is
#     dropped, nothing of them is left running, the daemon exits 0;
#   - the audit chain taken from `docker logs` verifies with `audit verify`.
#
# Then the suites written against the binary run against the container
# (tests/container/daemon): the escape, principal and allowlist suites with
# their image mode in the container (MCP_TEST_CONTAINER=1), the interop
# suite (PyPI mcp 1.x and 2.x, the npm SDK, MCP Inspector, Claude Code) and
# the conformance suite.
#
# Prints PASS or FAIL per check and exits non-zero on a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

tests/container/images.sh

failed=0
check() { # name, then a command that must succeed
  local what=$1
  shift
  if "$@"; then echo "PASS [$label] $what"; else echo "FAIL [$label] $what"; failed=1; fi
}

suite() {
local definition=$1 label
label=$(basename "$definition" .json)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=container-token-0123456789abcdef
name=mcp-commander-suite-$$-$label
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; docker volume rm "$name-tmp" >/dev/null 2>&1 || true; }
trap cleanup EXIT

settings=(--set MCP_HOST=127.0.0.1 --set MCP_ALLOWED_HOSTS=127.0.0.1
  --set MCP_AUTH_TOKEN="$token" --set MCP_AUDIT_HMAC_KEY=container-audit-key-0123456789
  --set MCP_ALLOWED_COMMANDS=ls,cat,git,id,env,sleep,echo)
mapfile -t options < <(python3 tests/container/taskdef.py "$definition" --volume "$name-tmp" \
  "${settings[@]}" --set MCP_PORT="$port")
started=$(date +%s.%N)
docker run -d --name "$name" --network host "${options[@]}" mcp-commander:test >/dev/null

healthy() {
  for _ in $(seq 120); do
    [[ $(docker inspect --format '{{.State.Health.Status}}' "$name") == healthy ]] && return 0
    sleep 0.25
  done
  docker logs "$name" 2>&1 | tail -20 >&2
  return 1
}
check "the health check turns healthy" healthy
echo "[$label] time from docker run to healthy: $(python3 -c "import time; print('%.1f s' % (time.time() - $started))")"

call() { # command -> the tool result's structuredContent, as JSON
  python3 - "$port" "$token" "$1" <<'EOF'
import json, sys, urllib.request
port, token, command = sys.argv[1:4]
body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "execute_command", "arguments": {"command": command}}}
request = urllib.request.Request("http://127.0.0.1:%s/mcp" % port, json.dumps(body).encode(),
                                 {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                                  "X-MCP-Auth-Token": token})
result = json.load(urllib.request.urlopen(request, timeout=60))["result"]
print(json.dumps(result.get("structuredContent") or result))
EOF
}
field() { python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print(v if v is not None else "")' "$1"; }

uid=$(call "id -u" | field stdout | tr -d '\n')
check "commands run under a uid of their own, not root ($uid)" test -n "$uid" -a "$uid" != 0
check "the root filesystem is read-only" \
  bash -c "[[ \$(docker exec $name sh -c 'touch /usr/x 2>&1 || echo refused') == *refused* ]]"
noexec_tmpfs=$(python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))["containerDefinitions"][0]
print(any("noexec" in m.get("mountOptions", []) for m in c.get("linuxParameters", {}).get("tmpfs", [])))' "$definition")
if [[ $noexec_tmpfs == True ]]; then
  check "/tmp is noexec" bash -c "docker exec $name cat /proc/mounts | grep -q ' /tmp tmpfs [^ ]*noexec'"
fi
loader=$(call "git init -q r && cd r && git config alias.l '!/lib64/ld-linux-x86-64.so.2 /usr/bin/uname' && git l")
check "the loader cannot run a program that is not allowed" \
  bash -c "[[ '$(echo "$loader" | field stderr)' == *'Permission denied'* ]]"
copy=$(call "cat /usr/bin/id > idcopy; env ./idcopy")
check "a copy of a program that is not allowed cannot be made" bash -c "[[ '$(echo "$copy" | field stdout)' != *uid=* ]]"

# Under Docker's default seccomp profile (the container's own filter is
# the first of the command's), Landlock is enforced and the daemon's filter
# stacks on Docker's.
doctor=$(docker exec "$name" /usr/local/bin/mcp-commander doctor 2>&1 || true)
check "Landlock is enforced under Docker's seccomp profile" grep -q '^  landlock *enforced *ABI' <<<"$doctor"
check "the daemon's seccomp filter is enforced under Docker's" grep -q '^  seccomp *enforced' <<<"$doctor"
filters=$(call "cat /proc/self/status" | field stdout | awk '/^Seccomp_filters:/ {print $2}')
check "a command runs under Docker's filter and the daemon's ($filters filters)" test "${filters:-0}" -ge 2
echo "[$label] $(grep '^  landlock' <<<"$doctor" | tr -s ' '); $(grep '^  seccomp' <<<"$doctor" | tr -s ' ')"

rss=$(docker exec "$name" sh -c 'grep VmRSS /proc/1/status; for p in /proc/[0-9]*; do grep -H VmRSS $p/status 2>/dev/null; done' |
  awk '{print $2}' | sort -n | tail -1)
echo "[$label] idle RSS of the daemon in the container: $((rss / 1024)) MiB ($rss kB)"

# Throughput against the same binary outside the container, same settings,
# same run (once, on the first definition).
if [[ -z ${throughput_measured:-} ]]; then
  throughput_measured=1
  host_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mapfile -t host_env < <(python3 tests/container/taskdef.py "$definition" --environment "${settings[@]}" \
    --set MCP_PORT="$host_port" --set MCP_LOG_FORMAT=text)
  env -i PATH="$PATH" "${host_env[@]}" target/release/mcp-commander >/tmp/mcp-commander-host-audit-$$.log 2>/dev/null &
  host_daemon=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$host_port/health" >/dev/null 2>&1 && break; sleep 0.1; done
  echo "[$label] throughput, container ÷ the same binary on the host (wrk, best of 3 rounds of 3 s, alternating):"
  check "throughput measured against the host's daemon" python3 tests/container/throughput.py "$port" "$host_port" "$token"
  kill "$host_daemon" && wait "$host_daemon" || true
  rm -f /tmp/mcp-commander-host-audit-$$.log
fi

# docker stop under load: 48 calls in flight (each `sleep 1` and a marker),
# the container stopped half a second in. Every call completes or is
# refused cleanly, none is dropped; nothing of them is left running.
drain=/tmp/mcp-commander-drain-$$
python3 tests/container/drain.py "$port" "$token" 48 >"$drain" &
in_flight=$!
for _ in $(seq 100); do grep -q sent "$drain" && break; sleep 0.05; done
sleep 0.5
stopping=$(date +%s.%N)
docker stop "$name" >/dev/null
echo "[$label] docker stop took $(python3 -c "import time; print('%.1f s' % (time.time() - $stopping))") with 48 calls in flight"
wait "$in_flight" || true
summary=$(tail -1 "$drain")
echo "[$label] calls in flight at docker stop: $summary"
check "every call in flight at docker stop completes" \
  python3 -c 'import json, sys; s = json.loads(sys.argv[1]); sys.exit(s["completed"] != 48)' "$summary"
check "nothing of the calls is left running" bash -c '! pgrep -f "drained-[0-9]" >/dev/null'
rm -f "$drain"
check "the daemon exits 0 on docker stop" test "$(docker inspect --format '{{.State.ExitCode}}' "$name")" = 0

docker logs "$name" 2>/dev/null >/tmp/mcp-commander-audit-$$.log
check "the audit chain from docker logs verifies" \
  env MCP_AUDIT_HMAC_KEY=container-audit-key-0123456789 \
  docker run --rm -i --network none --entrypoint /usr/local/bin/mcp-commander \
  -e MCP_AUDIT_HMAC_KEY mcp-commander:test audit verify - </tmp/mcp-commander-audit-$$.log
rm -f /tmp/mcp-commander-audit-$$.log
echo "image size: $(docker image inspect --format '{{.Size}}' mcp-commander:test | awk '{printf "%.1f MiB", $1/1048576}')"

cleanup
trap - EXIT
}

definitions=("$@")
((${#definitions[@]})) || definitions=(deploy/task-definition-ec2.json deploy/task-definition-fargate.json)
for definition in "${definitions[@]}"; do suite "$definition"; done

# A runtime whose seccomp profile refuses the Landlock calls (as Docker's
# did before 20.10.13 and containerd's before 1.5.10/1.6.0; EPERM from an
# old default action, ENOSYS from a newer one's for calls it does not
# know): the daemon refuses to start and names the layer. Each profile
# allows everything else.
label=seccomp
profiles=$(mktemp -d)
for errno in 1 38; do
  cat >"$profiles/no-landlock-$errno.json" <<JSON
{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["landlock_create_ruleset", "landlock_add_rule",
 "landlock_restrict_self"], "action": "SCMP_ACT_ERRNO", "errnoRet": $errno}]}
JSON
  mapfile -t options < <(python3 tests/container/taskdef.py deploy/task-definition-ec2.json --runtime-only)
  refused=$(docker run --rm --network host --label mcp-commander-test "${options[@]}" \
    --security-opt seccomp="$profiles/no-landlock-$errno.json" -e MCP_HOST=127.0.0.1 -e MCP_PORT=0 \
    -e MCP_AUTH_TOKEN="$token" mcp-commander:test 2>&1 >/dev/null && echo "STARTED" || true)
  check "with the Landlock calls refused (errno $errno) the daemon refuses to start, naming seccomp" \
    bash -c '[[ $1 != *STARTED* && $1 == *"landlock"*"required but unavailable"*"seccomp filter"* ]]' _ "$refused"
  echo "[$label] errno $errno: $(grep -o "refusing to start: sandbox layer 'landlock'[^.]*" <<<"$refused" | head -1)"
done
rm -rf "$profiles"

# The suites written against the binary, against the container instead
# (tests/container/daemon, the EC2 definition's container options): the
# escape, principal-isolation and kernel-allowlist suites with their image
# mode in the container, the real MCP clients and the conformance suite.
label=suites
containers=/tmp/mcp-commander-containers-$$.log
: >"$containers"
export MCP_CONTAINER_LOG=$containers
echo "== the escape, principal, allowlist and egress identity suites, image mode in the container"
check "the escape, principal, allowlist and egress identity suites in the container" env MCP_TEST_CONTAINER=1 \
  cargo nextest run --locked --no-fail-fast --test escape --test escape_exec --test escape_host --test escape_network \
  --test principals --test allowlist --test egress_identity
echo "[$label] containers started by the suites: $(wc -l <"$containers")"
echo "== real MCP clients against the container"
check "the interop suite against the container" tests/interop/run.sh "$PWD/tests/container/daemon"
echo "== the MCP conformance suite against the container"
check "the conformance suite against the container" tests/conformance/run.sh "$PWD/tests/container/daemon"
unset MCP_CONTAINER_LOG
rm -f "$containers"
left=$(docker ps -aq --filter label=mcp-commander-test)
check "no container of the suites is left" test -z "$left"
[[ -z $left ]] || docker rm -f $left >/dev/null
exit $failed
