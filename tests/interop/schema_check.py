"""Checks every tool's inputSchema and outputSchema against the JSON Schema
2020-12 metaschema, and that real results validate against the declared
outputSchema (success, failure and refusal alike).

Usage: MCP_URL=... MCP_TOKEN=... python schema_check.py   (jsonschema comes with PyPI mcp)
"""

import json
import os
import sys
import urllib.request

from jsonschema import Draft202012Validator

URL = os.environ["MCP_URL"]
TOKEN = os.environ["MCP_TOKEN"]


def rpc(method, params=None):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}).encode()
    request = urllib.request.Request(
        URL, data=body, headers={"Content-Type": "application/json", "X-MCP-Auth-Token": TOKEN}
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.load(response)["result"]


def main():
    tools = rpc("tools/list")["tools"]
    for tool in tools:
        for key in ("inputSchema", "outputSchema"):
            Draft202012Validator.check_schema(tool[key])
    schemas = {tool["name"]: tool["outputSchema"] for tool in tools}
    calls = [
        ("execute_command", {"command": "echo hi"}),
        ("execute_command", {"command": "exit 4"}),
        ("execute_command", {"command": "sleep 5", "timeout": "200ms"}),
        ("execute_command", {"command": "cat; seq 10000", "stdin": "in\n", "max_output_bytes": 100}),
        ("execute_command", {}),
        ("execute_command", {"command": "rm -rf /"}),
        ("list_allowed_commands", {}),
        ("list_blocked_commands", {}),
        ("get_shell_info", {}),
    ]
    for name, arguments in calls:
        result = rpc("tools/call", {"name": name, "arguments": arguments})
        Draft202012Validator(schemas[name]).validate(result["structuredContent"])
        if json.loads(result["content"][0]["text"]) != result["structuredContent"]:
            sys.exit(f"text block differs from structuredContent for {name} {arguments}")
    print(f"OK schemas: {2 * len(tools)} schemas valid under 2020-12, {len(calls)} results match their outputSchema")


if __name__ == "__main__":
    main()
