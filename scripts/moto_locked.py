#!/usr/bin/env python3
"""moto server (DynamoDB, SES, ...) that handles one request at a time.

Stock `moto_server` runs requests on parallel threads over unlocked shared
state: concurrent conditional writes / transactions can over-grant and
return HTTP 500s. Here moto's WSGI app is built exactly as `moto/server.py`
builds it, but every request (including producing its body) runs inside one
process-wide lock, which gives DynamoDB-like serialized semantics.
Caveat: a moto handler that calls back into this same server would deadlock.
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
