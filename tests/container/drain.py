#!/usr/bin/env python3
"""Calls in flight when the container is stopped: `drain.py PORT TOKEN N`
sends N `execute_command` calls at once (each `sleep 1` then a marker of its
own), writes "sent" to stdout when all are on the wire, and when they have
ended prints one JSON summary: how many completed with their marker, how
many were refused with an HTTP status and a JSON-RPC error (a clean
refusal), and how many ended otherwise (a dropped connection, a wrong
answer), with the first few of those.
"""

import json
import sys
import threading
import urllib.error
import urllib.request

port, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
results = [None] * count
ready = threading.Barrier(count + 1)


def call(i):
    body = {"jsonrpc": "2.0", "id": i, "method": "tools/call",
            "params": {"name": "execute_command", "arguments": {"command": "sleep 1; echo drained-%d" % i}}}
    request = urllib.request.Request(
        "http://127.0.0.1:%s/mcp" % port, json.dumps(body).encode(),
        {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
         "X-MCP-Auth-Token": token})
    ready.wait()
    try:
        answer = json.load(urllib.request.urlopen(request, timeout=60))
        content = answer.get("result", {}).get("structuredContent", {})
        if content.get("stdout") == "drained-%d\n" % i:
            results[i] = ("completed", None)
        else:
            results[i] = ("other", json.dumps(answer)[:300])
    except urllib.error.HTTPError as e:
        text = e.read().decode(errors="replace")
        try:
            clean = "error" in json.loads(text)
        except ValueError:
            clean = False
        results[i] = ("refused" if clean else "other", "%d %s" % (e.code, text[:300]))
    except Exception as e:  # a dropped connection, a timeout
        results[i] = ("other", repr(e))


threads = [threading.Thread(target=call, args=(i,)) for i in range(count)]
for t in threads:
    t.start()
ready.wait()
print("sent", flush=True)
for t in threads:
    t.join()
summary = {kind: sum(1 for r in results if r[0] == kind) for kind in ("completed", "refused", "other")}
summary["examples"] = [r[1] for r in results if r[0] != "completed"][:3]
print(json.dumps(summary), flush=True)
