"""Smoke test of a deployed PAO: signed with the caller's own AWS credentials (the usual chain:
environment, profile, SSO, instance role), it checks the API answers, submits one request and
follows it until it ends.

    make smoke API=https://<id>.execute-api.<region>.amazonaws.com/Prod/api/v1 \
               [ITEM=cache-redis] [INPUT='{"name": "smoke", ...}'] [TIMEOUT=300]

Exit status 0 when the request completed; 1 (with the request's log) when it failed or did not
end in time; 2 when the API could not be called.
"""

import json
import os
import sys
import time
import urllib.parse

import botocore.session
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

DEFAULT_ITEM = "cache-redis"
DEFAULT_INPUT = {"name": "pao-smoke", "cluster": {"clusterName": "pao-smoke"}}


class Api:
    def __init__(self, base):
        self.base = base.rstrip("/")
        host = urllib.parse.urlparse(self.base).hostname or ""
        # https://<id>.execute-api.<region>.amazonaws.com: the region is in the host.
        parts = host.split(".")
        self.region = (parts[2] if len(parts) > 3 and parts[1] == "execute-api"
                       else os.environ.get("AWS_REGION", "us-east-1"))
        session = botocore.session.get_session()
        credentials = session.get_credentials()
        if credentials is None:
            sys.exit("smoke: no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
        self.credentials = credentials.get_frozen_credentials()

    def call(self, method, path, body=None):
        url = self.base + path
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(self.credentials, "execute-api", self.region).add_auth(request)
        answer = requests.request(method, url, data=data, headers=dict(request.headers), timeout=35)
        try:
            payload = answer.json()
        except ValueError:
            payload = {"raw": answer.text[:500]}
        return answer.status_code, payload


def main():
    base = os.environ.get("API") or (sys.argv[1] if len(sys.argv) > 1 else "")
    if not base:
        sys.exit("usage: make smoke API=https://<id>.execute-api.<region>.amazonaws.com/Prod/api/v1")
    item = os.environ.get("ITEM") or DEFAULT_ITEM
    given = os.environ.get("INPUT")
    payload = json.loads(given) if given else DEFAULT_INPUT
    deadline = time.time() + float(os.environ.get("TIMEOUT") or 300)
    api = Api(base)

    status, body = api.call("GET", "/health")
    print(f"GET /health -> {status}")
    if status != 200:
        print(json.dumps(body), file=sys.stderr)
        print("smoke: the API does not answer a signed call (403: check the caller's execute-api:Invoke grant and AllowedAccounts)", file=sys.stderr)
        return 2
    status, body = api.call("GET", f"/catalog/{urllib.parse.quote(item, safe='')}")
    print(f"GET /catalog/{item} -> {status}")
    if status != 200:
        print(json.dumps(body), file=sys.stderr)
        print("smoke: the catalog item is not there (503: the catalog repository could not be loaded; see GET /catalog/sync)", file=sys.stderr)
        return 2
    submission = {"items": [{"schemaVersion": "catalog/v1", "catalogItemId": item, "input": payload}]}
    status, body = api.call("POST", "/requests", submission)
    print(f"POST /requests -> {status}")
    if status != 202:
        print(json.dumps(body, indent=1), file=sys.stderr)
        return 2
    request_id = body["data"]["requests"][0]["requestId"]
    print(f"request {request_id}")
    last = None
    while True:
        status, body = api.call("GET", f"/requests/{request_id}/status")
        data = body.get("data", {}) if isinstance(body, dict) else {}
        state = data.get("state")
        line = f"  {state}: {data.get('progress', {}).get('text', '')}"
        if line != last:
            print(line)
            last = line
        if state == "completed":
            print("smoke: the request completed")
            return 0
        if state in ("failed", "aborted", "rejected", "escalated") or time.time() > deadline:
            _, logs = api.call("GET", f"/requests/{request_id}/logs")
            print(json.dumps(logs, indent=1), file=sys.stderr)
            print(f"smoke: the request is {state}" + ("" if state else " (no answer)"), file=sys.stderr)
            return 1
        time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
