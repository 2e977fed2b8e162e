"""Progress with the PyPI `mcp` 1.x client: while
`for i in 1 2 3; do echo $i; sleep 1; done` runs, notifications/progress
arrive, each carrying its line, before the result.

Usage: MCP_URL=... MCP_TOKEN=... python progress_client.py
"""

import asyncio
import os
import sys
import time
from datetime import timedelta

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

COMMAND = "for i in 1 2 3; do echo $i; sleep 1; done"


async def main() -> None:
    headers = {"X-MCP-Auth-Token": os.environ["MCP_TOKEN"]}
    started = time.monotonic()
    seen: list[tuple[float, float, str]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((time.monotonic() - started, progress, message or ""))

    async with streamablehttp_client(os.environ["MCP_URL"], headers=headers) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool(
                "execute_command",
                {"command": COMMAND},
                read_timeout_seconds=timedelta(seconds=30),
                progress_callback=on_progress,
            )
    finished = time.monotonic() - started
    lines = "".join(message for _, _, message in seen)
    if lines != "1\n2\n3\n":
        sys.exit(f"FAIL progress: notifications carried {lines!r}, expected each line")
    progresses = [progress for _, progress, _ in seen]
    if progresses != sorted(set(progresses)):
        sys.exit(f"FAIL progress: progress not strictly increasing: {progresses}")
    first_line_at = seen[0][0]
    if first_line_at > finished - 1.5:
        sys.exit(f"FAIL progress: first notification at {first_line_at:.2f}s, result at {finished:.2f}s")
    if result.structuredContent["stdout"] != "1\n2\n3\n":
        sys.exit(f"FAIL progress: result {result.structuredContent}")
    print(
        f"OK progress: {len(seen)} notifications, first at {first_line_at:.2f}s, result at {finished:.2f}s, "
        f"lines {lines!r}"
    )


if __name__ == "__main__":
    asyncio.run(asyncio.wait_for(main(), 60))
