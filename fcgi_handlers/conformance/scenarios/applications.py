"""Applications run by mod_python's helper handlers: PSP pages, WSGI applications, CGI scripts.

mod_python.psp and mod_python.wsgi (mod_python-behaviour.md §4): PSP pages (code, expressions, includes,
comments, indentation, errors, the debug source view) and WSGI applications (environ, input, status and headers,
write(), base_uri). PSP pages are served from the scenario's directory; WSGI applications are handler modules.

mod_python.cgihandler (mod_python-behaviour.md §4): a CGI script in the scenario's directory run inside the
interpreter, its header block parsed (Status, Content-Type, Location, others passed on), os.environ set from the
request. Reading a POST body fails in mod_python on Python 3 (its CGIStdin mixes str and bytes): an intended
difference with the daemon's answer asserted."""
from __future__ import annotations

from dataclasses import replace

from ..scenario import Call, Expect, Scenario, fastcgi_limit, improvement, mod_python_bug
from .bodies import FORM_TYPES

PSP_AREA = "psp"
WSGI_AREA = "wsgi"
PSP_DIRECTIVES = ("AddHandler mod_python .psp .psp_", "PythonHandler mod_python.psp", "PythonDebug On")
PAGES = {
    "hello.psp": b"<p>hello <%= 6 * 7 %></p>\n",
    "loop.psp": b"<ul>\n<%\nfor i in range(3):\n    # the indent persists\n%>\n<li><%= i %></li>\n"
                b"<%\n# ends the block\n%>\n</ul>\n",
    "cond.psp": b"<%\nif req.args == 'yes':\n    answer = 'yes'\nelse:\n    answer = 'no'\n%>\nanswer=<%= answer %>\n",
    "include.psp": b"before\n<%@ include file=\"part.html\" %>\nafter\n",
    "part.html": b"<b>included <%= 'part' %></b>\n",
    "comment.psp": b"a<%-- hidden <%= 1/0 %> --%>b\n",
    "quotes.psp": b'He said "hi" \\ and \'bye\'\t<%= "x" %>\n',
    "error.psp": b"<% raise ValueError('psp boom') %>\n",
    "syntax.psp": b"<% if True %>\n",
    "form.psp": b"name=<%= form.getfirst('name') %>\n",
    "headers.psp": b"<%\nreq.content_type = 'text/plain'\nreq.headers_out['X-Psp'] = '1'\n%>plain\n",
    "redirect.psp": b"<% psp.redirect('/elsewhere') %>\n",
}
WSGI_APP = '''import json


def application(environ, start_response):
    keys = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
            "SERVER_PROTOCOL", "wsgi.url_scheme", "HTTP_X_CUSTOM")
    body = json.dumps({k: environ.get(k) for k in keys}, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def echo(environ, start_response):
    data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("201 Created", [("Content-Type", "application/octet-stream"), ("X-Wsgi", "yes")])
    return [b"got ", data]


def writer(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written ")
    return [b"returned"]


def failing(environ, start_response):
    raise RuntimeError("wsgi boom")


def not_found(environ, start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such thing"]


def text_chunks(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return ["caf\u00e9 ", "str ", b"and bytes"]
'''


def psp(name: str, *calls: Call) -> Scenario:
    return Scenario(name, PSP_AREA, "# pages live in the scenario directory\n", directives=PSP_DIRECTIVES,
                    container="Directory", files=PAGES, calls=calls)


WSGI_STATUS = mod_python_bug("mod_python's wsgi start_response sets only the status line; Apache ignores a "
                              "status line whose code is not r->status, so every WSGI answer is a 200")


def wsgi_directives(app: str, base_uri: str = "") -> tuple[str, ...]:
    directives = ["SetHandler mod_python", "PythonHandler mod_python.wsgi",
                  f"PythonOption mod_python.wsgi.application {{mod}}::{app}"]
    if base_uri:
        directives.append(f"PythonOption mod_python.wsgi.base_uri {base_uri}")
    return tuple(directives)


