"""Calls mcp-commander with the official Python SDK (PyPI `mcp` 1.x).

    MCP_URL=https://mcp-commander.internal.example.com/mcp MCP_TOKEN=... python python_client.py
"""

import asyncio
import os

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


async def main() -> None:
    headers = {"X-MCP-Auth-Token": os.environ["MCP_TOKEN"]}
    async with streamablehttp_client(os.environ["MCP_URL"], headers=headers) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            print("tools:", ", ".join(tool.name for tool in tools.tools))
            result = await session.call_tool("execute_command", {"command": "echo hello from mcp-commander"})
            print(result.structuredContent["stdout"], end="")
            if result.isError:
                raise SystemExit(result.structuredContent.get("error"))


asyncio.run(main())
