"""The publisher's __auth__/__access__/__auth_realm__: on the page, on objects along the path and declared inside
functions (mod_python's nested form, which the Debian build breaks with a 400 and reads wrongly on Python 3)."""

from __future__ import annotations

import base64

import pytest
from pages_harness import Site, site  # noqa: F401 - the fixture

from mod_python._publisher_auth import basic_credentials


def basic(user: str, password: str, encoding: str = "utf-8") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode(encoding)).decode("ascii")
    return {"Authorization": f"Basic {token}"}


MODULE_AUTH = '''
__auth_realm__ = "Module Realm"
__auth__ = {"alice": "wonderland", "bob": "builder"}
__access__ = ["alice"]

def index(req):
    return "secret"
'''


def test_no_credentials_is_401_with_the_realm(site: Site) -> None:
    site.write("m/index.py", MODULE_AUTH)
    result = site.get("/m/")
    assert result.status == 401
    assert result.header("WWW-Authenticate") == 'Basic realm="Module Realm"'
    assert b"secret" not in result.body


@pytest.mark.parametrize("user, password, status", [
    ("alice", "wonderland", 200),
    ("alice", "wrong", 401),
    ("carol", "wonderland", 401),
    ("bob", "builder", 403),
])
def test_dict_auth_and_list_access(site: Site, user: str, password: str, status: int) -> None:
    site.write("m/index.py", MODULE_AUTH)
    result = site.get("/m/", headers=basic(user, password))
    assert result.status == status
    assert (result.text == "secret") == (status == 200)


@pytest.mark.parametrize("header", ["Basic !!!notbase64", "Basic " + base64.b64encode(b"nocolon").decode()])
def test_malformed_credentials_are_400(site: Site, header: str) -> None:
    site.write("m/index.py", MODULE_AUTH)
    assert site.get("/m/", headers={"Authorization": header}).status == 400


def test_another_scheme_counts_as_no_credentials(site: Site) -> None:
    site.write("m/index.py", MODULE_AUTH)
    assert site.get("/m/", headers={"Authorization": "Bearer abc"}).status == 401


def test_unprotected_page_ignores_a_malformed_header(site: Site) -> None:
    site.write("u/index.py", "def index(req):\n    return 'open'\n")
    assert site.get("/u/", headers={"Authorization": "Basic !!!"}).text == "open"


NESTED = '''
def literal(req):
    __auth_realm__ = "Nested"
    __auth__ = {"alice": "wonderland"}
    __access__ = ["alice"]
    return "literal ok"

def nested_def(req):
    def __auth__(req, user, password):
        return user == password.upper()
    def __access__(req, user):
        return user.startswith("A")
    return "nested def ok"

def lambdas(req):
    __auth__ = lambda req, user, password: (user, password) == ("u", "p")
    return "lambda ok"

USERS = {"dora": "explorer"}

def global_name(req):
    __auth__ = USERS
    return "global ok"

def constant_false(req):
    __access__ = False
    return "never"

def annotated(req):
    __auth__: dict = {"ann": "otated"}
    return "annotated ok"

class Thing:
    __auth__ = {"inst": "pw"}
    def method(self, req):
        return "method ok"
    def nested_method(self, req):
        __access__ = ["inst"]
        return "nested method ok"

thing = Thing()

def conditional(req):
    if req:
        __auth__ = {"x": "y"}
    return "should never be published"

def from_local(req):
    users = {"x": "y"}
    __auth__ = users
    return "should never be published"

def with_attribute(req):
    return "attribute ok"
with_attribute.__auth__ = {"attr": "ibute"}
'''


