"""moto_server with DynamoDB operations made atomic.

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
of the table first. Conditions, errors and results are moto's own; nothing else about moto
changes.
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

    def rollback():
        for table_name, key, before in reversed(undo):
            table = self.get_table(table_name)
            if before is None:
                _delete(table, key)
            else:
                _restore(table, before)

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

_table_query = Table.query


def _query(self, hash_key, *args, **kwargs):
    """moto's Query, given only the items it can match: a base-table Query reads its one
    partition instead of sorting the whole table first (moto's results are sorted after)."""
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if index_name is None and hash_key is not None and self.range_key_attr:
        partition = list(self.items.get(hash_key, {}).values())
        self.all_items = lambda: partition  # callers hold the lock
        try:
            return _table_query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items
    return _table_query(self, hash_key, *args, **kwargs)


Table.query = _query

for _name, _method in inspect.getmembers(DynamoDBBackend, inspect.isfunction):
    if not _name.startswith("_"):
        setattr(DynamoDBBackend, _name, _serialised(_method))

if __name__ == "__main__":
    sys.exit(main())
