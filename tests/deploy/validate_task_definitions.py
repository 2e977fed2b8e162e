"""Validates deploy/task-definition-*.json against the ECS
RegisterTaskDefinition input model with botocore's own parameter validator
(offline: the model ships with botocore), then checks the hardening fields
the deployment guide promises."""

import json
import pathlib
import sys

import botocore.session
from botocore.validate import ParamValidator

root = pathlib.Path(__file__).resolve().parents[2]
model = botocore.session.get_session().get_service_model("ecs")
shape = model.operation_model("RegisterTaskDefinition").input_shape
failures = []


def check(path, condition, what):
    if not condition:
        failures.append(f"{path.name}: {what}")


for path in sorted((root / "deploy").glob("task-definition-*.json")):
    definition = json.loads(path.read_text())
    report = ParamValidator().validate(definition, shape)
    if report.has_errors():
        failures.append(f"{path.name}: not a valid RegisterTaskDefinition input:\n{report.generate_report()}")
        continue
    fargate = "FARGATE" in definition["requiresCompatibilities"]
    check(path, definition["networkMode"] == "awsvpc", "networkMode is not awsvpc")
    container = definition["containerDefinitions"][0]
    linux = container.get("linuxParameters", {})
    check(path, container.get("readonlyRootFilesystem") is True, "root filesystem is not read-only")
    check(path, not container.get("privileged"), "privileged mode")
    # uid 0 only for four capabilities (Dockerfile): no other may remain.
    check(path, container.get("user") == "0:0", "not the image's user 0:0")
    check(path, linux.get("initProcessEnabled") is True, "no init process")
    capabilities = linux.get("capabilities", {})
    kept = {"CHOWN", "SETGID", "SETUID", "SYS_PTRACE"}
    docker_default = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                      "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
    if capabilities.get("drop") == ["ALL"]:
        left = set(capabilities.get("add", []))
    else:
        # Fargate adds nothing but SYS_PTRACE: the rest is kept by dropping
        # every other default capability.
        left = (docker_default - set(capabilities.get("drop", []))) | set(capabilities.get("add", []))
    check(path, left == kept, f"capabilities left {sorted(left)}, not {sorted(kept)}")
    environment = {e["name"]: e["value"] for e in container.get("environment", [])}
    secrets = {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}
    for name in ("MCP_AUTH_TOKEN", "MCP_ALLOWED_COMMANDS"):
        check(path, secrets.get(name, "").startswith("arn:aws:secretsmanager:"), f"{name} not from Secrets Manager")
    plain = {e["name"] for e in container.get("environment", [])}
    check(path, not plain & {"MCP_AUTH_TOKEN", "MCP_AUDIT_HMAC_KEY"}, "a secret in plain environment")
    if environment.get("MCP_EGRESS_ALLOW"):
        # The proxy is the only way out only while no port bypasses it and
        # no UDP goes around it (deploy/README.md, "Egress").
        check(path, not environment.get("MCP_TCP_CONNECT_PORTS"), "MCP_TCP_CONNECT_PORTS bypasses the egress proxy")
        check(path, environment.get("MCP_ALLOW_UDP", "false") == "false", "UDP goes around the egress proxy")
    check(path, container.get("logConfiguration", {}).get("logDriver") == "awslogs", "logs not to awslogs")
    check(path, "healthcheck" in container.get("healthCheck", {}).get("command", []), "no healthcheck via the binary")
    check(path, container.get("stopTimeout", 0) >= 20, "stopTimeout shorter than the shutdown grace")
    check(path, any(u["name"] == "nofile" for u in container.get("ulimits", [])), "no nofile ulimit")
    if fargate:
        volumes = {v["name"] for v in definition.get("volumes", [])}
        mounts = {m["containerPath"]: m["sourceVolume"] for m in container.get("mountPoints", [])}
        check(path, mounts.get("/tmp") in volumes, "no ephemeral volume on /tmp")
        check(path, "tmpfs" not in linux, "tmpfs is not supported on Fargate")
        # Fargate has no tmpfs, so /tmp cannot be noexec: the definition must
        # say so itself, or the daemon (rightly) refuses to start.
        check(path, environment.get("MCP_SANDBOX_DISABLE") == "noexec", "noexec not explicitly given up on Fargate")
        check(path, "noexec" not in environment.get("MCP_SANDBOX_REQUIRE", "noexec"), "noexec still required")
    else:
        tmpfs = {t["containerPath"]: t for t in linux.get("tmpfs", [])}
        check(path, "/tmp" in tmpfs and tmpfs["/tmp"]["size"] > 0, "no sized tmpfs on /tmp")
        check(path, "noexec" in tmpfs.get("/tmp", {}).get("mountOptions", []), "/tmp is executable")
        check(path, "MCP_SANDBOX_DISABLE" not in environment, "a sandbox layer disabled on EC2")
        check(path, "no-new-privileges" in container.get("dockerSecurityOptions", []), "no no-new-privileges")
        nproc = next((u["softLimit"] for u in container.get("ulimits", []) if u["name"] == "nproc"), None)
        check(path, nproc is not None, "no nproc ulimit")
        # Commands share the daemon's uid: their RLIMIT_NPROC must run out
        # before the daemon's own, or one call starves the daemon of threads.
        command_nproc = int(environment.get("MCP_RLIMIT_NPROC", "512"))
        check(path, nproc is None or nproc >= 2 * command_nproc, "nproc ulimit not above MCP_RLIMIT_NPROC")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("task definitions: valid RegisterTaskDefinition input (botocore " + botocore.__version__ + "), hardening fields present")
