"""Schemathesis hooks for PAO: every call is signed with SigV4 (service execute-api), as
API Gateway's AWS_IAM authorization wants, by botocore over the exact bytes requests sends.

Loaded with SCHEMATHESIS_HOOKS=hooks (scripts/fuzz-api.sh puts this directory on
PYTHONPATH). The identity is the local operator, so the /queue routes are reached too;
PAO_FUZZ_ACCESS_KEY / PAO_FUZZ_SECRET_KEY choose another.
"""

import hashlib
import hmac
import os
import re
from urllib.parse import urlsplit

import requests
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

# Headers the signature covers are whatever requests sends; these are the signature's own.
_OWN = {"authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"}


# The local stack's webhook secret (pao_local::runner::LOCAL_WEBHOOK_SECRET).
WEBHOOK_SECRET = os.environ.get("PAO_FUZZ_WEBHOOK_SECRET", "local-webhook-secret").encode()
# The local stack's JIRA webhook signing secret (pao_local::runner::LOCAL_JIRA_WEBHOOK_SECRET).
JIRA_WEBHOOK_SECRET = os.environ.get("PAO_FUZZ_JIRA_WEBHOOK_SECRET", "local-jira-webhook-secret").encode()


class SigV4(requests.auth.AuthBase):
    """Signs a prepared request in place (its final URL, headers and body). A GitHub delivery
    that carries `X-Hub-Signature-256` gets the body's true HMAC instead, as GitHub would
    sign it, so the payloads reach the handler; one sent without it, or with a value that is
    not a signature's shape (a negative case), is left as drawn."""

    def __init__(self, access_key: str, secret_key: str, region: str) -> None:
        self.signer = SigV4Auth(Credentials(access_key, secret_key), "execute-api", region)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        # The framing headers belong to the HTTP layer, not to the API: a drawn Content-Length
        # that is not the body's, or a Transfer-Encoding, makes a message no HTTP server (nor
        # API Gateway's front door) passes on, so PAO never sees it. Sent as a client would.
        for name in [k for k in r.headers if k.lower() in _TRANSPORT]:
            del r.headers[name]
        if body or r.method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            r.headers["Content-Length"] = str(len(body))
        drawn = r.headers.get("X-Hub-Signature-256", "")
        if urlsplit(r.url).path.endswith("/webhooks/github") and re.fullmatch(r"sha256=[0-9a-f]{64}", drawn):
            digest = hmac.new(WEBHOOK_SECRET, body, hashlib.sha256).hexdigest()
            r.headers["X-Hub-Signature-256"] = "sha256=" + digest
        # The same for the JIRA webhook: a well-formed drawn signature is made the right one.
        drawn = r.headers.get("X-Hub-Signature", "")
        if urlsplit(r.url).path.endswith("/webhooks/jira") and drawn.startswith("sha256="):
            digest = hmac.new(JIRA_WEBHOOK_SECRET, body, hashlib.sha256).hexdigest()
            r.headers["X-Hub-Signature"] = "sha256=" + digest
        headers = {k: v for k, v in r.headers.items() if k.lower() not in _OWN}
        signed = AWSRequest(method=r.method, url=r.url, data=body, headers=headers)
        self.signer.add_auth(signed)
        for name in ("Authorization", "X-Amz-Date"):
            r.headers[name] = signed.headers[name]
        return r


schemathesis.auth.set_from_requests(
    SigV4(
        os.environ.get("PAO_FUZZ_ACCESS_KEY", "AKIAPAOLOCALOPERATOR"),
        os.environ.get("PAO_FUZZ_SECRET_KEY", "pao-local-operator-secret"),
        os.environ.get("AWS_REGION", "us-east-1"),
    )
)


@schemathesis.hook
def map_query(ctx, query):
    """A cursor is sealed by the API (HMAC under the deployment's key, bound to the caller and
    the filter): no generator can draw a valid one, and an invalid one is a 400 by design.
    Paging (and every way a cursor is refused) is covered by the Rust tests instead."""
    if query and "cursor" in query:
        del query["cursor"]
    return query


# A second developer (scripts/../local/identities.json): object-level authorization is
# checked by calling again as them.
OTHER = SigV4(
    os.environ.get("PAO_FUZZ_OTHER_ACCESS_KEY", "AKIAPAOLOCALDEV00002"),
    os.environ.get("PAO_FUZZ_OTHER_SECRET_KEY", "pao-local-dev-secret-2"),
    os.environ.get("AWS_REGION", "us-east-1"),
)
_REQUEST_SCOPED = re.compile(r"^/api/v1/requests/[^/]+(/(status|logs|retry|abort|escalate))?$")
_NOT_RESENT = _OWN | {"content-length", "idempotency-key", "host"}


@schemathesis.check
def other_callers_get_nothing(ctx, response, case):
    """Object-level authorization (OWASP API1): a call about one caller's request that
    succeeded answers 404 to any other caller of the API, as if the request did not exist:
    the same call, signed as a second developer, must not read or decide anything."""
    sent = response.request
    path = urlsplit(sent.url).path
    if not (200 <= response.status_code < 300) or not _REQUEST_SCOPED.match(path):
        return None
    headers = {k: v for k, v in sent.headers.items() if k.lower() not in _NOT_RESENT}
    again = requests.request(sent.method, sent.url, data=sent.body, headers=headers, auth=OTHER, timeout=10)
    if again.status_code != 404:
        raise AssertionError(
            f"{sent.method} {path} answered {response.status_code} to its owner and "
            f"{again.status_code} to another caller (expected 404): {again.text[:200]}"
        )
    return None


# Headers of the HTTP layer, not of the API: framing, the target host and hop-by-hop
# headers. A drawn value (`Host: %`, a Content-Length that is not the body's) makes a message
# no HTTP server passes on (hyper here, API Gateway's front door when deployed): it tests the
# server, never PAO, and the client sets them as any client does.
_TRANSPORT = {
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
    "expect", "te", "trailer", "proxy-connection",
}


@schemathesis.hook
def map_headers(ctx, headers):
    """Drops drawn transport headers (see _TRANSPORT)."""
    if headers:
        for name in [k for k in headers if k.lower() in _TRANSPORT]:
            del headers[name]
    return headers