@pytest.mark.parametrize("path, user, password, status", [
    ("literal", "alice", "wonderland", 200),
    ("literal", "alice", "nope", 401),
    ("nested_def", "AB", "ab", 200),
    ("nested_def", "BA", "ba", 403),
    ("nested_def", "AB", "xx", 401),
    ("lambdas", "u", "p", 200),
    ("lambdas", "u", "q", 401),
    ("global_name", "dora", "explorer", 200),
    ("global_name", "dora", "x", 401),
    ("constant_false", "any", "one", 403),
    ("annotated", "ann", "otated", 200),
    ("thing/method", "inst", "pw", 200),
    ("thing/method", "inst", "no", 401),
    ("thing/nested_method", "inst", "pw", 200),
    ("with_attribute", "attr", "ibute", 200),
    ("with_attribute", "attr", "no", 401),
])
def test_declarations_inside_functions(site: Site, path: str, user: str, password: str, status: int) -> None:
    site.write("n/index.py", NESTED)
    result = site.get(f"/n/{path}", headers=basic(user, password))
    assert result.status == status
    assert result.text.endswith("ok") == (status == 200)


def test_nested_realm_is_used_in_the_challenge(site: Site) -> None:
    site.write("n/index.py", NESTED)
    assert site.get("/n/literal").header("WWW-Authenticate") == 'Basic realm="Nested"'


@pytest.mark.parametrize("path", ["conditional", "from_local"])
def test_unreadable_declaration_fails_closed(site: Site, path: str) -> None:
    site.write("n/index.py", NESTED)
    result = site.get(f"/n/{path}", headers=basic("x", "y"))
    assert result.status == 500
    assert b"never be published" not in result.body
    assert result.logged("__auth__")


def test_callable_auth_gets_request_user_and_password(site: Site) -> None:
    site.write("c/index.py", '''
seen = []
def __auth__(req, user, password):
    seen.append((req.method, user, password))
    return True
def index(req):
    return repr(seen[-1])
''')
    assert site.get("/c/", headers=basic("j\u00f6rg", "p:w")).text == repr(("GET", "j\u00f6rg", "p:w"))


def test_realm_with_quotes_is_escaped(site: Site) -> None:
    site.write("q/index.py", '__auth_realm__ = \'say "hi"\'\n__auth__ = {}\ndef index(req):\n    return "x"\n')
    assert site.get("/q/").header("WWW-Authenticate") == 'Basic realm="say \\"hi\\""'


def test_each_traversal_step_is_checked(site: Site) -> None:
    site.write("t/index.py", '''
class Inner:
    __access__ = ["deep"]
    def leaf(self, req):
        return "leaf ok"
class Outer:
    __auth__ = {"deep": "pw", "shallow": "pw"}
    inner = Inner()
outer = Outer()
''')
    assert site.get("/t/outer/inner/leaf").status == 401
    assert site.get("/t/outer/inner/leaf", headers=basic("shallow", "pw")).status == 403
    assert site.get("/t/outer/inner/leaf", headers=basic("deep", "pw")).text == "leaf ok"


@pytest.mark.parametrize("user, password, encoding", [("alice", "pw", "utf-8"), ("j\u00f6rg", "p\u00e4ss", "utf-8"),
                                                      ("j\u00f6rg", "p\u00e4ss", "latin-1"), ("", "", "utf-8")])
def test_basic_credentials_round_trip(user: str, password: str, encoding: str) -> None:
    header = basic(user, password, encoding)["Authorization"]
    assert basic_credentials(header) == (user, password)
    assert basic_credentials(header.replace("Basic", "bAsIc", 1)) == (user, password)


def test_successful_auth_sets_req_user(site: Site) -> None:
    # mod_python's publisher stores the authenticated user in req.user for the page; a page without __auth__
    # leaves it alone.
    site.write("u/index.py", '__auth__ = {"alice": "wonderland"}\ndef index(req):\n    return "user %s" % req.user\n')
    site.write("o/index.py", 'def index(req):\n    return "user %s" % req.user\n')
    assert site.get("/u/", headers=basic("alice", "wonderland")).text == "user alice"
    assert site.get("/o/", headers=basic("alice", "wonderland")).text == "user None"
