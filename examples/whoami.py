"""Which daemon answered: the host name (a container's id under Docker) and the worker's process id.

The compose stack routes /whoami here, so a scaled-out deployment shows the balancer spreading requests.
`/whoami?sleep=2` answers after that many seconds (0 to 5): a request that is surely in flight while a daemon is
being stopped.
"""
import os
import socket
import time
from urllib.parse import parse_qs

from mod_python import apache

MAX_SLEEP = 5.0


def handler(req):
    try:
        delay = float(parse_qs(req.args or "").get("sleep", ["0"])[0])
    except ValueError:
        return apache.HTTP_BAD_REQUEST
    if not 0.0 <= delay <= MAX_SLEEP:   # also refuses nan
        return apache.HTTP_BAD_REQUEST
    time.sleep(delay)
    req.content_type = "text/plain"
    req.write(f"host={socket.gethostname()} pid={os.getpid()}\n")
    return apache.OK
