"""Content handlers for tests/e2e/test_content_phase.py: each exercises one mod_python behaviour.

The same module is served by real mod_python and by the daemon, so every function must work unchanged under both.
"""
import hashlib
import os

from mod_python import apache


def server_return_code(req):
    raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)


def server_return_status(req):
    raise apache.SERVER_RETURN(apache.DONE, apache.HTTP_CREATED)


def server_return_ok_status(req):
    raise apache.SERVER_RETURN(apache.OK, apache.HTTP_ACCEPTED)


def not_found(req):
    return apache.HTTP_NOT_FOUND


def error_headers(req):
    req.err_headers_out["Location"] = "/y"
    req.headers_out["X-Lost"] = "1"
    req.err_headers_out["X-Kept"] = "1"
    return apache.HTTP_MOVED_TEMPORARILY


def status_with_body(req):
    req.status = apache.HTTP_NOT_FOUND
    req.content_type = "text/plain"
    req.write("custom not found\n")
    return apache.OK


def write_then_error(req):
    req.content_type = "text/plain"
    req.write("partial output\n")
    return apache.HTTP_NOT_FOUND


def raises(req):
    raise ValueError("boom <tag> & stuff")


def raises_after_output(req):
    req.content_type = "text/plain"
    req.write("partial output\n")
    raise ValueError("late boom")


def returns_none(req):
    req.write("x")


def multi_headers(req):
    req.content_type = "text/plain"
    req.headers_out.add("X-Multi", "a")
    req.headers_out.add("X-Multi", "b")
    req.headers_out.add("Set-Cookie", "one=1")
    req.headers_out.add("Set-Cookie", "two=2")
    req.write("ok")
    return apache.OK


def options(req):
    req.content_type = "text/plain"
    opts = req.get_options()
    lines = ["%s=%s" % (k, opts[k]) for k in sorted(opts.keys())]
    req.write("\n".join(lines) + "\n")
    return apache.OK


def body_digest(req):
    """read() the whole body; answer its length and sha256."""
    data = req.read()
    req.content_type = "text/plain"
    req.write("%d %s" % (len(data), hashlib.sha256(data).hexdigest()))
    return apache.OK


def body_lines(req):
    """readline() until EOF; answer the line count, the byte count and the sha256 of the concatenation."""
    digest, count, size = hashlib.sha256(), 0, 0
    while True:
        line = req.readline()
        if not line:
            break
        digest.update(line)
        count += 1
        size += len(line)
    req.content_type = "text/plain"
    req.write("%d %d %s" % (count, size, digest.hexdigest()))
    return apache.OK


def chain_first(req):
    req.content_type = "text/plain"
    req.write("first\n")
    return apache.OK


def chain_second(req):
    req.write("second\n")
    return apache.OK


def chain_declined(req):
    return apache.DECLINED


def chain_done(req):
    req.content_type = "text/plain"
    req.write("done\n")
    return apache.DONE


class Greeter:
    def __init__(self, req):
        self.name = "world"

    def hello(self, req):
        req.content_type = "text/plain"
        req.write("hello %s\n" % self.name)
        return apache.OK


def pid(req):
    req.content_type = "text/plain"
    req.write(str(os.getpid()))
    return apache.OK
