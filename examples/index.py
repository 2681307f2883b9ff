"""The demo's front page: links to the other examples."""
from mod_python import apache

PAGES = [
    ("/hello", "hello.py: the seed handler, plain text"),
    ("/showreq/some/path?a=1&b=two", "showreq.py: the request object as the handler sees it"),
    ("/broken", "broken.py: an exception with PythonDebug On"),
    ("/guestbook/", "guestbook/: mod_python.publisher + Session + FieldStorage"),
]


def handler(req):
    req.content_type = "text/html; charset=utf-8"
    items = "".join(f'<li><a href="{url}">{url}</a> {text}</li>' for url, text in PAGES)
    req.write(f"<!DOCTYPE html><title>fcgi_handlers demo</title><h1>fcgi_handlers demo</h1><ul>{items}</ul>")
    return apache.OK
