#!/usr/bin/env python3
"""Throughput of the container against the same binary outside it, in the
same run: `throughput.py CONTAINER_PORT HOST_PORT TOKEN [SECONDS] [ROUNDS]`.

Both daemons have the same settings (the container's are the task
definition's; the host's daemon is the release binary given the same
variables), every sandbox layer and the audit on. For `tools/list` and
`execute_command` `echo hi` at concurrency 8 and 64, wrk (scripts/bench's
runner) measures each in alternating rounds, and the best round of each
side gives the ratio container ÷ host. Prints a table; exits 1 only when a
measurement fails (an error response, a socket error).
"""

import importlib.machinery
import importlib.util
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
loader = importlib.machinery.SourceFileLoader("bench", os.path.join(ROOT, "scripts", "bench"))
spec = importlib.util.spec_from_loader("bench", loader)
bench = importlib.util.module_from_spec(spec)
loader.exec_module(bench)


def main():
    container, host, token = sys.argv[1:4]
    seconds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    bench.ensure_wrk()
    headers = {"X-MCP-Auth-Token": token}
    print("%-16s %5s %14s %14s %8s %12s %12s" % ("call", "conc", "container r/s", "host r/s", "ratio",
                                                 "p99 container", "p99 host"))
    with tempfile.TemporaryDirectory() as workdir:
        for label, body in (("tools/list", bench.LIST), ("echo hi", bench.ECHO)):
            for conc in (8, 64):
                best = {}
                for _ in range(rounds):
                    for side, port in (("container", container), ("host", host)):
                        url = "http://127.0.0.1:%s/mcp" % port
                        rate, _, p99 = bench.wrk(url, body, conc, seconds, workdir, headers=headers)
                        if side not in best or rate > best[side][0]:
                            best[side] = (rate, p99)
                ratio = best["container"][0] / best["host"][0]
                print("%-16s %5d %14.0f %14.0f %8.2f %10.2f ms %10.2f ms" % (
                    label, conc, best["container"][0], best["host"][0], ratio, best["container"][1], best["host"][1]),
                    flush=True)


if __name__ == "__main__":
    main()
