#!/usr/bin/env bash
# Runs a command against a local AWS endpoint. When AWS_ENDPOINT_URL is already set (say, to
# LocalStack) it is used as it is; otherwise moto_server from the repository's venv is started
# on a free loopback port for the duration of the command and stopped afterwards.
#
# IAM is enforced on the moto_server started here (PAO_IAM=off turns it off): each function
# gets an IAM user whose policy is its role in the translated template.yaml
# (scripts/moto_iam.py), the command runs as an administrator, and PAO_IAM_KEYS names the file
# with every key (the local runner and the tests sign each function's calls with its own).
# With PAO_IAM_RECORD=<dir>, every call is recorded in <dir>/calls.jsonl for
# `make iam-check`, and the keys are written to <dir>/keys.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
# moto_server runs through scripts/moto_server.py, which makes its DynamoDB operations atomic
# (moto's own TransactWriteItems is not). Other services can still answer a 500 under load,
# which the SDK retries: locally we give it more attempts than the default three.
export AWS_MAX_ATTEMPTS="${AWS_MAX_ATTEMPTS:-10}"
if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
  exec "$@"
fi
# PAO_MOTO_PORT pins the port (make dev uses 4566); otherwise any free one.
port="${PAO_MOTO_PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
log=target/moto-$port.log
mkdir -p target
if [ -n "${PAO_IAM_RECORD:-}" ]; then
  mkdir -p "$PAO_IAM_RECORD"
  PAO_IAM_RECORD="$(cd "$PAO_IAM_RECORD" && pwd)"
  export PAO_IAM_RECORD
fi
.venv/bin/python scripts/moto_server.py -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true; wait $moto 2>/dev/null || true' EXIT
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
# Wait (with a deadline) until the endpoint answers.
.venv/bin/python - "$AWS_ENDPOINT_URL" <<'PY'
import sys, time, urllib.request
deadline = time.time() + 60
while True:
    try:
        urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=2)
        break
    except Exception:
        if time.time() > deadline:
            sys.exit("moto_server did not start within 60 s")
        time.sleep(0.2)
PY
if [ "${PAO_IAM:-enforce}" != off ]; then
  if [ -n "${PAO_IAM_RECORD:-}" ]; then keys="$PAO_IAM_RECORD/keys.json"; else keys="target/moto-$port-keys.json"; fi
  .venv/bin/python scripts/moto_iam.py "$AWS_ENDPOINT_URL" "$keys"
  export PAO_IAM_KEYS="$(cd "$(dirname "$keys")" && pwd)/$(basename "$keys")"
  read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY < <(.venv/bin/python -c \
    'import json,sys; a=json.load(open(sys.argv[1]))["admin"]; print(a["AccessKeyId"], a["SecretAccessKey"])' "$keys")
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
  echo "local AWS endpoint: $AWS_ENDPOINT_URL (moto_server, IAM enforced per function, keys in $keys, log in $log)"
else
  echo "local AWS endpoint: $AWS_ENDPOINT_URL (moto_server, log in $log)"
fi
"$@"
