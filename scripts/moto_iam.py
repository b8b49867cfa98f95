"""Turns IAM on at a moto_server that has just started: one IAM user per PAO function whose
policy is that function's role from the translated template.yaml (Resource `*`: moto checks
actions; scripts/deploy_check.py iam checks resources), an administrator for the tools and
tests that provision stacks, then enforcement from the next call on.

    moto_iam.py ENDPOINT KEYS_FILE

KEYS_FILE receives {"admin"|"api"|"worker"|"github-webhook"|"sweeper":
{"AccessKeyId", "SecretAccessKey"}}; the local runner and the tests sign each function's calls
with its key (pao_local::identity).
"""

import json
import sys
import urllib.request
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
import deploy_check  # noqa: E402


def main(endpoint, keys_file):
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    policies = deploy_check.moto_policies("local")
    policies["admin"] = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    keys = {}
    for name, document in policies.items():
        user = f"pao-{name}"
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="role", PolicyDocument=json.dumps(document))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[name] = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    Path(keys_file).write_text(json.dumps(keys, indent=1))
    # From here on every call is authenticated and authorised.
    urllib.request.urlopen(urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
