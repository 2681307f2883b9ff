"""`fcgi_handlers.testing.Client`: the user's mod_python block, converted by the translator, in front of the daemon's
dispatcher; handlers in a temporary directory, no Apache."""
from __future__ import annotations

from pathlib import Path

import pytest

from fcgi_handlers.testing import Client, ConfigError

HANDLER = '''
from mod_python import apache, util, Cookie

def handler(req):
    req.content_type = "text/plain"
    form = util.FieldStorage(req)
    upload = form["doc"] if "doc" in form else None
    parts = ["uri=%s" % req.uri, "opt=%s" % req.get_options().get("colour"), "name=%s" % form.getfirst("name")]
    if upload is not None:
        parts.append("file=%s:%s" % (upload.filename, upload.file.read().decode()))
    cookies = Cookie.get_cookies(req)
    parts.append("seen=%s" % ",".join(sorted(cookies)))
    if "set" in (req.args or ""):
        Cookie.add_cookie(req, "sid", "abc", path="/")
    if "drop" in (req.args or ""):
        Cookie.add_cookie(req, Cookie.Cookie("sid", "", path="/", max_age=0))
    req.log_error("handled %s" % req.uri)
    req.write(" ".join(parts))
    return apache.OK

def logger(req):
    req.log_error("log phase for %s" % req.uri)
    return apache.OK
'''
PUBLISHED = '''
def index(req):
    return "index of %s" % req.path_info

def hello(req, who="nobody"):
    return "hello %s" % who
'''


@pytest.fixture
def handlers(tmp_path: Path) -> Path:
    path = tmp_path / "handlers"
    path.mkdir()
    (path / "app.py").write_text(HANDLER)
    return path


def location(extra: str = "") -> str:
    return ('<Location "/app/">\n  SetHandler mod_python\n  PythonHandler app\n  PythonOption colour blue\n'
            f'  PythonLogHandler app::logger\n{extra}</Location>\n')


def test_get_post_files_and_options(handlers: Path) -> None:
    with Client(handlers, block=location()) as client:
        response = client.get("/app/x?name=Ada")
        assert response.status == 200 and response.reason == "OK"
        assert response.headers["content-type"] == "text/plain"
        assert response.text.startswith("uri=/app/x opt=blue name=Ada")
        assert "handled /app/x" in "\n".join(response.log) and "log phase for /app/x" in "\n".join(response.log)
        posted = client.post("/app/y", data={"name": "Bob"}, files={"doc": ("a.txt", b"content")})
        assert "name=Bob" in posted.text and "file=a.txt:content" in posted.text
        assert client.post("/app/y", data={"name": "Cy"}).text.startswith("uri=/app/y opt=blue name=Cy")


def test_cookies_are_kept_between_calls_and_dropped_when_expired(handlers: Path) -> None:
    with Client(handlers, block=location()) as client:
        first = client.get("/app/?set")
        assert first.cookies == {"sid": "abc"}
        assert client.get("/app/").text.endswith("seen=sid")
        client.get("/app/?drop")
        assert client.get("/app/").text.endswith("seen=")


def test_a_directory_block_walks_the_document_root(tmp_path: Path, handlers: Path) -> None:
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "sub" / "pages.py").write_text(PUBLISHED)
    block = f'<Directory "{site}">\n  SetHandler mod_python\n  PythonHandler mod_python.publisher\n</Directory>'
    with Client(site, block=block) as client:
        assert client.get("/sub/pages.py/hello?who=Ada").text == "hello Ada"
        assert client.get("/sub/pages.py").text == "index of "
        assert client.get("/elsewhere.py").status == 404   # inside the Directory, but no such file


def test_a_url_no_section_serves_is_a_404_that_says_so(handlers: Path) -> None:
    with Client(handlers, block=location()) as client:
        response = client.get("/other/")
        assert response.status == 404 and response.log == ["no section of the configuration serves /other/"]


@pytest.mark.parametrize("block, message", [
    ("PythonHandler app", "outside a <Location> or <Directory> section"),
    ('<Location "/a/">\n SetHandler mod_python\n PythonHandler app\n', "not closed"),
    ('<Location "/a/">\n PythonHandler app\n</Location>', "no SetHandler/AddHandler mod_python"),
    ('<Location "/a/">\n SetHandler mod_python\n PythonInputFilter f F\n</Location>', "Apache filter"),
    ('<Files "x">\n SetHandler mod_python\n</Files>', "only <Location PATH> and <Directory PATH>"),
])
def test_configuration_mistakes_are_one_clear_error(handlers: Path, block: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Client(handlers, block=block)


def test_the_block_can_come_from_a_file(tmp_path: Path, handlers: Path) -> None:
    conf = tmp_path / "mod_python.conf"
    conf.write_text("# production section\n" + location())
    with Client(handlers, block=conf) as client:
        assert client.get("/app/").status == 200
    with pytest.raises(ConfigError, match="cannot read"):
        Client(handlers, block=tmp_path / "missing.conf")


GUARDED = '''
from mod_python import apache

def authenhandler(req):
    password = req.get_basic_auth_pw()
    return apache.OK if (req.user, password) == ("ada", "secret") else apache.HTTP_UNAUTHORIZED

def handler(req):
    req.content_type = "text/plain"
    req.write("hello %s" % req.user)
    return apache.OK
'''


def test_auth_handlers_of_the_block_run_in_process(tmp_path: Path) -> None:
    import base64

    (tmp_path / "guarded.py").write_text(GUARDED)
    block = ('<Location "/private/">\n  SetHandler mod_python\n  AuthType Basic\n  AuthName "Private"\n'
             '  Require valid-user\n  PythonAuthenHandler guarded\n  PythonHandler guarded\n</Location>')

    def basic(credentials: bytes) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(credentials).decode()}
    with Client(tmp_path, block=block) as client:
        assert client.get("/private/").status == 401
        assert client.get("/private/", headers=basic(b"ada:wrong")).status == 401
        allowed = client.get("/private/", headers=basic(b"ada:secret"))
        assert (allowed.status, allowed.text) == (200, "hello ada")
