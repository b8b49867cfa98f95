"""template.yaml as AWS runs it.

`sam deploy` never deploys template.yaml itself: `sam package` replaces each function's
CodeUri with the S3 object it uploaded, and CloudFormation runs the SAM transform
(aws-sam-translator, the library `sam` itself uses) on what was uploaded. Several of PAO's
first-deploy defects (a caller-credential integration, a second API stage, IAM actions that do
not exist) only show in that output, so this script makes it offline, lints it with cfn-lint and
asserts on it.

    deploy_check.py check                 translate, lint, assert (make deploy-check)
    deploy_check.py moto-policies ENV     each function's policies as moto enforces them
    deploy_check.py iam RECORDING KEYS    every recorded AWS call against its function's role

The IAM check evaluates what a function did (recorded at the local AWS endpoint, see
scripts/moto_server.py) against the translated role of that function, actions and resource
ARNs both (moto itself checks actions only), AWS managed policies expanded from
scripts/iam/managed-policies.json.
"""

import copy
import fnmatch
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "deploy-check"
ACCOUNT = "123456789012"  # moto's default account: recorded ARNs carry it
REGION = "us-east-1"
PARTITION = "aws"
SECRET_SUFFIX = "AbCdEf"  # Secrets Manager appends 6 random characters to every secret ARN

# Function logical id -> the name the local stack and the recording use.
FUNCTIONS = {
    "ApiFunction": "api",
    "WorkerFunction": "worker",
    "GithubWebhookFunction": "github-webhook",
    "SweeperFunction": "sweeper",
    "EventsFunction": "events",
}

# The sender the local stack and the tests send notices from (a verified SES identity there).
LOCAL_SENDER = "pao@example.com"

# What a deployer is asked for at least; the second set exercises every optional branch.
PARAMETER_SETS = {
    "defaults": {"EnvironmentName": "dev", "EscalationProject": "OPS"},
    "restricted": {
        "EnvironmentName": "prod",
        "EscalationProject": "OPS",
        "EventBusName": "platform-events",
        "NotifyFromEmail": "pao@platform.example.com",
        "AllowedAccounts": "111111111111,222222222222",
        "AllowedOrganization": "o-abcdefghij",
        "OperatorPrincipals": "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Ops_0123456789abcdef",
        "OperatorTagValue": "",
        "CatalogTokenSecret": "pao/prod/catalog-read-token",
        "ReserveConcurrency": "false",
        "ApiGatewayLogRole": "existing",
        "WorkerTimeoutSeconds": "300",
    },
}


# ------------------------------------------------------------------ translation

def load_template():
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse((ROOT / "template.yaml").read_text())


