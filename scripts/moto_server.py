"""moto_server with DynamoDB operations made atomic (and their streams as DynamoDB writes them).

moto's TransactWriteItems applies its writes one by one and, when a condition fails, puts back
a deep copy of each table taken when it began. Two transactions at once on one table (two
sweepers, say) can therefore undo each other's writes, and a deep copy taken while another
thread writes fails with a 500. Real DynamoDB isolates transactions (serializable with respect
to other writes), so PAO's tests would see behaviour that cannot happen in AWS. This wrapper
runs every DynamoDB backend operation under one lock.

Under that lock a transaction no longer needs moto's copy of every table it touches (a copy
whose cost grows with the table, which made a transaction's latency grow with the number of
items stored): it keeps the items it is about to change and puts back only those if a write
fails. Likewise a Query of one partition reads that partition rather than sorting every item
of the table first, and a Query of an index reads the items whose index key matches. SQS calls
compute only the queue attributes they read (moto computes them all, counting the messages one
by one, several times a call). Conditions, errors and results are moto's own; nothing else about
moto changes.
"""

import copy
import functools
import inspect
import sys
import threading

import moto.dynamodb.models as models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.server import main

_LOCK = threading.RLock()


def _serialised(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)

    return wrapper


def _transact_write_items(self, transact_items):
    """moto's TransactWriteItems with an undo log of the touched items instead of a copy of
    each table (callers hold the lock, so nothing else writes meanwhile)."""
    if len(transact_items) > 100:
        raise models.TooManyTransactionsException()
    undo = []  # (table name, key, the item before, or None)
    target_items = set()
    streams = {}  # table name -> its stream's length before the transaction

    def rollback():
        for table_name, key, before in reversed(undo):
            table = self.get_table(table_name)
            if before is None:
                _delete(table, key)
            else:
                _restore(table, before)
        # A cancelled transaction wrote nothing, so its stream shows nothing either (moto
        # recorded each write and each undo).
        for table_name, length in streams.items():
            shard = self.get_table(table_name).stream_shard
            if shard is not None:
                del shard.items[length:]

    errors = []
    for item in transact_items:
        original_item = None
        if len(list(item.keys())) > 1:
            rollback()
            raise models.TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            on_failure = op.get("ReturnValuesOnConditionCheckFailure")
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            if table_name not in streams:
                shard = self.get_table(table_name).stream_shard
                streams[table_name] = len(shard.items) if shard is not None else 0
            marker = (str(table_name), str(dict(sorted(key.items()))))
            if marker in target_items:
                raise models.MultipleTransactionsException()
            target_items.add(marker)
            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition = models.get_filter_expression(condition_expression, names, values)
                if not condition.expr(current):
                    if on_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise models.ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                undo.append((table_name, key, copy.deepcopy(current) if current else None))
            if op_type == "Put":
                self.put_item(table_name, op["Item"], condition_expression=condition_expression,
                              expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(table_name, key, condition_expression=condition_expression,
                                 expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 condition_expression=condition_expression,
                                 expression_attribute_names=names, expression_attribute_values=values)
            errors.append((None, None, None))
        except (models.MultipleTransactionsException, models.MockValidationException):
            rollback()
            raise
        except models.ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: E722 as moto: report it as the item's reason
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        rollback()
        raise models.TransactionCanceledException(errors)


def _delete(table, key):
    hash_value = models.DynamoType(key[table.hash_key_attr])
    range_value = (
        models.DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    )
    table.delete_item(hash_value, range_value)


def _restore(table, before):
    table.put_item(before.to_json()["Attributes"])


DynamoDBBackend.transact_write_items = _transact_write_items

# A stream record's SizeBytes: moto serialises the whole record a second time to count it,
# on every write of a table with a stream (every PAO table), which doubled the cost of a
# write here while DynamoDB's writes cost the same with a stream or without. The sizes of the
# old and new items (moto's own count) stand in for it; PAO never reads SizeBytes.
from moto.dynamodb.models import table as _table_models

_stream_record_init = _table_models.StreamRecord.__init__
_json_dump = _table_models.dynamo_json_dump


def _stream_record(self, table, stream_type, event_name, old, new, seq):
    _table_models.dynamo_json_dump = lambda _record: ""
    try:
        _stream_record_init(self, table, stream_type, event_name, old, new, seq)
    finally:
        _table_models.dynamo_json_dump = _json_dump
    self.record["dynamodb"]["SizeBytes"] = (old.size() if old else 0) + (new.size() if new else 0)


_table_models.StreamRecord.__init__ = _stream_record

_table_query = Table.query


def _query(self, hash_key, *args, **kwargs):
    """moto's Query, given only the items it can match: a base-table Query reads its one
    partition, an index Query the items whose index key attributes equal the query's, instead
    of sorting the whole table first (moto sorts and filters the results after, as before)."""
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if index_name is None and hash_key is not None and self.range_key_attr:
        candidates = list(self.items.get(hash_key, {}).values())
    elif index_name is not None and kwargs.get("hash_key_conditions"):
        wanted = [(name, value.type, value.value) for name, value in kwargs["hash_key_conditions"]]

        def matches(item):
            for name, kind, value in wanted:
                have = item.attrs.get(name)
                if have is None or have.type != kind or have.value != value:
                    return False
            return True

        rows = self.items.values()
        if self.range_key_attr:
            candidates = [item for part in rows for item in part.values() if matches(item)]
        else:
            candidates = [item for item in rows if matches(item)]
    else:
        return _table_query(self, hash_key, *args, **kwargs)
    self.all_items = lambda: candidates  # callers hold the lock
    try:
        return _table_query(self, hash_key, *args, **kwargs)
    finally:
        del self.all_items


Table.query = _query

# moto computes a queue's every attribute whenever one is read, and some of them count the
# queue's messages one by one: a SendMessage (which reads whether the queue deduplicates by
# content), a ReceiveMessage (which reads the retention period once per message it returns) and
# a GetQueueAttributes of a few names (each read three times) grew with the messages waiting.
# While those run, the attributes computed are the ones they read, moto's values unchanged.
import json as _json_attrs

import moto.sqs.models as _sqs
from moto.core.utils import camelcase_to_underscores as _underscored

_READING = threading.local()
_all_attributes = _sqs.Queue.attributes


def _attributes(self):
    names = getattr(_READING, "names", None)
    if names is None:
        return _all_attributes.fget(self)
    groups = [self.BASE_ATTRIBUTES]
    if self.fifo_queue:
        groups.append(self.FIFO_ATTRIBUTES)
    if self.kms_master_key_id:
        groups.append(self.KMS_ATTRIBUTES)
    result = {}
    for group in groups:
        for name in group:
            if name in names:
                value = getattr(self, _underscored(name))
                result[name] = str(value).lower() if isinstance(value, bool) else value
    if "Policy" in names and self.policy:
        result["Policy"] = self.policy
    if "RedrivePolicy" in names and self.redrive_policy:
        result["RedrivePolicy"] = _json_attrs.dumps(self.redrive_policy)
    return result


def _reading(names_of):
    def wrap(method):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            before = getattr(_READING, "names", None)
            _READING.names = names_of(*args, **kwargs)
            try:
                return method(*args, **kwargs)
            finally:
                _READING.names = before

        return wrapper

    return wrap


def _names_asked(self, queue_name, attribute_names, *args, **kwargs):
    return None if "All" in attribute_names else frozenset(attribute_names)


_sqs.Queue.attributes = property(_attributes)
_sqs.SQSBackend.send_message = _reading(lambda *a, **k: {"ContentBasedDeduplication"})(
    _sqs.SQSBackend.send_message
)
_sqs.SQSBackend.receive_message = _reading(lambda *a, **k: {"MessageRetentionPeriod"})(
    _sqs.SQSBackend.receive_message
)
_sqs.SQSBackend.get_queue_attributes = _reading(_names_asked)(_sqs.SQSBackend.get_queue_attributes)

for _name, _method in inspect.getmembers(DynamoDBBackend, inspect.isfunction):
    if not _name.startswith("_"):
        setattr(DynamoDBBackend, _name, _serialised(_method))


# ---------------------------------------------------------------- the IAM recording
#
# With PAO_IAM_RECORD set to a directory, every call is appended to <dir>/calls.jsonl as
# {"key": access key id, "action": "service:Action", "resources": [ARN, ...]}: the IAM action
# and resources AWS would authorise it on (a transaction is authorised per item, a batch per
# table or queue). scripts/deploy_check.py iam checks them against each function's role.

import json as _json
import os as _os
import re as _re

from moto.core.authorization import ActionAuthenticatorMixin

_RECORD = _os.environ.get("PAO_IAM_RECORD")
_RECORD_LOCK = threading.Lock()
_ACCOUNT = "123456789012"
_BATCH = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def _params(response):
    body = getattr(response, "body", None)
    if isinstance(body, dict):
        return body
    raw = getattr(response, "raw_body", None) or body or b""
    try:
        parsed = _json.loads(raw if isinstance(raw, (str, bytes)) else b"{}")
        if isinstance(parsed, dict):
            return parsed
    except ValueError:
        pass
    return {k: (v[0] if isinstance(v, list) else v) for k, v in getattr(response, "querystring", {}).items()}


def _iam_calls(service, action, params, region):
    """(IAM action, resource ARN) pairs one API call is authorised on."""
    if service == "dynamodb":
        table = lambda name: f"arn:aws:dynamodb:{region}:{_ACCOUNT}:table/{name}"  # noqa: E731
        if action == "TransactWriteItems":
            return [(f"dynamodb:{_TRANSACT[op]}", table(body["TableName"]))
                    for item in params.get("TransactItems", []) for op, body in item.items()]
        if action in ("BatchWriteItem", "BatchGetItem"):
            return [(f"dynamodb:{action}", table(name)) for name in params.get("RequestItems", {})]
        name = params.get("TableName", "*")
        if params.get("IndexName"):
            return [(f"dynamodb:{action}", f"{table(name)}/index/{params['IndexName']}")]
        return [(f"dynamodb:{action}", table(name))]
    if service == "sqs":
        url = params.get("QueueUrl") or params.get("QueueName") or "*"
        name = url.rstrip("/").rsplit("/", 1)[-1]
        return [(f"sqs:{_BATCH.get(action, action)}", f"arn:aws:sqs:{region}:{_ACCOUNT}:{name}")]
    if service == "secretsmanager":
        secret = params.get("SecretId") or params.get("Name") or "*"
        if not secret.startswith("arn:"):
            # Every secret ARN ends in 6 random characters; deploy_check.py uses the same ones.
            secret = f"arn:aws:secretsmanager:{region}:{_ACCOUNT}:secret:{secret}-AbCdEf"
        return [(f"secretsmanager:{action}", secret)]
    if service == "kms":
        return [(f"kms:{action}", _kms_key(params.get("KeyId"), region))]
    if service == "dynamodbstreams":
        # Streams are authorised as DynamoDB actions on the stream's ARN.
        stream = params.get("StreamArn") or _stream_of(params.get("ShardIterator"))
        if not stream and params.get("TableName"):
            stream = f"arn:aws:dynamodb:{region}:{_ACCOUNT}:table/{params['TableName']}/stream/*"
        return [(f"dynamodb:{action}", stream or "*")]
    if service == "events" and action == "PutEvents":
        buses = {e.get("EventBusName") or "default" for e in params.get("Entries", [])} or {"default"}
        return [("events:PutEvents", b if b.startswith("arn:") else f"arn:aws:events:{region}:{_ACCOUNT}:event-bus/{b}")
                for b in sorted(buses)]
    if service in ("ses", "sesv2") and action == "SendEmail":
        sender = params.get("FromEmailAddress") or params.get("Source") or "*"
        return [("ses:SendEmail", f"arn:aws:ses:{region}:{_ACCOUNT}:identity/{sender}")]
    if service == "iam" and params.get("RoleName"):
        return [(f"iam:{action}", f"arn:aws:iam::{_ACCOUNT}:role/{params['RoleName']}")]
    if service == "iam" and params.get("UserName"):
        return [(f"iam:{action}", f"arn:aws:iam::{_ACCOUNT}:user/{params['UserName']}")]
    return [(f"{service}:{action}", "*")]


def _stream_of(iterator):
    """The stream a shard iterator reads (moto's iterators begin with the stream's ARN)."""
    return iterator.split("|", 1)[0] if iterator and iterator.startswith("arn:") else None


def _kms_key(key_id, region):
    """The key a KMS call names, as scripts/deploy_check.py names a stack's key: by the alias
    that targets it (a key's id is random), or by its id when it has none."""
    if not key_id:
        return "*"
    name = key_id
    if ":alias/" in key_id or key_id.startswith("alias/"):
        name = "alias/" + key_id.split("alias/", 1)[1]
    else:
        try:
            from moto.kms.models import kms_backends

            backend = kms_backends[_ACCOUNT][region]
            aliases = sorted(a.alias_name for a in backend.list_aliases(backend.any_id_to_key_id(key_id)))
            name = aliases[0] if aliases else key_id.split(":key/")[-1]
        except Exception:  # noqa: BLE001 the recording never breaks a call
            name = key_id.split(":key/")[-1]
    return f"arn:aws:kms:{region}:{_ACCOUNT}:key/{name.removeprefix('alias/')}"


_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action


def _recorded(self, resource="*"):
    if _RECORD:
        try:
            auth = self.headers.get("Authorization", "")
            key = (_re.search(r"Credential=([^/]+)/", auth) or [None, None])[1]
            calls = _iam_calls(self.service_name, self._get_action(), _params(self), self.region)
            # One line per (action, resource) so a transaction's items are each checked.
            lines = [_json.dumps({"key": key, "action": a, "resources": [r]}) for a, r in calls]
            with _RECORD_LOCK, open(_os.path.join(_RECORD, "calls.jsonl"), "a") as f:
                f.write("\n".join(lines) + "\n")
        except Exception as e:  # noqa: BLE001 the recording never changes an answer
            print(f"IAM recording failed: {e!r}", file=sys.stderr)
    action = self._get_action()
    ops = None
    if self.service_name == "dynamodb" and action == "TransactWriteItems":
        # AWS authorises a transaction per item (TransactWriteItems is not an IAM action);
        # moto would look for the operation's name in the policy.
        ops = sorted({_TRANSACT[op] for item in _params(self).get("TransactItems", []) for op in item})
    elif self.service_name == "sqs" and action in _BATCH:
        # A batch is authorised as its single action (sqs:DeleteMessage for DeleteMessageBatch).
        ops = [_BATCH[action]]
    if ops is not None:
        try:
            for op in ops:
                self._get_action = lambda op=op: op
                _authorize(self, resource)
        finally:
            self.__dict__.pop("_get_action", None)
        return None
    return _authorize(self, resource)


ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = _recorded

if __name__ == "__main__":
    sys.exit(main())
