"""A guestbook on mod_python.publisher, Session and FieldStorage, written against mod_python's API.

URLs (with the block from README.md in front): /guestbook/ lists the entries and the form, POST /guestbook/sign
adds one. The session remembers the visitor's name and number of entries and holds the form's anti-forgery token;
entries are JSON lines in `PythonOption guestbook.data_dir` (default: <tmp>/fcgi-handlers-guestbook), appended under
an flock, so every worker process of every daemon sharing the directory sees the same book.
"""
import fcntl
import html
import json
import os
import secrets
import tempfile
import time

from mod_python import Session, util

MAX_NAME = 60
MAX_MESSAGE = 2000
SHOWN = 50

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Guestbook</title></head>
<body>
<h1>Guestbook</h1>
<p>{greeting}</p>
<form method="post" action="sign">
  <input type="hidden" name="token" value="{token}">
  <p><label>Name <input name="name" value="{name}" maxlength="{max_name}" required></label></p>
  <p><label>Message<br><textarea name="message" rows="4" cols="50" maxlength="{max_message}" required></textarea>
  </label></p>
  <p><button>Sign</button></p>
</form>
<ul>
{entries}
</ul>
</body></html>
"""


def _book(req):
    directory = req.get_options().get("guestbook.data_dir") or os.path.join(tempfile.gettempdir(),
                                                                             "fcgi-handlers-guestbook")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    return os.path.join(directory, "entries.jsonl")


def _entries(req):
    try:
        with open(_book(req), encoding="utf-8") as book:
            fcntl.flock(book, fcntl.LOCK_SH)
            lines = book.readlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines[-SHOWN:] if line.strip()][::-1]


def _session(req):
    session = Session.Session(req)
    session.setdefault("token", secrets.token_hex(16))
    return session


def index(req):
    session = _session(req)
    name = session.get("name", "")
    signed = session.get("signed", 0)
    greeting = (f"Welcome back, {html.escape(name)}: you signed {signed} time(s)." if name
                else "Leave a message for the next visitor.")
    items = "\n".join(
        f"<li><b>{html.escape(entry['name'])}</b> ({time.strftime('%Y-%m-%d %H:%M', time.gmtime(entry['at']))} UTC)"
        f"<br>{html.escape(entry['message'])}</li>" for entry in _entries(req))
    session.save()
    req.content_type = "text/html; charset=utf-8"
    return PAGE.format(greeting=greeting, token=session["token"], name=html.escape(name, quote=True),
                       max_name=MAX_NAME, max_message=MAX_MESSAGE, entries=items or "<li>No entries yet.</li>")


def sign(req, name="", message="", token=""):
    session = _session(req)
    if req.method != "POST" or not secrets.compare_digest(str(token), session["token"]):
        session.save()
        util.redirect(req, "./")  # a stale or forged form: show the book again
    name, message = str(name).strip()[:MAX_NAME], str(message).strip()[:MAX_MESSAGE]
    if name and message:
        line = json.dumps({"name": name, "message": message, "at": time.time()}) + "\n"
        with open(_book(req), "a", encoding="utf-8") as book:
            fcntl.flock(book, fcntl.LOCK_EX)
            book.write(line)
        session["name"] = name
        session["signed"] = session.get("signed", 0) + 1
    session.save()
    util.redirect(req, "./")
