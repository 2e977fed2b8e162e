#!/usr/bin/env bash
# Checks the deployment files offline: hadolint on the Dockerfile, cfn-lint
# on the CloudFormation template, checkov on both (skips carry inline
# justifications), the ECS task definitions against botocore's
# RegisterTaskDefinition model and the hardening they promise, and the
# release binary on a read-only root under bubblewrap. Installs the pinned
# linters into tests/deploy/.venv on first use.
#
# Usage: tests/deploy/run.sh [path/to/mcp-commander]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/target/release/mcp-commander}
venv="$here/.venv"
installed=$("$venv/bin/python" -m pip freeze 2>/dev/null | grep -cxF -f "$here/requirements.txt")
if [[ "$installed" -ne $(grep -c . "$here/requirements.txt") ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi

cd "$root"
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"
lint_dockerfile() { "$venv/bin/hadolint" Dockerfile && echo "hadolint $("$venv/bin/hadolint" --version | grep -o '[0-9.]*' | head -1): clean"; }
lint_template() { "$venv/bin/cfn-lint" deploy/cloudformation.yaml && echo "cfn-lint $("$venv/bin/cfn-lint" --version | grep -o '[0-9.]*'): clean"; }
checkov() {
  "$venv/bin/checkov" --quiet --compact --skip-download --framework dockerfile cloudformation \
    -f Dockerfile -f deploy/cloudformation.yaml | grep -E 'Passed checks|Check:|FAILED' | tr '\n' ' '
  return "${PIPESTATUS[0]}"
}
check "hadolint on the Dockerfile" lint_dockerfile
check "cfn-lint on deploy/cloudformation.yaml" lint_template
check "checkov on the Dockerfile and the template" checkov
check "task definitions against RegisterTaskDefinition" "$venv/bin/python" "$here/validate_task_definitions.py"
check "read-only root under bubblewrap" "$here/readonly_root.sh" "$bin"
echo "deploy: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
