"""mod_python.publisher (mod_python-behaviour.md §4): URL to object mapping, form arguments, content-type guessing,
the security refusals, HEAD and 405, and `__auth__`/`__access__`. Pages live in the scenario's directory (both sides
load them by path; the daemon's `--path` includes the document root, as a deployment's page directory would be).

Debian's publisher.py still calls base64.decodestring (removed in Python 3.9), so any request with credentials to an
`__auth__`-protected object fails there (400); query arguments go through FieldStorage and its parse_qsl bug.
Both are intended differences with the daemon's answer asserted. Authorization only reaches the daemon with
`CGIPassAuth On`, which these blocks carry (the directive is Apache's own, valid for both sides)."""
from __future__ import annotations

from ..scenario import Call, Expect, Scenario, mod_python_bug
from .bodies import FORM_TYPES
from .strings import PARSE_QS_BUG

AREA = "publisher"
DIRECTIVES = ("SetHandler mod_python", "PythonHandler mod_python.publisher", "CGIPassAuth On")
INDEX = b'''import os


def index(req):
    return "index page"


def hello(req, name="world"):
    return "hello %s" % name


def html(req):
    return "<html><body>guessed</body></html>"


def typed(req):
    req.content_type = "text/x-mine"
    return "typed"


def nothing(req):
    return None


def raw(req):
    return b"raw bytes"


def _private(req):
    return "never"


def kwargs(req, **kw):
    return repr(sorted(kw))


def form_keys(req):
    return repr(sorted(req.form.keys()))


class Thing:
    def meth(self, req):
        return "method of %s" % type(self).__name__

    def _hidden(self, req):
        return "never"


thing = Thing()
data = {"k": "v"}
number = 42


def secret(req):
    __auth__ = {"user": "pass"}
    return "nested secret"
'''
AUTH_PAGE = b'''__auth_realm__ = "Members"
__auth__ = {"user": "pass"}
__access__ = ["user"]


def page(req):
    return "welcome %s" % req.user
'''
FILES = {"index.py": INDEX, "auth.py": AUTH_PAGE, "other.py": b'def func(req):\n    return "other.func"\n'}
GOOD = [("Authorization", "Basic dXNlcjpwYXNz")]        # user:pass
BAD = [("Authorization", "Basic dXNlcjp3cm9uZw==")]     # user:wrong
AUTH_BUG = mod_python_bug(
    "Debian's publisher.py decodes credentials with base64.decodestring, removed in Python 3.9, so every request "
    "with credentials to an __auth__-protected object fails with 400")


def pub(name: str, *calls: Call, debug: bool = False) -> Scenario:
    directives = (*DIRECTIVES, "PythonDebug On") if debug else DIRECTIVES
    return Scenario(name, AREA, "# pages live in the scenario directory\n", directives=directives,
                    container="Directory", files=FILES, calls=calls)


SCENARIOS = [
    pub("pub_index", Call(""), Call("index.py"), Call("index")),
    pub("pub_function", Call("hello"), Call("index.py/hello"), Call("index/hello/")),
    Scenario("pub_named_interpreter", AREA, "# pages live in the scenario directory\n",
             directives=(*DIRECTIVES, "PythonInterpreter cf_pub_named"), container="Directory", files=FILES,
             calls=(Call("hello?name=named"), Call("index.py")),
             description="mod_python's own handlers resolve in every interpreter"),
    pub("pub_other_module", Call("other.py/func"), Call("other/func")),
    pub("pub_content_type_guess", Call("html"), Call("typed")),
    Scenario("pub_bytes_result", AREA, "# pages live in the scenario directory\n", directives=DIRECTIVES,
             container="Directory", files=FILES,
             intended_difference=mod_python_bug("the publisher writes str(result), so a page returning bytes "
                                                "publishes \"b'...'\" on Python 3"),
             calls=(Call("raw", expect=Expect(body=b"b'raw bytes'"), daemon=Expect(status=200, body=b"raw bytes")),)),
    pub("pub_returns_none", Call("nothing")),
    pub("pub_private_refused", Call("_private", status=403), Call("thing/_hidden", status=403)),
    pub("pub_missing", Call("nope", status=404), Call("missing.py/x", status=404), Call("thing/nope", status=404)),
    pub("pub_instance_method", Call("thing/meth")),
    pub("pub_builtin_traversal", Call("data/keys", status=403), Call("number", status=200), Call("os", status=403)),
    pub("pub_class_refused", Call("Thing", status=403)),
    pub("pub_method_not_allowed", Call("hello", method="PUT", status=405), Call("hello", method="DELETE", status=405)),
    pub("pub_head", Call("hello", method="HEAD")),
    Scenario("pub_post_form", AREA, "# pages live in the scenario directory\n", directives=DIRECTIVES,
             container="Directory", files=FILES, intended_difference=FORM_TYPES,
             calls=(Call("hello", method="POST", body=b"name=post",
                         headers=[("Content-Type", "application/x-www-form-urlencoded")],
                         expect=Expect(body=b"hello world"), daemon=Expect(status=200, body=b"hello post")),)),
    pub("pub_no_credentials", Call("auth.py/page", status=401), Call("secret", status=401)),
    Scenario("pub_bad_credentials", AREA, "# pages live in the scenario directory\n", directives=DIRECTIVES,
             container="Directory", files=FILES, intended_difference=AUTH_BUG,
             calls=(Call("auth.py/page", headers=BAD, status=400,
                         daemon=Expect(status=401, headers={"WWW-Authenticate": 'Basic realm="Members"'})),)),
    pub("pub_query_args", Call("hello?name=query")),
    Scenario("pub_query_kwargs", AREA, "# pages live in the scenario directory\n", directives=DIRECTIVES,
             container="Directory", files=FILES, intended_difference=PARSE_QS_BUG,
             calls=(Call("kwargs?a=1&bb=2", daemon=Expect(status=200, body=b"['a', 'bb']")),)),
    Scenario("pub_auth_good_credentials", AREA, "# pages live in the scenario directory\n", directives=DIRECTIVES,
             container="Directory", files=FILES, intended_difference=AUTH_BUG,
             calls=(Call("auth.py/page", headers=GOOD, status=400,
                         daemon=Expect(status=200, body=b"welcome user")),
                    Call("secret", headers=GOOD, status=400,
                         daemon=Expect(status=200, body=b"nested secret")))),
]
