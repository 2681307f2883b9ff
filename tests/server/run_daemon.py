"""``python -m server.run_daemon '<Settings as JSON>'``: the daemon the server tests start as a real process."""

from __future__ import annotations

import atexit
import json
import os
import sys

from fcgi_handlers.server import Arbiter, Settings

from .apps import ATEXIT_DIR_ENV, app_factory, touch


def main() -> int:
    atexit_dir = os.environ.get(ATEXIT_DIR_ENV)
    if atexit_dir:  # registered before the fork: must run in the arbiter only, never in a worker
        atexit.register(lambda: touch(os.path.join(atexit_dir, f"arbiter-{os.getpid()}")))  # pid at exit time
    options = json.loads(sys.argv[1])
    if isinstance(options.get("bind"), list):
        options["bind"] = tuple(options["bind"])
    return Arbiter(Settings(**options), app_factory).run()


if __name__ == "__main__":
    sys.exit(main())
