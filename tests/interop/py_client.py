#!/usr/bin/env python3
"""Interop check: the official Python MCP SDK (PyPI `mcp`) against mcp-commander.

One script for both SDK majors; the interpreter it is run with decides which is used:

  --mode v1         mcp 1.x: streamablehttp_client(url, headers=...) + ClientSession,
                    explicit initialize, list_tools, call_tool.
  --mode v2-auto    mcp 2.x: high-level mcp.Client(..., mode="auto")  (probes
                    server/discover at 2026-07-28, falls back to initialize).
  --mode v2-legacy  mcp 2.x: mcp.Client(..., mode="legacy")  (initialize handshake only).

Environment: MCP_URL (e.g. http://127.0.0.1:PORT/mcp) and MCP_TOKEN (sent as the
X-MCP-Auth-Token header); --url / --token override them.

Checks: the four tools are listed; execute_command {"command": "echo hi"} returns
stdout == "hi\\n" and exit_code == 0 (structured content when present, else the JSON in
the text block). Prints `OK <mode>: tools=<n> stdout=... protocol=...` and exits 0, or
prints `FAIL <mode>: <reason>` to stderr and exits 1. Every step is time-limited.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import warnings

EXPECTED_TOOLS = {"execute_command", "list_allowed_commands", "list_blocked_commands", "get_shell_info"}
MODES = ("v1", "v2-auto", "v2-legacy")


class CheckFailed(Exception):
    pass


def _mcp_version() -> str:
    try:
        from importlib.metadata import version

        return version("mcp")
    except Exception:  # pragma: no cover - metadata missing
        return "unknown"


def _unwrap(exc: BaseException) -> BaseException:
    """Dig the first real exception out of (nested) exception groups."""
    while isinstance(getattr(exc, "exceptions", None), (list, tuple)) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _check_tools(tool_names: list[str]) -> None:
    missing = EXPECTED_TOOLS - set(tool_names)
    if missing:
        raise CheckFailed(f"tools/list is missing {sorted(missing)}; got {sorted(tool_names)}")


def _check_exec_result(result) -> dict:
    """Validate an execute_command CallToolResult (1.x or 2.x shape); return the payload."""
    is_error = getattr(result, "isError", None)
    if is_error is None:
        is_error = getattr(result, "is_error", False)
    structured = getattr(result, "structuredContent", None)
    if structured is None:
        structured = getattr(result, "structured_content", None)
    texts = [c.text for c in (result.content or []) if getattr(c, "type", None) == "text"]
    if is_error:
        raise CheckFailed(f"execute_command returned isError=true: {texts!r}")

    from_text = None
    if texts:
        try:
            from_text = json.loads(texts[0])
        except ValueError as e:
            raise CheckFailed(f"text content block is not JSON ({e}): {texts[0]!r}") from None

    payload = structured if structured is not None else from_text
    if payload is None:
        raise CheckFailed(f"execute_command result has neither structuredContent nor a text block: {result!r}")
    if not isinstance(payload, dict):
        raise CheckFailed(f"execute_command payload is not an object: {payload!r}")
    if structured is not None and from_text is not None and from_text != structured:
        raise CheckFailed(f"text block JSON differs from structuredContent: {from_text!r} != {structured!r}")
    for key in ("stdout", "stderr", "exit_code", "signal", "timed_out", "truncated", "duration_ms"):
        if key not in payload:
            raise CheckFailed(f"execute_command payload lacks {key!r}: {payload!r}")
    if payload["stdout"] != "hi\n":
        raise CheckFailed(f"stdout is {payload['stdout']!r}, expected 'hi\\n' (payload {payload!r})")
    if payload["exit_code"] != 0:
        raise CheckFailed(f"exit_code is {payload['exit_code']!r}, expected 0 (payload {payload!r})")
    return payload


async def run_v1(url: str, token: str, timeout: float) -> tuple[int, dict, str]:
    if not _mcp_version().startswith("1."):
        raise CheckFailed(f"mode v1 needs mcp 1.x (installed: mcp {_mcp_version()})")
    import contextlib
    from datetime import timedelta

    import httpx
    from mcp import ClientSession

    headers = {"X-MCP-Auth-Token": token}
    async with contextlib.AsyncExitStack() as stack:
        try:
            from mcp.client.streamable_http import streamablehttp_client
        except ImportError:  # a later 1.x without the deprecated spelling
            from mcp.client.streamable_http import streamable_http_client

            http = await stack.enter_async_context(httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(timeout)))
            transport = streamable_http_client(url, http_client=http)
        else:
            with warnings.catch_warnings():
                # Deprecated in late 1.x in favour of streamable_http_client(url, http_client=...),
                # but it is the long-standing spelling (mcp >= 1.8) and it still works.
                warnings.simplefilter("ignore", DeprecationWarning)
                transport = streamablehttp_client(url, headers=headers, timeout=timeout, sse_read_timeout=timeout)
        read, write, get_session_id = await stack.enter_async_context(transport)
        async with ClientSession(read, write, read_timeout_seconds=timedelta(seconds=timeout)) as session:
            init = await session.initialize()
            protocol = str(init.protocolVersion)
            tools = await session.list_tools()
            names = [t.name for t in tools.tools]
            _check_tools(names)
            result = await session.call_tool("execute_command", {"command": "echo hi"})
            payload = _check_exec_result(result)
            sid = get_session_id()
            if sid:
                protocol += f" session-id={sid}"
            return len(names), payload, protocol


async def run_v2(url: str, token: str, timeout: float, connect_mode: str) -> tuple[int, dict, str]:
    try:
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client
    except ImportError as e:
        raise CheckFailed(f"mode v2-* needs mcp 2.x (installed: mcp {_mcp_version()}): {e}") from None

    import dataclasses

    if "mode" not in {f.name for f in dataclasses.fields(Client)}:
        raise CheckFailed(f"mcp.Client has no `mode` option (installed: mcp {_mcp_version()})")

    # Client(url_string) builds its own HTTP client with no way to add headers, so hand it a
    # transport over an httpx2 client that carries the auth header.
    http = httpx2.AsyncClient(headers={"X-MCP-Auth-Token": token}, timeout=httpx2.Timeout(timeout))
    async with http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=connect_mode, read_timeout_seconds=timeout) as client:
            protocol = str(client.protocol_version)
            tools = await client.list_tools()
            names = [t.name for t in tools.tools]
            _check_tools(names)
            result = await client.call_tool("execute_command", {"command": "echo hi"})
            payload = _check_exec_result(result)
            return len(names), payload, protocol


async def main_async(args) -> tuple[int, dict, str]:
    if args.mode == "v1":
        coro = run_v1(args.url, args.token, args.timeout)
    else:
        coro = run_v2(args.url, args.token, args.timeout, "auto" if args.mode == "v2-auto" else "legacy")
    try:
        return await asyncio.wait_for(coro, timeout=args.total_timeout)
    except asyncio.TimeoutError:
        raise CheckFailed(f"no result within {args.total_timeout:g}s (hung?)") from None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", required=True, choices=MODES)
    p.add_argument("--url", default=os.environ.get("MCP_URL"))
    p.add_argument("--token", default=os.environ.get("MCP_TOKEN"))
    p.add_argument("--timeout", type=float, default=20.0, help="per-request timeout, seconds (default 20)")
    p.add_argument("--total-timeout", type=float, default=60.0, help="whole-run timeout, seconds (default 60)")
    args = p.parse_args()
    if not args.url:
        print(f"FAIL {args.mode}: MCP_URL (or --url) is not set", file=sys.stderr)
        return 2
    if args.token is None:
        print(f"FAIL {args.mode}: MCP_TOKEN (or --token) is not set", file=sys.stderr)
        return 2

    try:
        n, payload, protocol = asyncio.run(main_async(args))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - report anything as a clear failure
        real = _unwrap(exc)
        if isinstance(real, CheckFailed):
            msg = str(real)
        elif hasattr(real, "error") and hasattr(real.error, "code"):  # mcp.shared.exceptions.MCPError / McpError
            err = real.error
            msg = f"{type(real).__name__} {err.code}: {err.message}"
            if getattr(err, "data", None) is not None:
                msg += f" data={err.data!r}"
            if err.message == "Server returned an error response":
                msg += " (the SDK hides the HTTP status: a non-2xx reply without a JSON-RPC error body, e.g. 401 bad token)"
        else:
            msg = f"{type(real).__name__}: {real}"
        print(f"FAIL {args.mode}: {msg} (mcp {_mcp_version()}, url {args.url})", file=sys.stderr)
        return 1

    print(
        f"OK {args.mode}: tools={n} stdout={json.dumps(payload['stdout'])} "
        f"exit_code={payload['exit_code']} protocol={protocol} (mcp {_mcp_version()})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