def wsgi(name: str, app: str, *calls: Call, base_uri: str = "") -> Scenario:
    return Scenario(name, WSGI_AREA, WSGI_APP, directives=wsgi_directives(app, base_uri), calls=calls or (Call(),))


TEMPLATE_SCENARIOS = [
    psp("psp_expression", Call("hello.psp")),
    psp("psp_loop", Call("loop.psp")),
    psp("psp_condition", Call("cond.psp?yes"), Call("cond.psp")),
    psp("psp_include", Call("include.psp")),
    psp("psp_comment", Call("comment.psp")),
    psp("psp_quotes", Call("quotes.psp")),
    Scenario("psp_runtime_error", PSP_AREA, "# pages live in the scenario directory\n", directives=PSP_DIRECTIVES,
             container="Directory", files=PAGES, intended_difference=mod_python_bug(
                 "psp.py re-raises a page's exception with Python 2's three-argument raise ported as "
                 "`raise et(ev).with_traceback(tb)` inside its except block: a new exception chained to the first, "
                 "so the debug page shows the traceback twice"),
             calls=(Call("error.psp", status=500, expect=Expect(contains=[b"During handling of the above exception"]),
                         daemon=Expect(status=500, contains=[b"ValueError: psp boom"],
                                       lacks=[b"During handling of the above exception"])),)),
    psp("psp_syntax_error", Call("syntax.psp", status=500)),
    psp("psp_missing_page", Call("absent.psp", status=404)),
    psp("psp_headers", Call("headers.psp")),
    Scenario("psp_redirect", PSP_AREA, "# pages live in the scenario directory\n", directives=PSP_DIRECTIVES,
             container="Directory", files=PAGES, intended_difference=mod_python_bug(
                 "psp.py re-raises the SERVER_RETURN that psp.redirect() raises as a new SERVER_RETURN(SERVER_RETURN)"
                 ", which the dispatcher reports as an error: the redirect page is followed by a traceback"),
             calls=(Call("redirect.psp", status=302, expect=Expect(contains=[b"Mod_python error"]),
                         daemon=Expect(status=302, headers={"Location": "/elsewhere"},
                                       body=b'<p>The document has moved <a href="/elsewhere">here</a></p>\n')),)),
    psp("psp_head", Call("hello.psp", method="HEAD")),
    psp("psp_debug_source", Call("hello.psp_")),
    Scenario("psp_form", PSP_AREA, "# pages live in the scenario directory\n", directives=PSP_DIRECTIVES,
             container="Directory", files=PAGES, intended_difference=FORM_TYPES,
             calls=(Call("form.psp?name=x&other=y", expect=Expect(body=b"name=b'x'\n"),
                         daemon=Expect(status=200, body=b"name=x\n")),
                    Call("form.psp", method="POST", body=b"name=posted",
                         headers=[("Content-Type", "application/x-www-form-urlencoded")],
                         expect=Expect(body=b"name=None\n"), daemon=Expect(status=200, body=b"name=posted\n")))),
    wsgi("wsgi_environ", "application", Call("sub/path?q=1", headers=[("X-Custom", "c")]),
         base_uri="/cf/wsgi_environ"),
    Scenario("wsgi_environ_location", WSGI_AREA, WSGI_APP,
             description="mounted at the enclosing <Location> (the converter passes its path)",
             directives=("SetHandler mod_python", "PythonHandler mod_python.wsgi",
                         "PythonOption mod_python.wsgi.application {mod}::application"),
             calls=(Call("x", expect=Expect(contains=[b'"PATH_INFO": "/x"',
                                                      b'"SCRIPT_NAME": "/cf/wsgi_environ_location"'])),)),
    Scenario("wsgi_input_status_headers", WSGI_AREA, WSGI_APP, intended_difference=WSGI_STATUS,
             directives=wsgi_directives("echo"),
             calls=(Call(method="POST", body=b"posted body", headers=[("Content-Type", "text/plain")],
                         expect=Expect(body=b"got posted body", headers={"X-Wsgi": "yes"}),
                         daemon=Expect(status=201, body=b"got posted body", headers={"X-Wsgi": "yes"})),)),
    wsgi("wsgi_write_callable", "writer"),
    wsgi("wsgi_str_body", "text_chunks"),
    wsgi("wsgi_app_error", "failing", Call(status=500)),
    Scenario("wsgi_app_status", WSGI_AREA, WSGI_APP, intended_difference=WSGI_STATUS,
             directives=wsgi_directives("not_found"),
             calls=(Call(expect=Expect(body=b"no such thing"), daemon=Expect(status=404, body=b"no such thing")),)),
    wsgi("wsgi_outside_base_uri", "application", Call(status=404), base_uri="/elsewhere"),
    Scenario("wsgi_missing_callable", WSGI_AREA, WSGI_APP, calls=(Call(status=404),),
             directives=("SetHandler mod_python", "PythonHandler mod_python.wsgi",
                         "PythonOption mod_python.wsgi.application {mod}::no_such_app")),
]


