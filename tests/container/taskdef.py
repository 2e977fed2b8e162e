#!/usr/bin/env python3
"""Translates an ECS task definition's container into `docker run` options.

The container suite runs the image with exactly what the task definition
says (user, read-only root, capabilities, init process, tmpfs mounts and
their options, ulimits, dockerSecurityOptions, environment, health check,
stop timeout), so the test and the deployment cannot drift. Secrets, which
ECS injects from Secrets Manager, become `--env NAME` (taken from the
caller's environment when set). Port mappings are left out: the suite runs
with host networking on loopback, and `MCP_HOST`/`MCP_PORT` are overridden
by `--set NAME=VALUE`.

Fargate's differences are kept: where the definition has no tmpfs but a
volume on /tmp (an ECS ephemeral volume), a fresh named Docker volume is
mounted there (no noexec, as on Fargate); no dockerSecurityOptions.

With `--runtime-only`, only what the container runtime enforces is kept
(user, root, capabilities, init, mounts, ulimits, security options, stop
timeout): the environment and the health check are the caller's, as when
the test suites start the image in place of the binary (tests/container/daemon).

With `--environment`, prints instead the variables the container gets
(the definition's, the secrets', the `--set` ones) as NAME=VALUE lines, to
give the same binary outside the container the same settings.

Usage: taskdef.py TASK_DEFINITION.json [--set NAME=VALUE ...] [--volume NAME]
                  [--runtime-only | --environment]
prints one option per line, for `mapfile`.
"""

import json
import shlex
import sys


def environment(definition, overrides):
    """The variables the container gets: the definition's, then `overrides`."""
    container = definition["containerDefinitions"][0]
    variables = {e["name"]: e["value"] for e in container.get("environment", [])}
    variables.update(overrides)
    return variables


def options(definition, overrides, volume_name, runtime_only=False):
    container = definition["containerDefinitions"][0]
    out = []
    if container.get("user"):
        out += ["--user", container["user"]]
    if container.get("readonlyRootFilesystem"):
        out.append("--read-only")
    if container.get("privileged"):
        raise SystemExit("the task definition asks for a privileged container")
    linux = container.get("linuxParameters", {})
    if linux.get("initProcessEnabled"):
        out.append("--init")
    capabilities = linux.get("capabilities", {})
    for cap in capabilities.get("drop", []):
        out += ["--cap-drop", cap]
    for cap in capabilities.get("add", []):
        out += ["--cap-add", cap]
    for mount in linux.get("tmpfs", []):
        flags = list(mount.get("mountOptions", []))
        flags.append("size=%dm" % mount["size"])
        out += ["--tmpfs", "%s:%s" % (mount["containerPath"], ",".join(flags))]
    volumes = {v["name"]: v for v in definition.get("volumes", [])}
    for point in container.get("mountPoints", []):
        if point["sourceVolume"] not in volumes:
            raise SystemExit("mount point %s names no volume" % point["sourceVolume"])
        mode = ",readonly" if point.get("readOnly") else ""
        out += ["--mount", "type=volume,source=%s,target=%s%s" % (volume_name, point["containerPath"], mode)]
    for option in container.get("dockerSecurityOptions", []):
        out += ["--security-opt", option]
    for limit in container.get("ulimits", []):
        out += ["--ulimit", "%s=%d:%d" % (limit["name"], limit["softLimit"], limit["hardLimit"])]
    if "stopTimeout" in container:
        out += ["--stop-timeout", str(container["stopTimeout"])]
    if runtime_only:
        return out
    for name, value in environment(definition, overrides).items():
        out += ["--env", "%s=%s" % (name, value)]
    for secret in container.get("secrets", []):
        if secret["name"] not in overrides:
            out += ["--env", secret["name"]]
    check = container.get("healthCheck")
    if check:
        command = check["command"]
        # docker run takes the check as a shell command line; ECS's CMD
        # form runs the same words without a shell.
        if command[0] == "CMD-SHELL":
            out += ["--health-cmd", command[1]]
        else:
            out += ["--health-cmd", shlex.join(command[1:])]
        out += ["--health-interval", "%ds" % check.get("interval", 30)]
        out += ["--health-timeout", "%ds" % check.get("timeout", 5)]
        out += ["--health-retries", str(check.get("retries", 3))]
        out += ["--health-start-period", "%ds" % check.get("startPeriod", 0)]
    return out


def main(argv):
    path = argv[1]
    overrides = {}
    volume_name = "mcp-commander-tmp"
    runtime_only = False
    print_environment = False
    rest = argv[2:]
    while rest:
        flag = rest.pop(0)
        if flag == "--set":
            name, _, value = rest.pop(0).partition("=")
            overrides[name] = value
        elif flag == "--volume":
            volume_name = rest.pop(0)
        elif flag == "--runtime-only":
            runtime_only = True
        elif flag == "--environment":
            print_environment = True
        else:
            raise SystemExit("unknown option %s" % flag)
    with open(path) as handle:
        definition = json.load(handle)
    if print_environment:
        for name, value in environment(definition, overrides).items():
            print("%s=%s" % (name, value))
        return
    for option in options(definition, overrides, volume_name, runtime_only):
        print(option)


if __name__ == "__main__":
    main(sys.argv)
