"""mod_python.publisher through the dispatcher: URL mapping, methods, form arguments, publishing rules, the page
cache and the security refusals (docs/mod_python-facts.md §7)."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from pages_harness import Site, site  # noqa: F401 - the fixture

PAGE = '''
class Thing:
    def meth(self, req):
        return "index.inst.meth"

inst = Thing()

def index(req):
    return "index.index"

def hello(req):
    return "index.hello"

def other(req):
    return "index.other"
'''


def page_named(name: str) -> str:
    return f'''
def index(req):
    return "{name}.index"

def f(req):
    return "{name}.f"
'''


@pytest.mark.parametrize("url, expected", [
    ("/pub/", "index.index"),
    ("/pub", "index.index"),
    ("/pub/hello", "index.hello"),
    ("/pub/hello/", "index.hello"),
    ("/pub/index.py/hello", "index.hello"),
    ("/pub/index/hello", "index.hello"),
    ("/pub/inst/meth", "index.inst.meth"),
    ("/pub/mod", "mod.index"),
    ("/pub/mod.py", "mod.index"),
    ("/pub/mod/f", "mod.f"),
    ("/pub/mod.py/f", "mod.f"),
])
def test_url_maps_to_module_and_object(site: Site, url: str, expected: str) -> None:
    site.write("pub/index.py", PAGE)
    site.write("pub/mod.py", page_named("mod"))
    result = site.get(url)
    assert (result.status, result.text) == (200, expected)


def test_missing_index_is_404(site: Site) -> None:
    site.write("noindex/mod.py", page_named("mod"))
    assert site.get("/noindex/missing").status == 404
    assert site.get("/noindex/").status == 404
    assert site.get("/noindex/mod/f").text == "mod.f"


def test_extension_from_handler_list_is_stripped(site: Site) -> None:
    site.write("pub/page.py", page_named("page"))
    params = site.params("/pub/page.html/f", directives={"PythonHandler": "mod_python.publisher | .html"})
    result = site.run(params)
    assert (result.status, result.text) == (200, "page.f")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS", "PATCH"])
def test_only_get_post_head(site: Site, method: str) -> None:
    site.write("pub/index.py", PAGE)
    result = site.get("/pub/", method=method)
    assert result.status == 405
    allowed = set((result.header("Allow") or "").split(","))
    assert {"GET", "POST", "HEAD"} <= allowed and method not in allowed


def test_head_sends_headers_without_body(site: Site) -> None:
    site.write("pub/index.py", PAGE)
    result = site.get("/pub/hello", method="HEAD")
    assert (result.status, result.header("Content-Type"), result.body) == (200, "text/plain", b"")


FORM_PAGE = '''
def echo(req, a, b="default", c=None):
    return f"{a!r} {b!r} {c!r} {type(req.form).__name__}"

def anything(req, **kw):
    return ",".join(f"{k}={v}" for k, v in sorted(kw.items()))
'''


def test_query_arguments_become_keywords(site: Site) -> None:
    site.write("f/index.py", FORM_PAGE)
    assert site.get("/f/echo?a=1&b=2").text == "'1' '2' None FieldStorage"


def test_keep_blank_values(site: Site) -> None:
    site.write("f/index.py", FORM_PAGE)
    assert site.get("/f/echo?a=&c=").text == "'' 'default' '' FieldStorage"


def test_post_body_arguments(site: Site) -> None:
    site.write("f/index.py", FORM_PAGE)
    result = site.get("/f/echo?c=q", method="POST", body=b"a=x+y&b=%C3%A9")
    assert result.text == "'x y' '\u00e9' 'q' FieldStorage"


def test_repeated_field_is_a_list_and_kwargs_get_everything(site: Site) -> None:
    site.write("f/index.py", FORM_PAGE)
    assert site.get("/f/anything?z=1&y=2&y=3").text == "y=['2', '3'],z=1"


def test_missing_required_argument_is_an_error(site: Site) -> None:
    site.write("f/index.py", FORM_PAGE)
    assert site.get("/f/echo").status == 500


RESULT_PAGE = '''
def html(req):
    return "<html><body>hi</body></HTML >\\n"

def html_early(req):
    return "<html></html>" + "x" * 200

def typed(req):
    req.content_type = "application/json"
    return '{"a": 1}'

def nothing(req):
    return None

def raw(req):
    return b"\\x00\\xffbytes"

def number(req):
    return 42

def gen(req):
    return (x for x in "ab")

def written(req):
    req.write("direct ", 0)
    return "and returned"

def chain(req):
    return lambda req: "called twice"

constant = "just a string"
'''


@pytest.mark.parametrize("name, content_type, body", [
    ("html", "text/html", b"<html><body>hi</body></HTML >\n"),
    ("html_early", "text/plain", b"<html></html>" + b"x" * 200),
    ("typed", "application/json", b'{"a": 1}'),
    ("raw", "text/plain", b"\x00\xffbytes"),
    ("number", "text/plain", b"42"),
    ("written", "text/plain", b"direct and returned"),
    ("chain", "text/plain", b"called twice"),
    ("constant", "text/plain", b"just a string"),
])
def test_result_publishing(site: Site, name: str, content_type: str, body: bytes) -> None:
    site.write("r/index.py", RESULT_PAGE)
    result = site.get(f"/r/{name}")
    assert (result.status, result.header("Content-Type"), result.body) == (200, content_type, body)


def test_none_publishes_nothing_and_logs_with_debug(site: Site) -> None:
    site.write("r/index.py", RESULT_PAGE)
    result = site.get("/r/nothing", debug=True)
    assert (result.status, result.body) == (200, b"")
    assert result.logged("nothing to publish")


def test_generator_is_published_as_its_repr(site: Site) -> None:
    site.write("r/index.py", RESULT_PAGE)
    assert site.get("/r/gen").text.startswith("<generator object")


def test_output_is_not_flushed_per_write(site: Site) -> None:
    site.write("r/index.py", RESULT_PAGE)
    assert site.get("/r/written").writes == 1  # headers and body in one piece at the end


REFUSED_PAGE = '''
import os
import json
from os import getcwd
from json import dumps
import functools

class Klass:
    def method(self):
        return "m"

class Meta(type):
    pass

class WithMeta(metaclass=Meta):
    pass

def func(req):
    return "f"

def _private(req):
    return "p"

data = {"k": "v"}
text = "abc"

def _deco(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kw):
        return fn(*args, **kw)
    return wrapper

@_deco
def decorated(req):
    return "decorated ok"
'''


@pytest.mark.parametrize("path, reason", [
    ("_private", "underscore"),
    ("func/__code__", "underscore"),
    ("os", "not publishable"),
    ("os/getcwd", "not a traversable object"),
    ("Klass", "not publishable"),
    ("Klass/method", "not a traversable object"),
    ("WithMeta", "not publishable"),
    ("getcwd", "not publishable"),
    ("func/x", "not a traversable object"),
    ("data/keys", "not publishable"),
    ("text/upper", "not publishable"),
    ("dumps", "configured paths"),
    ("json/dumps", "not a traversable object"),
])
def test_security_refusals_are_403_with_a_warning(site: Site, path: str, reason: str) -> None:
    site.write("s/index.py", REFUSED_PAGE)
    result = site.get(f"/s/{path}")
    assert result.status == 403
    assert result.logged(reason), result.log


def test_decorated_function_is_judged_by_the_function_it_wraps(site: Site) -> None:
    site.write("s/index.py", REFUSED_PAGE)
    assert site.get("/s/decorated").text == "decorated ok"


@pytest.mark.parametrize("path", ["missing", "func2", "data/missing", "a//b"])
def test_missing_object_is_404(site: Site, path: str) -> None:
    site.write("s/index.py", REFUSED_PAGE)
    assert site.get(f"/s/{path}").status == 404


def test_page_outside_the_allowed_directories_is_refused(site: Site) -> None:
    target = site.outside / "evil.py"
    target.write_text("def index(req):\n    return 'ran outside'\n")
    (site.root / "pub").mkdir()
    os.symlink(target, site.root / "pub" / "evil.py")
    result = site.get("/pub/evil")
    assert result.status == 403 and b"ran outside" not in result.body
    assert result.logged("not inside the daemon's configured paths")


def test_proxypass_form_without_a_file_is_a_logged_500(site: Site) -> None:
    site.write("pub/index.py", PAGE)
    result = site.run(site.proxypass_params("/pub/hello"))
    assert result.status == 500 and result.logged("SetHandler")


COUNTER_PAGE = '''
hits = []

def index(req):
    hits.append(1)
    return "{version} %d" % len(hits)
'''


def test_page_cache_keeps_module_state_and_reloads_on_change(site: Site) -> None:
    old = time.time() - 100
    site.write("c/index.py", COUNTER_PAGE.replace("{version}", "v1"), mtime=old)
    assert [site.get("/c/").text for _ in range(3)] == ["v1 1", "v1 2", "v1 3"]
    site.write("c/index.py", COUNTER_PAGE.replace("{version}", "v2"), mtime=old + 10)
    assert site.get("/c/").text == "v2 1"
    assert not any(getattr(m, "__file__", None) == str(site.root / "c" / "index.py") for m in list(sys.modules.values()))


def test_autoreload_off_keeps_the_loaded_page(site: Site) -> None:
    old = time.time() - 100
    site.write("c/index.py", COUNTER_PAGE.replace("{version}", "v1"), mtime=old)
    off = {"PythonAutoReload": "Off"}
    assert site.get("/c/", directives=off).text == "v1 1"
    site.write("c/index.py", COUNTER_PAGE.replace("{version}", "v2"), mtime=old + 10)
    assert site.get("/c/", directives=off).text == "v1 2"
    assert site.get("/c/").text == "v2 1"


def test_debug_logs_loading_and_reloading(site: Site) -> None:
    site.write("c/index.py", COUNTER_PAGE.replace("{version}", "v1"), mtime=time.time() - 100)
    assert site.get("/c/", debug=True).logged("Publisher loading page")
    site.write("c/index.py", COUNTER_PAGE.replace("{version}", "v2"))
    assert site.get("/c/", debug=True).logged("Publisher reloading page")


def test_get_page_loads_a_sibling_page(site: Site) -> None:
    site.write("g/index.py", "from mod_python import publisher\n"
                             "def index(req):\n    return publisher.get_page(req, 'lib.py').value\n")
    site.write("g/lib.py", "value = 'from lib'\n")
    assert site.get("/g/").text == "from lib"


def test_tp_rules_can_be_extended(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.write("t/index.py", "import fractions\nhalf = fractions.Fraction(1, 2)\n")
    import fractions
    assert site.get("/t/half").text == "1/2"
    loaded = sys.modules["mod_python.publisher"]  # the module the dispatcher imported for this site
    monkeypatch.setitem(loaded.tp_rules, fractions.Fraction, (False, False))
    assert site.get("/t/half").status == 403


def test_guestbook_example(site: Site, tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "examples" / "guestbook" / "index.py"
    site.write("guestbook/index.py", source.read_text())
    options = {"guestbook.data_dir": str(tmp_path / "book"),
               "mod_python.session.database_directory": str(tmp_path / "sessions")}
    first = site.get("/guestbook/", options=options)
    assert first.status == 200 and b"No entries yet" in first.body
    cookie = (first.header("Set-Cookie") or "").split(";")[0]
    token = re.search(r'name="token" value="(\w+)"', first.text)
    assert cookie.startswith("pysid=") and token is not None
    body = urlencode({"name": "Ann <b>", "message": "hi & bye", "token": token.group(1)}).encode()
    signed = site.get("/guestbook/sign", method="POST", body=body, options=options, headers={"Cookie": cookie})
    assert (signed.status, signed.header("Location")) == (302, "./")
    forged = site.get("/guestbook/sign", method="POST", body=b"name=x&message=forged&token=bad", options=options)
    assert forged.status == 302
    page = site.get("/guestbook/", options=options, headers={"Cookie": cookie}).text
    assert "<b>Ann &lt;b&gt;</b>" in page and "hi &amp; bye" in page and "forged" not in page
    assert "signed 1 time(s)" in page
