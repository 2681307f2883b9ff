"""The seed handler: the smallest mod_python content handler, served unchanged by mod_python and by the daemon."""
from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    req.write("Hello World!")
    return apache.OK
