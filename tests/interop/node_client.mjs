#!/usr/bin/env node
// Interop check: the official TypeScript MCP SDK (@modelcontextprotocol/sdk) against mcp-commander.
//
// Client + StreamableHTTPClientTransport, token in requestInit headers (X-MCP-Auth-Token).
// Environment: MCP_URL (e.g. http://127.0.0.1:PORT/mcp), MCP_TOKEN. Optional MCP_TIMEOUT_MS
// (per request, default 20000).
//
// Checks: the four tools are listed; execute_command {"command":"echo hi"} returns stdout "hi\n"
// and exit_code 0 (structuredContent when present, else the JSON in the text block).
// Prints `OK node: tools=<n> stdout=... protocol=...` and exits 0, or `FAIL node: <reason>` on
// stderr and exits 1. Run from this directory's node_modules (Node >= 18; tested on 20 and 22).

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const EXPECTED_TOOLS = ['execute_command', 'list_allowed_commands', 'list_blocked_commands', 'get_shell_info'];
const PER_REQUEST_MS = Number(process.env.MCP_TIMEOUT_MS || 20000);
const TOTAL_MS = 3 * PER_REQUEST_MS + 5000;

let sdkVersion = 'unknown';
try {
  // The exports map hides package.json; walk up from a resolved entry point instead.
  let dir = path.dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/sdk/client/index.js'));
  for (let i = 0; i < 6 && sdkVersion === 'unknown'; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (pkg.name === '@modelcontextprotocol/sdk') sdkVersion = pkg.version;
    } catch {
      /* keep walking */
    }
  }
} catch {
  /* informational only */
}

function fail(msg) {
  process.stderr.write(`FAIL node: ${msg} (sdk ${sdkVersion}, node ${process.version}, url ${process.env.MCP_URL})\n`);
  process.exit(1);
}

class CheckFailed extends Error {}

function checkExecResult(result) {
  const texts = (result.content || []).filter((c) => c.type === 'text').map((c) => c.text);
  if (result.isError) throw new CheckFailed(`execute_command returned isError=true: ${JSON.stringify(texts)}`);
  let fromText;
  if (texts.length > 0) {
    try {
      fromText = JSON.parse(texts[0]);
    } catch (e) {
      throw new CheckFailed(`text content block is not JSON (${e.message}): ${JSON.stringify(texts[0])}`);
    }
  }
  const structured = result.structuredContent;
  const payload = structured ?? fromText;
  if (payload === undefined) {
    throw new CheckFailed(`execute_command result has neither structuredContent nor a text block: ${JSON.stringify(result)}`);
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new CheckFailed(`execute_command payload is not an object: ${JSON.stringify(payload)}`);
  }
  if (structured !== undefined && fromText !== undefined && JSON.stringify(sortKeys(structured)) !== JSON.stringify(sortKeys(fromText))) {
    throw new CheckFailed(`text block JSON differs from structuredContent: ${JSON.stringify(fromText)} != ${JSON.stringify(structured)}`);
  }
  for (const key of ['stdout', 'stderr', 'exit_code', 'signal', 'timed_out', 'truncated', 'duration_ms']) {
    if (!(key in payload)) throw new CheckFailed(`execute_command payload lacks "${key}": ${JSON.stringify(payload)}`);
  }
  if (payload.stdout !== 'hi\n') throw new CheckFailed(`stdout is ${JSON.stringify(payload.stdout)}, expected "hi\\n" (payload ${JSON.stringify(payload)})`);
  if (payload.exit_code !== 0) throw new CheckFailed(`exit_code is ${JSON.stringify(payload.exit_code)}, expected 0 (payload ${JSON.stringify(payload)})`);
  return payload;
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

async function main() {
  const url = process.env.MCP_URL;
  const token = process.env.MCP_TOKEN;
  if (!url) fail('MCP_URL is not set');
  if (token === undefined) fail('MCP_TOKEN is not set');

  const transportErrors = [];
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { 'X-MCP-Auth-Token': token } },
  });
  const client = new Client({ name: 'mcp-commander-interop-node', version: '0.0.0' }, { capabilities: {} });
  // Non-fatal transport errors (e.g. the optional GET SSE stream being refused with something
  // other than 405) surface here; remember them for the failure message.
  client.onerror = (err) => transportErrors.push(String(err?.message ?? err));

  const opts = { timeout: PER_REQUEST_MS };
  try {
    await client.connect(transport, opts);
    const tools = await client.listTools(undefined, opts);
    const names = tools.tools.map((t) => t.name);
    const missing = EXPECTED_TOOLS.filter((n) => !names.includes(n));
    if (missing.length) throw new CheckFailed(`tools/list is missing ${JSON.stringify(missing)}; got ${JSON.stringify(names.sort())}`);
    const result = await client.callTool({ name: 'execute_command', arguments: { command: 'echo hi' } }, undefined, opts);
    const payload = checkExecResult(result);
    const protocol = transport.protocolVersion ?? 'unknown';
    const sid = transport.sessionId ? ` session-id=${transport.sessionId}` : '';
    if (transportErrors.length) {
      process.stderr.write(`NOTE node: non-fatal transport errors: ${JSON.stringify(transportErrors)}\n`);
    }
    process.stdout.write(
      `OK node: tools=${names.length} stdout=${JSON.stringify(payload.stdout)} exit_code=${payload.exit_code} ` +
        `protocol=${protocol}${sid} (sdk ${sdkVersion}, node ${process.version})\n`,
    );
  } catch (err) {
    const msg = err instanceof CheckFailed ? err.message : `${err?.name ?? 'Error'}: ${err?.message ?? err}`;
    const extra = transportErrors.length ? `; transport errors: ${JSON.stringify(transportErrors)}` : '';
    fail(msg + extra);
  } finally {
    await Promise.race([client.close().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}

const watchdog = setTimeout(() => fail(`no result within ${TOTAL_MS} ms (hung?)`), TOTAL_MS);
watchdog.unref();
await main();
process.exit(0);
