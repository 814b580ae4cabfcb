#!/usr/bin/env python3
"""moto server (DynamoDB, SES, ...) that handles one request at a time.

Stock `moto_server` runs requests on parallel threads over unlocked shared
state: concurrent conditional writes / transactions can over-grant and
return HTTP 500s. Here moto's WSGI app is built exactly as `moto/server.py`
builds it, but every request (including producing its body) runs inside one
process-wide lock, which gives DynamoDB-like serialized semantics.
Caveat: a moto handler that calls back into this same server would deadlock.

One patch, for speed only: moto's `TransactWriteItems` backs up the whole
table before *each* item of a transaction (a 66-item transaction copied the
table 66 times); here each table is copied once per transaction, and the
rollback restores that one copy, as before.
"""

import argparse
import logging
import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class Locked:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            body = self.app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                if hasattr(body, "close"):
                    body.close()


def _copy_each_table_once_per_transaction():
    import copy

    import moto.dynamodb.models as models

    backend = getattr(models, "DynamoDBBackend", None)
    original = getattr(backend, "transact_write_items", None)
    if original is None or getattr(models, "copy", None) is not copy:
        return  # another moto: leave it as it is

    def transact_write_items(self, transact_items):
        copies = {}

        class OncePerTable:
            @staticmethod
            def deepcopy(obj, *args, **kwargs):
                if isinstance(obj, models.Table):
                    if id(obj) not in copies:
                        copies[id(obj)] = copy.deepcopy(obj, *args, **kwargs)
                    return copies[id(obj)]
                return copy.deepcopy(obj, *args, **kwargs)

        # Requests run one at a time (the lock above), so swapping the
        # module's `copy` for the call is safe.
        models.copy = OncePerTable
        try:
            return original(self, transact_items)
        finally:
            models.copy = copy

    backend.transact_write_items = transact_write_items


def _exit_now(signum, frame):
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # in-memory state only: skip interpreter teardown


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--verbose", action="store_true", help="log every request")
    args = p.parse_args()

    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto/server.py does
    signal.signal(signal.SIGTERM, _exit_now)
    signal.signal(signal.SIGINT, _exit_now)
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    _copy_each_table_once_per_transaction()
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    print(f"moto_locked listening on http://{args.host}:{args.port}", flush=True)
    run_simple(
        args.host,
        args.port,
        Locked(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
