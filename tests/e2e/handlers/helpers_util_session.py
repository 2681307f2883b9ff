"""Handlers for tests/e2e/test_helpers_util_session.py: mod_python.util's FieldStorage and redirect, and a session
counter, written as mod_python 3.5 handlers (they run unchanged under real mod_python too)."""
import hashlib
import json

from mod_python import Session, apache, util


def form(req):
    """The parsed form as JSON: each field's name, value type, and value (uploads: filename, size, sha256)."""
    fs = util.FieldStorage(req)
    fields = []
    for name, field in fs.items():
        if field.filename:
            data = field.value
            fields.append([name, "upload", field.filename, len(data), hashlib.sha256(data).hexdigest()])
        else:
            fields.append([name, type(field.value).__name__, str(field.value)])
    req.content_type = "application/json"
    req.write(json.dumps(fields))
    return apache.OK


def go(req):
    """util.redirect with the default body."""
    util.redirect(req, "/somewhere/else")


def go_permanent(req):
    """util.redirect, permanent, with a text of our own."""
    util.redirect(req, "/moved/for/good", permanent=1, text="moved!")


def counter(req):
    """Count requests in the session; answers `<count> <new|old> <sid>`."""
    sess = Session.Session(req)
    sess["count"] = sess.get("count", 0) + 1
    sess.save()
    req.content_type = "text/plain"
    req.write("%d %s %s" % (sess["count"], "new" if sess.is_new() else "old", sess.id()))
    return apache.OK