CGI_AREA = "cgihandler"
CGI_DIRECTIVES = ("SetHandler mod_python", "PythonHandler mod_python.cgihandler", "PythonDebug On")
SCRIPTS = {
    "hello.py": b'print("Content-Type: text/plain")\nprint()\nprint("hello from cgi")\n',
    "status.py": b'print("Status: 203 Whatever")\nprint("Content-Type: text/plain")\nprint("X-Cgi: 1")\n'
                 b'print()\nprint("non-authoritative")\n',
    "env.py": b'import os\nprint("Content-Type: text/plain")\nprint()\n'
              b'for k in ("REQUEST_METHOD", "QUERY_STRING", "GATEWAY_INTERFACE", "SCRIPT_NAME", "PATH_INFO", '
              b'"SERVER_PROTOCOL", "HTTP_X_CUSTOM", "CONTENT_LENGTH"):\n    print(k, os.environ.get(k))\n',
    "redirect.py": b'print("Location: /elsewhere")\nprint()\n',
    "post.py": b'import sys\ndata = sys.stdin.read()\nprint("Content-Type: text/plain")\nprint()\n'
               b'print("read %r" % data)\n',
    "broken.py": b'print("this is not a header")\n',
}
POST_BUG = mod_python_bug("cgihandler's CGIStdin mixes str and bytes on Python 3, so a script reading a POST body "
                          "raises TypeError (500)")


def cgi(name: str, *calls: Call) -> Scenario:
    return Scenario(name, CGI_AREA, "# scripts live in the scenario directory\n", directives=CGI_DIRECTIVES,
                    container="Directory", files=SCRIPTS, calls=calls)


CGI_SCENARIOS = [
    cgi("cgi_hello", Call("hello.py")),
    cgi("cgi_status_header", Call("status.py", status=203)),
    cgi("cgi_environ", Call("env.py/extra?x=1", headers=[("X-Custom", "c")])),
    replace(cgi("cgi_location", Call("redirect.py")), intended_difference=improvement(
        "a CGI script's bare Location header redirects the client (302, RFC 3875 \u00a76.2.3), as under mod_cgi; "
        "mod_python's cgihandler answers 200 with the Location header, which browsers do not follow"),
        calls=(Call("redirect.py", status=200, daemon=Expect(status=302)),)),
    replace(cgi("cgi_malformed_header", Call("broken.py")), intended_difference=improvement(
        "a CGI script whose output does not start with a header block gets a 500 and an error-log line (Apache's "
        "rule for CGI output) instead of mod_python's empty 200, which hides the broken script"),
        calls=(Call("broken.py", status=200, expect=Expect(body=b""), daemon=Expect(status=500)),)),
    cgi("cgi_missing_script", Call("absent.py", status=404)),
    Scenario("cgi_post_body", CGI_AREA, "# scripts live in the scenario directory\n", directives=CGI_DIRECTIVES,
             container="Directory", files=SCRIPTS, intended_difference=POST_BUG,
             calls=(Call("post.py", method="POST", body=b"a=1", status=500,
                         headers=[("Content-Type", "application/x-www-form-urlencoded")],
                         daemon=Expect(status=200, body=b"read 'a=1'\n")),)),
]

SCENARIOS = [*TEMPLATE_SCENARIOS, *CGI_SCENARIOS]