def package(template):
    """What `sam package` does to the template: each function's code becomes an S3 object
    (named by a digest of its content, here of its build settings)."""
    packaged = copy.deepcopy(template)
    for logical_id, resource in packaged["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            digest = hashlib.md5(json.dumps(resource.get("Metadata", {}), sort_keys=True).encode()).hexdigest()
            resource["Properties"]["CodeUri"] = f"s3://pao-deploy-check-artifacts/pao/{digest}"
    return packaged


class _NoManagedPolicies:
    """PAO's roles name managed policies by ARN, so the translator never needs IAM's list."""

    def load(self):
        return {}


def translate(parameters):
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    from samtranslator.translator.transform import transform

    return transform(package(load_template()), dict(parameters), _NoManagedPolicies())


# ------------------------------------------------------------------ intrinsic functions

class Stack:
    """Evaluates the intrinsic functions of a translated template for one set of parameter
    values, with physical names as CloudFormation would give them."""

    def __init__(self, translated, parameters):
        self.t = translated
        self.params = {}
        for name, decl in translated.get("Parameters", {}).items():
            value = parameters.get(name, decl.get("Default"))
            if value is None:
                raise SystemExit(f"parameter {name} has no default and no value")
            if decl.get("Type") == "CommaDelimitedList":
                value = [v.strip() for v in str(value).split(",")]
            self.params[name] = value
        self.params.update({
            "AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "pao-check", "AWS::NoValue": None,
        })
        self.conditions = {}

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = bool(self.eval(self.t["Conditions"][name]))
        return self.conditions[name]

    def resource(self, logical_id):
        return self.t["Resources"][logical_id]

    def physical(self, logical_id):
        """Ref of a resource."""
        r = self.resource(logical_id)
        p = r.get("Properties", {})
        kind = r["Type"]
        if kind == "AWS::DynamoDB::Table":
            return self.eval(p["TableName"])
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.eval(p['QueueName'])}"
        if kind == "AWS::SecretsManager::Secret":
            return f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:{self.eval(p['Name'])}-{SECRET_SUFFIX}"
        if kind == "AWS::Logs::LogGroup":
            return self.eval(p["LogGroupName"])
        if kind == "AWS::Lambda::Function":
            return self.eval(p.get("FunctionName")) or f"pao-check-{logical_id}"
        if kind == "AWS::Events::EventBus":
            return self.eval(p["Name"])
        return f"{logical_id}-physical-id"

    def get_att(self, logical_id, attribute):
        r = self.resource(logical_id)
        kind = r["Type"]
        p = r.get("Properties", {})
        if attribute == "Arn":
            if kind == "AWS::DynamoDB::Table":
                return f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{self.physical(logical_id)}"
            if kind == "AWS::SQS::Queue":
                return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{self.eval(p['QueueName'])}"
            if kind == "AWS::Logs::LogGroup":
                return f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{self.physical(logical_id)}:*"
            if kind == "AWS::IAM::Role":
                return f"arn:{PARTITION}:iam::{ACCOUNT}:role/{logical_id}"
            if kind == "AWS::Lambda::Function":
                return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{self.physical(logical_id)}"
            if kind == "AWS::Events::EventBus":
                return f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:event-bus/{self.physical(logical_id)}"
            if kind == "AWS::KMS::Key":
                # A key's id is random: the check names a key by the alias that targets it
                # (scripts/moto_server.py records a KMS call's key the same way).
                alias = next((self.eval(a["Properties"]["AliasName"]) for a in self.t["Resources"].values()
                              if a["Type"] == "AWS::KMS::Alias"
                              and a["Properties"].get("TargetKeyId") == {"Ref": logical_id}), logical_id)
                return f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{alias.removeprefix('alias/')}"
        if attribute == "StreamArn" and kind == "AWS::DynamoDB::Table":
            # A stream's label is the time it was made; the check's is fixed.
            return f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{self.physical(logical_id)}/stream/2026-01-01T00:00:00.000"
        if attribute == "QueueName" and kind == "AWS::SQS::Queue":
            return self.eval(p["QueueName"])
        return f"{logical_id}.{attribute}"

    def ref(self, name):
        if name in self.params:
            return self.params[name]
        return self.physical(name)

    def sub(self, text, extra=None):
        extra = extra or {}

        def one(m):
            name = m.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name and name.split(".")[0] in self.t["Resources"]:
                return str(self.get_att(*name.split(".", 1)))
            value = self.ref(name)
            return ",".join(value) if isinstance(value, list) else str(value)

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def eval(self, v):
        if isinstance(v, list):
            out = [self.eval(x) for x in v]
            return [x for x in out if x is not None]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, arg), = v.items()
            if k == "Ref":
                return self.ref(arg)
            if k == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(*parts)
            if k == "Fn::Sub":
                if isinstance(arg, list):
                    return self.sub(arg[0], {n: self.eval(x) for n, x in arg[1].items()})
                return self.sub(arg)
            if k == "Fn::If":
                return self.eval(arg[1] if self.condition(arg[0]) else arg[2])
            if k == "Fn::Join":
                return arg[0].join(str(x) for x in self.eval(arg[1]))
            if k == "Fn::Select":
                return self.eval(arg[1])[int(self.eval(arg[0]))]
            if k == "Fn::Split":
                return str(self.eval(arg[1])).split(arg[0])
            if k == "Fn::FindInMap":
                m, a, b = (self.eval(x) for x in arg)
                return self.t["Mappings"][m][str(a)][b]
            if k == "Fn::Equals":
                a, b = (self.eval(x) for x in arg)
                return a == b
            if k == "Fn::Not":
                return not self.eval(arg[0])
            if k == "Fn::And":
                return all(self.eval(x) for x in arg)
            if k == "Fn::Or":
                return any(self.eval(x) for x in arg)
            if k == "Condition":
                return self.condition(arg)
        return {k: x for k, x in ((k, self.eval(x)) for k, x in v.items()) if x is not None}

    def exists(self, logical_id):
        c = self.resource(logical_id).get("Condition")
        return c is None or self.condition(c)


# ------------------------------------------------------------------ IAM policy evaluation

