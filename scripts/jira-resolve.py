#!/usr/bin/env python3
"""Resolves a ticket on the local stack's JIRA stand-in, as a person working it would:
through JIRA's REST API (GET then POST /rest/api/2/issue/{key}/transitions), with a resolution,
fields typed on the transition screen, and an optional comment. The stand-in then delivers
its signed jira:issue_updated webhook to PAO.

    make jira-resolve KEY=DBA-1 [RESOLUTION="Won't Do"] [FIELDS='{"customfield_10050": "db.example.com"}'] [COMMENT=...]

Standard library only (a fresh machine has Python, not curl). The stand-in's address and
credentials are the local stack's (PAO_JIRA_PORT, default 8081)."""

import base64
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


def main() -> int:
    key = os.environ.get("KEY", "").strip()
    if not key:
        print("jira-resolve: KEY is required, e.g. make jira-resolve KEY=DBA-1", file=sys.stderr)
        return 2
    resolution = os.environ.get("RESOLUTION", "").strip() or "Done"
    try:
        fields = json.loads(os.environ.get("FIELDS", "").strip() or "{}")
    except json.JSONDecodeError as e:
        print(f"jira-resolve: FIELDS is not JSON: {e}", file=sys.stderr)
        return 2
    if not isinstance(fields, dict):
        print("jira-resolve: FIELDS is a JSON object of field ids and values", file=sys.stderr)
        return 2
    base = os.environ.get("PAO_JIRA_URL", f"http://127.0.0.1:{os.environ.get('PAO_JIRA_PORT', '8081')}")
    auth = base64.b64encode(b"pao@example.com:local-jira-token").decode()
    url = f"{base}/rest/api/2/issue/{urllib.parse.quote(key, safe='')}/transitions"

    def call(method: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Basic {auth}", "Accept": "application/json",
            "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read()
            return json.loads(text) if text else None

    try:
        offered = call("GET")
        done = next(t for t in offered.get("transitions", [])
                    if t.get("to", {}).get("statusCategory", {}).get("key") == "done")
        body = {"transition": {"id": done["id"]},
                "fields": {**fields, "resolution": {"name": resolution}}}
        comment = os.environ.get("COMMENT", "").strip()
        if comment:
            body["update"] = {"comment": [{"add": {"body": comment}}]}
        call("POST", body)
    except urllib.error.HTTPError as e:
        print(f"jira-resolve: JIRA answered {e.code}: {e.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as e:
        print(f"jira-resolve: no JIRA stand-in at {base} (is make dev running?): {e}", file=sys.stderr)
        return 1
    except StopIteration:
        print(f"jira-resolve: {key} offers no transition to done", file=sys.stderr)
        return 1
    print(f"{key} resolved {resolution!r}" + (f" with {json.dumps(fields)}" if fields else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
