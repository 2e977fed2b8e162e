"""/metrics read with the Prometheus project's own text-format parser
(PyPI prometheus-client): the families parse, and the counters move as
calls are made (a command that runs, one the blocklist refuses, a request
without the token)."""

import json
import os
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

URL = os.environ["MCP_URL"]
TOKEN = os.environ["MCP_TOKEN"]
BASE = URL.rsplit("/", 1)[0]


def post(body, token=TOKEN):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-MCP-Auth-Token"] = token
    request = urllib.request.Request(URL, json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(request) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return {"status": error.code}


def scrape():
    request = urllib.request.Request(BASE + "/metrics", headers={"X-MCP-Auth-Token": TOKEN})
    with urllib.request.urlopen(request) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            samples[key] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def call(command):
    return post({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                 "params": {"name": "execute_command", "arguments": {"command": command}}})


before = scrape()
call("echo metrics")
call("rm -rf /")
post({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, token=None)
after = scrape()

checks = [
    ("mcp_commander_tool_calls_total", {"tool": "execute_command", "outcome": "ok"}, 1),
    ("mcp_commander_tool_calls_total", {"tool": "execute_command", "outcome": "denied"}, 1),
    ("mcp_commander_policy_denials_total", {"rule": "blocklist: rm -rf /"}, 1),
    ("mcp_commander_auth_failures_total", {"reason": "token"}, 1),
    ("mcp_commander_requests_total", {"method": "tools/call", "status": "200"}, 2),
    ("mcp_commander_command_duration_seconds_count", {}, 1),
]
failures = []
for name, labels, delta in checks:
    moved = value(after, name, **labels) - value(before, name, **labels)
    if moved < delta:
        failures.append(f"{name}{labels} moved by {moved}, expected {delta}")
if value(after, "mcp_commander_sandbox_layer_enforced", layer="landlock") != 1:
    failures.append("landlock is not reported as enforced")
if value(after, "mcp_commander_audit_records_written_total") < 3:
    failures.append("the audit writer reports fewer than 3 records")
if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"{len({k[0] for k in after})} series parsed by prometheus-client; counters moved as expected")
