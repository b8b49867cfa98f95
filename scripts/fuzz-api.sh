#!/usr/bin/env bash
# Schemathesis against the local stack: starts pao-local (as `make dev` does, on free ports and
# with names of its own) against the AWS endpoint scripts/with-local-aws.sh gives, reads the
# API's own description from GET /api/v1/openapi.json (signed), and runs every check on every
# operation, signing each call with SigV4 (scripts/schemathesis/hooks.py).
#
#   PAO_FUZZ_API_EXAMPLES   test cases per operation and phase (default 25)
#   PAO_FUZZ_API_SECONDS    time budget for the whole run (default 600)
#   PAO_FUZZ_API_SEED       a fixed seed (make test's short pass uses one); otherwise random
#   PAO_FUZZ_API_WORKERS    concurrent workers (default 2; the short pass uses 1, so that a
#                           fixed seed draws the same cases in the same order every run)
#   PAO_FUZZ_API_REPORT     report formats (default junit,pytest; ndjson, har, html … too)
# Reports (JUnit, and a pytest file reproducing any failure) go to target/fuzz-api/.
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${PAO_FUZZ_API_EXAMPLES:-25}"
workers="${PAO_FUZZ_API_WORKERS:-2}"
seconds="${PAO_FUZZ_API_SECONDS:-600}"
out=target/fuzz-api
rm -rf "$out"
mkdir -p "$out"
work="$(mktemp -d)"
free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Names as template.yaml gives them for an environment of its own.
run_id="fuzz$$"
export PAO_API_PORT="$(free_port)" PAO_JIRA_PORT="$(free_port)" PAO_GITHUB_PORT="$(free_port)" PAO_HTTP_PORT="$(free_port)"
export PAO_CATALOG_GIT_DIR="$work/catalog-repo"
export PAO_ENVIRONMENT="$run_id"
export PAO_TABLE_NAME="pao-$run_id" PAO_TASK_QUEUE_URL="pao-tasks-$run_id.fifo" PAO_DLQ_URL="pao-tasks-dlq-$run_id.fifo"
export PAO_JIRA_SECRET_ID="pao/$run_id/jira" PAO_CURSOR_SECRET_ID="pao/$run_id/cursor-key"
export PAO_GITHUB_TOKEN_SECRET_ID="pao/$run_id/github-token" PAO_GITHUB_WEBHOOK_SECRET_ID="pao/$run_id/github-webhook"
export RUST_LOG="${RUST_LOG:-warn}"
target/debug/pao-local >"$out/pao-local.log" 2>&1 &
stack=$!
trap 'kill $stack 2>/dev/null || true; wait $stack 2>/dev/null || true; rm -rf "$work"' EXIT
api="http://127.0.0.1:$PAO_API_PORT"
export PYTHONPATH="$PWD/scripts/schemathesis${PYTHONPATH:+:$PYTHONPATH}"
# Wait (with a deadline) for the stack, then fetch the description it serves.
.venv/bin/python - "$api" "$work/openapi.json" "$stack" <<'PY'
import os, sys, time, requests
from hooks import SigV4
api, dest, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
auth = SigV4("AKIAPAOLOCALDEV00001", "pao-local-dev-secret", os.environ.get("AWS_REGION", "us-east-1"))
deadline = time.time() + 180
while True:
    try:
        r = requests.get(api + "/api/v1/openapi.json", auth=auth, timeout=5)
        if r.status_code == 200:
            open(dest, "wb").write(r.content)
            break
        if r.status_code >= 500:
            sys.exit(f"GET /api/v1/openapi.json answered {r.status_code}: {r.text}")
    except requests.RequestException:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("pao-local exited; see target/fuzz-api/pao-local.log")
    if time.time() > deadline:
        sys.exit("the local stack did not serve /api/v1/openapi.json within 180 s")
    time.sleep(0.2)
PY
# The description the API serves (the YAML with the submission schema bundled) is valid
# OpenAPI, as generators and gateways will read it.
.venv/bin/openapi-spec-validator "$work/openapi.json"
echo "schemathesis: $examples examples per operation, at most ${seconds}s, against $api"
status=0
SCHEMATHESIS_HOOKS=hooks .venv/bin/schemathesis --config-file scripts/schemathesis/schemathesis.toml \
  run "$work/openapi.json" --url "$api" --checks all \
  --max-examples "$examples" --max-time "$seconds" --workers "$workers" \
  --generation-database none --no-color ${PAO_FUZZ_API_SEED:+--seed "$PAO_FUZZ_API_SEED"} \
  --report "${PAO_FUZZ_API_REPORT:-junit,pytest}" --report-dir "$out" || status=$?
if [ "$status" -ne 0 ]; then
  # The console cuts long tracebacks ("[…]"); the JUnit report keeps them whole. A failure
  # inside schemathesis or Hypothesis themselves shows its first cause here.
  .venv/bin/python - "$out" <<'PY' >&2 || true
import glob, sys, xml.etree.ElementTree as ET
for report in glob.glob(sys.argv[1] + "/junit-*.xml"):
    for case in ET.parse(report).getroot().iter("testcase"):
        for bad in list(case.iter("error")) + list(case.iter("failure")):
            print(f"===== {case.get('name')}: {bad.get('message', '')[:300]}")
            print((bad.text or "")[:20000])
PY
  exit "$status"
fi
