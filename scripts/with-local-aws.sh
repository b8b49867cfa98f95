#!/usr/bin/env bash
# Runs a command against a local AWS endpoint. When AWS_ENDPOINT_URL is already set (say, to
# LocalStack) it is used as it is; otherwise moto_server from the repository's venv is started
# on a free loopback port for the duration of the command and stopped afterwards.
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
echo "local AWS endpoint: $AWS_ENDPOINT_URL (moto_server, log in $log)"
"$@"