def _list(v):
    return v if isinstance(v, list) else [v]


def managed_policies():
    data = json.loads((ROOT / "scripts" / "iam" / "managed-policies.json").read_text())
    data.pop("//", None)
    return data


def role_statements(stack, function_id):
    """Every statement of a function's role: its inline policies and its managed ones."""
    fn = stack.resource(function_id)["Properties"]
    role_id = fn["Role"]["Fn::GetAtt"][0]
    role = stack.eval(stack.resource(role_id)["Properties"])
    statements = []
    for policy in role.get("Policies", []):
        statements += _list(policy["PolicyDocument"]["Statement"])
    # Policies of their own attached to the role (AWS::IAM::Policy).
    for r in stack.t["Resources"].values():
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"].get("Roles", []):
            statements += _list(stack.eval(r["Properties"]["PolicyDocument"])["Statement"])
    managed = managed_policies()
    for arn in role.get("ManagedPolicyArns", []):
        if arn not in managed:
            raise SystemExit(f"{function_id}: managed policy {arn} is not in scripts/iam/managed-policies.json")
        statements += _list(managed[arn]["Statement"])
    return statements


def _matches(pattern, value):
    """IAM's wildcard match: * any run, ? one character; case-sensitive for ARNs."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _action_matches(pattern, action):
    return _matches(pattern.lower(), action.lower())


def allowed(statements, action, resource):
    """Identity-policy evaluation of one call: an explicit Deny wins, then any Allow."""
    verdict = False
    for s in statements:
        if "Condition" in s:
            raise SystemExit(f"a role statement has a Condition the check cannot evaluate: {s}")
        acts = s.get("Action")
        hit = (acts is not None and any(_action_matches(a, action) for a in _list(acts))) or (
            "NotAction" in s and not any(_action_matches(a, action) for a in _list(s["NotAction"])))
        if not hit:
            continue
        res = s.get("Resource")
        on = (res is not None and any(_matches(r, resource) for r in _list(res))) or (
            "NotResource" in s and not any(_matches(r, resource) for r in _list(s["NotResource"])))
        if not on:
            continue
        if s["Effect"] == "Deny":
            return False
        verdict = True
    return verdict


# ------------------------------------------------------------------ assertions

class Checks:
    def __init__(self):
        self.failures = []
        self.passed = 0

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failures.append(f"{what}{': ' + detail if detail else ''}")


def of_type(t, kind):
    return {k: r for k, r in t["Resources"].items() if r["Type"] == kind}


def resource_policy_allows(policy, principal_account, principal_org, principal_arn, tags, path):
    """API Gateway's resource policy for one call: 'allow', 'deny' or 'silent'. `path` is the
    execute-api resource below the API (`Prod/GET/api/v1/catalog`)."""
    arn = f"execute-api:/{path}"
    context = {
        "aws:PrincipalAccount": principal_account,
        "aws:PrincipalOrgID": principal_org,
        "aws:PrincipalArn": principal_arn,
    }
    context.update({f"aws:PrincipalTag/{k}": v for k, v in tags.items()})

    def condition_holds(cond):
        for op, pairs in cond.items():
            for key, expected in pairs.items():
                expected = [e for e in _list(expected) if e is not None]
                actual = context.get(key)
                if op == "StringEquals":
                    ok = actual is not None and actual in expected
                elif op == "StringNotEquals":
                    ok = actual is None or actual not in expected
                elif op == "ArnLike":
                    ok = actual is not None and any(_matches(e, actual) for e in expected)
                elif op == "ArnNotLike":
                    ok = actual is None or not any(_matches(e, actual) for e in expected)
                else:
                    raise SystemExit(f"condition operator {op} is not evaluated by the check")
                if not ok:
                    return False
        return True

    verdict = "silent"
    for s in _list(policy["Statement"]):
        res = s.get("Resource")
        on = (res is not None and any(_matches(r, arn) for r in _list(res))) or (
            "NotResource" in s and not any(_matches(r, arn) for r in _list(s["NotResource"])))
        if not on or not condition_holds(s.get("Condition", {})):
            continue
        if s["Effect"] == "Deny":
            return "deny"
        verdict = "allow"
    return verdict


def check_translated(name, parameters, checks):
    t = translate(parameters)
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"template-{name}.json"
    out.write_text(json.dumps(t, indent=1, sort_keys=True))
    stack = Stack(t, parameters)
    c = lambda what, ok, detail="": checks.check(f"[{name}] {what}", ok, detail)  # noqa: E731

    # cfn-lint on what CloudFormation receives: no error, no warning.
    lint = subprocess.run([str(ROOT / ".venv" / "bin" / "cfn-lint"), str(out)], capture_output=True, text=True)
    c("cfn-lint finds nothing on the translated template", lint.returncode == 0, lint.stdout[-3000:] + lint.stderr[-1000:])

    # 1. No integration runs with the caller's credentials.
    apis = of_type(t, "AWS::ApiGateway::RestApi")
    c("one REST API", len(apis) == 1)
    (api_id, api), = apis.items()
    body = api["Properties"]["Body"]
    for path, methods in body["paths"].items():
        for method, op in methods.items():
            integration = op.get("x-amazon-apigateway-integration", {})
            c(f"{method.upper()} {path}: integration without caller credentials",
              "credentials" not in integration, json.dumps(integration.get("credentials")))

    # 2. The resource policy: the webhook open, other accounts only when listed, operators.
    policy = stack.eval(body["x-amazon-apigateway-policy"])
    home = ACCOUNT
    dev_arn = f"arn:aws:iam::{home}:role/Developer"
    listed = [a for a in stack.params["AllowedAccounts"] if a]
    org = stack.params["AllowedOrganization"]
    hook = "Prod/POST/api/v1/webhooks/github"
    c("anyone reaches the webhook (its HMAC is the gate)",
      resource_policy_allows(policy, "999999999999", None, "arn:aws:iam::999999999999:user/x", {}, hook) == "allow")
    c("anyone reaches the JIRA webhook (its signature or token is the gate)",
      resource_policy_allows(policy, "999999999999", None, "arn:aws:iam::999999999999:user/x", {}, "Prod/POST/api/v1/webhooks/jira") == "allow")
    c("a home-account principal is not admitted by the resource policy alone (it needs an IAM grant)",
      resource_policy_allows(policy, home, org or None, dev_arn, {}, "Prod/GET/api/v1/catalog") != "allow")
    c("an unlisted account is not admitted",
      resource_policy_allows(policy, "999999999999", None, "arn:aws:iam::999999999999:role/X", {}, "Prod/GET/api/v1/catalog") != "allow")
    for account in listed:
        c(f"listed account {account} is admitted",
          resource_policy_allows(policy, account, None, f"arn:aws:iam::{account}:role/Dev", {}, "Prod/POST/api/v1/requests") == "allow")
    if org:
        c("a principal of the allowed organization is admitted",
          resource_policy_allows(policy, "333333333333", org, "arn:aws:iam::333333333333:role/Dev", {}, "Prod/GET/api/v1/catalog") == "allow")
        c("a principal of another organization is not",
          resource_policy_allows(policy, "333333333333", "o-zzzzzzzzzz", "arn:aws:iam::333333333333:role/Dev", {}, "Prod/GET/api/v1/catalog") != "allow")
    # 13. Operator routes: refused to a non-operator, whatever else admits them.
    for route in ("Prod/GET/api/v1/queue/stats", "Prod/POST/api/v1/queue/dlq/m-1/redrive", "Prod/POST/api/v1/catalog/refresh"):
        c(f"{route} is denied to a developer", resource_policy_allows(policy, home, None, dev_arn, {}, route) == "deny")
    operators = [p for p in stack.params["OperatorPrincipals"] if p]
    for op in operators:
        c(f"{op} reaches the operator routes",
          resource_policy_allows(policy, home, None, op, {}, "Prod/POST/api/v1/catalog/refresh") != "deny")

    # 8. One stage, the configured one; 9. access logs with retention.
    stages = of_type(t, "AWS::ApiGateway::Stage")
    c("exactly one API stage", len(stages) == 1, ", ".join(stages))
    for dep_id, dep in of_type(t, "AWS::ApiGateway::Deployment").items():
        c(f"deployment {dep_id} creates no stage of its own", "StageName" not in dep["Properties"])
    for stage_id, stage in stages.items():
        log = stack.eval(stage["Properties"].get("AccessLogSetting", {}))
        fmt = log.get("Format", "")
        c(f"{stage_id} writes access logs", bool(log.get("DestinationArn")))
        for var in ("$context.identity.userArn", "$context.status", "$context.responseLatency", "$context.requestId"):
            c(f"{stage_id} access log has {var}", var in fmt)
        try:
            json.loads(re.sub(r"\$context\.[A-Za-z.]+", "x", fmt))
            c(f"{stage_id} access log format is JSON", True)
        except ValueError as e:
            c(f"{stage_id} access log format is JSON", False, str(e))
        dest = stage["Properties"].get("AccessLogSetting", {}).get("DestinationArn")
        c(f"{stage_id} logs to the stack's log group", "ApiAccessLogGroup" in json.dumps(dest))
    groups = of_type(t, "AWS::Logs::LogGroup")
    for gid, g in groups.items():
        c(f"log group {gid} has a retention", "RetentionInDays" in g["Properties"])
    c("access log group exists", "ApiAccessLogGroup" in groups)

    # 10. The API answers inside API Gateway's 29 s.
    fns = of_type(t, "AWS::Lambda::Function")
    api_fn = stack.eval(fns["ApiFunction"]["Properties"])
    c("ApiFunction timeout within API Gateway's 29 s", int(api_fn["Timeout"]) <= 29, str(api_fn["Timeout"]))
    hook_fn = stack.eval(fns["GithubWebhookFunction"]["Properties"])
    c("GithubWebhookFunction timeout within 29 s", int(hook_fn["Timeout"]) <= 29, str(hook_fn["Timeout"]))

    # 11. Concurrency bounds; 5. dead-letter threshold; visibility six times the worker's timeout.
    worker = stack.eval(fns["WorkerFunction"]["Properties"])
    worker.setdefault("Timeout", 3)
    mappings = {mid: stack.eval(m["Properties"]) for mid, m in of_type(t, "AWS::Lambda::EventSourceMapping").items()}
    queue_maps = {mid: p for mid, p in mappings.items() if ":sqs:" in json.dumps(p.get("EventSourceArn"))}
    stream_maps = {mid: p for mid, p in mappings.items() if "/stream/" in json.dumps(p.get("EventSourceArn"))}
    c("one task queue mapping and one stream mapping, nothing else",
      len(queue_maps) == 1 and len(stream_maps) == 1 and len(mappings) == 2, ", ".join(mappings))
    for mid, p in mappings.items():
        c(f"{mid} reports partial batch failures", p.get("FunctionResponseTypes") == ["ReportBatchItemFailures"])
    for mid, p in queue_maps.items():
        c(f"{mid} has a maximum concurrency", "MaximumConcurrency" in p.get("ScalingConfig", {}))
        if stack.params.get("ReserveConcurrency", "true") == "true":
            c("worker reserved concurrency covers the mapping's maximum",
              int(worker.get("ReservedConcurrentExecutions", 0)) >= int(p.get("ScalingConfig", {}).get("MaximumConcurrency", 10**6)))
    # Events: every change retried a bounded number of times, in order, then described in the
    # events dead-letter queue (which alarms); the function's own marks never invoke it.
    for mid, p in stream_maps.items():
        c(f"{mid} reads the table's stream", p.get("EventSourceArn") == stack.get_att("PaoTable", "StreamArn"))
        c(f"{mid} retries a bounded number of times", 0 <= int(p.get("MaximumRetryAttempts", -1)) <= 100)
        c(f"{mid} keeps a stream shard's order (one batch at a time)", int(p.get("ParallelizationFactor", 1)) == 1)
        c(f"{mid} waits for no batching window", int(p.get("MaximumBatchingWindowInSeconds", 0)) == 0)
        dest = p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        c(f"{mid} sends what it gave up on to the events dead-letter queue",
          dest == stack.get_att("EventsDeadLetterQueue", "Arn"), str(dest))
        patterns = [json.loads(f["Pattern"]) for f in p.get("FilterCriteria", {}).get("Filters", [])]
        prefixes = [x for pat in patterns for x in pat["dynamodb"]["Keys"]["pk"]["S"]]
        c(f"{mid} is invoked for requests and the catalog pointer only",
          {"prefix": "REQ#"} in prefixes and "CATALOG" in prefixes and not any("EVENT" in json.dumps(x) for x in prefixes))
    table = stack.eval(t["Resources"]["PaoTable"]["Properties"])
    c("the table's stream carries old and new images",
      table.get("StreamSpecification", {}).get("StreamViewType") == "NEW_AND_OLD_IMAGES")
    alarm_on = lambda queue_id: any(  # noqa: E731
        json.dumps({"Fn::GetAtt": [queue_id, "QueueName"]}) in json.dumps(a["Properties"].get("Dimensions"))
        for a in of_type(load_template(), "AWS::CloudWatch::Alarm").values())
    c("the events dead-letter queue has an alarm", alarm_on("EventsDeadLetterQueue"))
    bus = stack.params.get("EventBusName", "")
    bus_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus or 'pao-' + stack.params['EnvironmentName']}"
    c(f"the stack {'uses the bus ' + bus if bus else 'makes its own bus'}", stack.exists("EventBus") == (not bus))
    for fid in FUNCTIONS:
        st = role_statements(stack, fid)
        publishes = fid == "EventsFunction"
        c(f"{fid} {'may' if publishes else 'may not'} publish to {bus_arn}", allowed(st, "events:PutEvents", bus_arn) == publishes)
        c(f"{fid} may not publish to another bus", not allowed(st, "events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/other"))
    # Email: only from the configured sender (its address or domain identity), only by events.
    sender = stack.params.get("NotifyFromEmail", "")
    for fid in FUNCTIONS:
        st = role_statements(stack, fid)
        for identity in ([sender, sender.split("@")[1]] if sender else ["pao@example.com"]):
            arn = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{identity}"
            should = fid == "EventsFunction" and bool(sender)
            c(f"{fid} {'may' if should else 'may not'} send email as {identity}", allowed(st, "ses:SendEmail", arn) == should)
        c(f"{fid} may not send email as anyone else", not allowed(st, "ses:SendEmail", f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/ceo@example.com"))
    # Live status: IAM on $connect only (the rest ride on the connection), the API function
    # answers, only the events function pushes, and only to this stack's live API.
    routes = {stack.eval(r["Properties"]["RouteKey"]): stack.eval(r["Properties"]) for r in of_type(t, "AWS::ApiGatewayV2::Route").values()}
    c("the live API has $connect, $disconnect and $default", sorted(routes) == ["$connect", "$default", "$disconnect"], str(sorted(routes)))
    c("$connect is IAM-authorized", routes.get("$connect", {}).get("AuthorizationType") == "AWS_IAM")
    live_id = stack.physical("LiveApi")
    manage = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{live_id}/live/POST/@connections/abc="
    for fid in FUNCTIONS:
        st = role_statements(stack, fid)
        pushes = fid == "EventsFunction"
        c(f"{fid} {'may' if pushes else 'may not'} push to live connections", allowed(st, "execute-api:ManageConnections", manage) == pushes)
        c(f"{fid} may not manage another API's connections",
          not allowed(st, "execute-api:ManageConnections", f"arn:aws:execute-api:{REGION}:{ACCOUNT}:otherapi/live/POST/@connections/abc="))
    integration = stack.eval(next(iter(of_type(t, "AWS::ApiGatewayV2::Integration").values()))["Properties"])
    c("the live API's routes go to the API function", "ApiFunction" in json.dumps(integration.get("IntegrationUri")) or "pao-api" in json.dumps(integration.get("IntegrationUri")), json.dumps(integration.get("IntegrationUri")))
    events_fn = stack.eval(fns["EventsFunction"]["Properties"])
    c("EventsFunction is told the bus", events_fn["Environment"]["Variables"]["PAO_EVENT_BUS_NAME"] == (bus or f"pao-{stack.params['EnvironmentName']}"),
      str(events_fn["Environment"]["Variables"].get("PAO_EVENT_BUS_NAME")))
    if stack.params.get("ReserveConcurrency", "true") == "true":
        sweeper = stack.eval(fns["SweeperFunction"]["Properties"])
        c("sweeper has reserved concurrency", int(sweeper.get("ReservedConcurrentExecutions", 0)) >= 1)
    queue = stack.eval(t["Resources"]["TaskQueue"]["Properties"])
    c("maxReceiveCount at least 5", int(queue["RedrivePolicy"]["maxReceiveCount"]) >= 5)
    c("visibility timeout six times the worker's timeout",
      int(queue["VisibilityTimeout"]) >= 6 * int(worker["Timeout"]), f"{queue['VisibilityTimeout']} vs {worker['Timeout']}")

    # 7. Only real IAM actions; 3 and 14. secrets per function.
    for fid in FUNCTIONS:
        st = role_statements(stack, fid)
        actions = [a for s in st for a in _list(s.get("Action", []))]
        c(f"{fid} names no transaction action (authorised per item)",
          not any(a.lower() == "dynamodb:transactwriteitems" for a in actions))
    env = stack.params["EnvironmentName"]
    secret = lambda name: f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-{SECRET_SUFFIX}"  # noqa: E731
    catalog_token = stack.params.get("CatalogTokenSecret", "") or f"pao/{env}/github-token"
    expect = {
        "ApiFunction": {f"pao/{env}/cursor-key", f"pao/{env}/jira", catalog_token},
        "WorkerFunction": {f"pao/{env}/jira", f"pao/{env}/github-token", f"pao/{env}/catalog/cmdb-token"},
        # The JIRA webhook: its own secret, and the instances it asks about a ticket.
        "GithubWebhookFunction": {f"pao/{env}/github-webhook", f"pao/{env}/jira-webhook", f"pao/{env}/jira", catalog_token},
        # Polls workflow runs and waiting tickets.
        "SweeperFunction": {f"pao/{env}/github-token", f"pao/{env}/jira"},
        # The Slack bot token.
        "EventsFunction": {f"pao/{env}/slack"},
    }
    every = {f"pao/{env}/{n}" for n in ("cursor-key", "jira", "github-token", "github-webhook", "jira-webhook", "slack", "catalog/cmdb-token", "catalog/x/y", "catalog-elsewhere")}
    every |= {catalog_token}
    for fid, wanted in expect.items():
        st = role_statements(stack, fid)
        for secret_name in sorted(every):
            should = secret_name in wanted or (fid == "WorkerFunction" and secret_name.startswith(f"pao/{env}/catalog/"))
            may = allowed(st, "secretsmanager:GetSecretValue", secret(secret_name))
            c(f"{fid} {'reads' if should else 'cannot read'} secret {secret_name}", may == should)
        # Callers' tags (catalog access rules): the API only, read-only, this account only.
        reads_tags = fid == "ApiFunction"
        for action, arn in (("iam:ListRoleTags", f"arn:aws:iam::{ACCOUNT}:role/DBA"),
                            ("iam:ListUserTags", f"arn:aws:iam::{ACCOUNT}:user/teams/omar")):
            c(f"{fid} {'may' if reads_tags else 'may not'} {action} in its account",
              allowed(st, action, arn) == reads_tags)
        c(f"{fid} may not read tags of another account's roles",
          not allowed(st, "iam:ListRoleTags", "arn:aws:iam::999999999999:role/DBA"))
        c(f"{fid} may not change IAM", not allowed(st, "iam:TagRole", f"arn:aws:iam::{ACCOUNT}:role/DBA"))
    return t


def check():
    checks = Checks()
    for name, parameters in PARAMETER_SETS.items():
        check_translated(name, parameters, checks)
    # 6. OperatorPrincipals: the template's pattern and Config::from_env's rule agree.
    t = load_template()
    pattern = t["Parameters"]["OperatorPrincipals"].get("AllowedPattern", ".*")
    for value, ok in [
        ("", True), ("arn:aws:iam::123456789012:role/Ops", True),
        ("arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Ops_1", True),
        ("arn:aws:iam::*:role/Platform*", True), ("arn:aws:sts::123456789012:assumed-role/Ops/alice", True),
        ("123456789012", False), ("*", False), ("arn:aws:s3:::bucket", False), ("ops", False),
    ]:
        checks.check(f"OperatorPrincipals pattern {'accepts' if ok else 'refuses'} {value!r}",
                     (re.fullmatch(pattern, value) is not None) == ok)
    # 19. Escalation works out of the box: the project must be given.
    checks.check("EscalationProject has no (empty) default", "Default" not in t["Parameters"]["EscalationProject"])
    for f in checks.failures:
        print(f"FAIL {f}")
    print(f"deploy-check: {checks.passed} passed, {len(checks.failures)} failed (translated templates in {OUT.relative_to(ROOT)})")
    return 1 if checks.failures else 0


# ------------------------------------------------------------------ IAM at the local endpoint

def moto_policies(environment):
    """Each function's policy documents for moto's IAM users: the translated role's statements
    with Resource `*` (moto checks actions; resources are checked by `iam` below)."""
    parameters = dict(PARAMETER_SETS["defaults"], EnvironmentName=environment, NotifyFromEmail=LOCAL_SENDER)
    t = translate(parameters)
    stack = Stack(t, parameters)
    out = {}
    for fid, name in FUNCTIONS.items():
        statements = []
        for s in role_statements(stack, fid):
            s = {k: v for k, v in s.items() if k not in ("Resource", "NotResource")}
            s["Resource"] = "*"
            statements.append(s)
        out[name] = {"Version": "2012-10-17", "Statement": statements}
    return out


def iam(recording, keys_file):
    """Every call recorded at the local endpoint, made with a function's key, checked against
    that function's translated role with real resource ARNs. A stack's environment name is
    read off the resource it names (the local stacks use the template's naming)."""
    keys = json.loads(Path(keys_file).read_text())
    function_of = {v["AccessKeyId"]: k for k, v in keys.items() if k in FUNCTIONS.values()}
    local = dict(PARAMETER_SETS["defaults"], NotifyFromEmail=LOCAL_SENDER)
    t = translate(local)
    marker = "envmarker"
    stack = Stack(t, dict(local, EnvironmentName=marker))
    by_name = {name: role_statements(stack, fid) for fid, name in FUNCTIONS.items()}
    env_re = "(?P<env>[a-z][a-z0-9-]{1,15})"
    known = []
    for logical_id, r in t["Resources"].items():
        if r["Type"] in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SecretsManager::Secret", "AWS::KMS::Key", "AWS::Events::EventBus"):
            arn = stack.get_att(logical_id, "Arn") if r["Type"] != "AWS::SecretsManager::Secret" else stack.physical(logical_id)
            known.append((logical_id, re.escape(arn).replace(marker, env_re)))
    # The table's stream (its label is the time it was made).
    stream = stack.get_att("PaoTable", "Arn")
    known.append(("table stream", re.escape(stream).replace(marker, env_re) + "/stream/.+"))
    catalog = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:pao/{marker}/catalog/"
    known.append(("catalog secret", re.escape(catalog).replace(marker, env_re) + ".+"))
    # The local sender's SES identity (not a stack resource: verified once per account).
    known.append(("SES identity", "(?P<env>)" + re.escape(f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{LOCAL_SENDER}")))
    # The account's roles and users (callers whose IAM tags the API reads): not the stack's
    # resources, so no environment in their names.
    known.append(("account principals", "(?P<env>)" + re.escape(f"arn:aws:iam::{ACCOUNT}:") + "(role|user)/.+"))

    failures, seen = [], {}
    calls = [json.loads(line) for line in Path(recording).read_text().splitlines() if line.strip()]
    for call in calls:
        fn = function_of.get(call["key"])
        if fn is None:
            continue
        for resource in call["resources"]:
            target = resource.split("/index/")[0] if ":dynamodb:" in resource else resource
            env = next((m.group("env") for _, rx in known if (m := re.fullmatch(rx, target))), None)
            # A stream's label is the time it was made: one line for every stream.
            shown = re.sub(r"/stream/.+$", "/stream/<label>", resource)
            key = (fn, call["action"], re.sub(env, "<env>", shown) if env else shown)
            if key in seen:
                continue
            statements = json.loads(json.dumps(by_name[fn]).replace(marker, env or marker))
            ok = env is not None and allowed(statements, call["action"], resource)
            seen[key] = ok
            if not ok:
                why = "a resource template.yaml does not declare" if env is None else "the role does not allow it"
                failures.append(f"{fn}: {call['action']} on {resource}: {why}")
    for (fn, action, resource), ok in sorted(seen.items()):
        print(f"{'ok  ' if ok else 'DENY'} {fn:15} {action:40} {resource}")
    for f in failures:
        print(f"FAIL {f}")
    used = {fn for fn, _, _ in seen}
    missing = sorted(set(FUNCTIONS.values()) - used)
    if missing:
        failures.append(f"no call recorded for {', '.join(missing)}")
        print(f"FAIL no call recorded for {', '.join(missing)} (did the tests run under the functions' keys?)")
    print(f"iam: {len(seen)} distinct calls of {len(calls)} recorded checked against the translated roles, {len(failures)} denied")
    return 1 if failures else 0


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "check"
    if cmd == "check":
        sys.exit(check())
    if cmd == "moto-policies":
        print(json.dumps(moto_policies(sys.argv[2])))
        sys.exit(0)
    if cmd == "iam":
        sys.exit(iam(sys.argv[2], sys.argv[3]))
    sys.exit(f"usage: {sys.argv[0]} check | moto-policies ENV | iam RECORDING KEYS")
