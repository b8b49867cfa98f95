"""moto_server with DynamoDB operations made atomic.

moto's TransactWriteItems applies its writes one by one and, when a condition fails, puts back
a deep copy of each table taken when it began. Two transactions at once on one table (two
sweepers, say) can therefore undo each other's writes, and a deep copy taken while another
thread writes fails with a 500. Real DynamoDB isolates transactions (serializable with respect
to other writes), so PAO's tests would see behaviour that cannot happen in AWS. This wrapper
runs every DynamoDB backend operation under one lock; nothing else about moto changes.
"""

import functools
import inspect
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_LOCK = threading.RLock()


def _serialised(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)

    return wrapper


for _name, _method in inspect.getmembers(DynamoDBBackend, inspect.isfunction):
    if not _name.startswith("_"):
        setattr(DynamoDBBackend, _name, _serialised(_method))

if __name__ == "__main__":
    sys.exit(main())
