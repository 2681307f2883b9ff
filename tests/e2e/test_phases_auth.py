"""PythonAuthenHandler / PythonAuthzHandler inside Apache's auth phases (mod_authnz_fcgi calling the daemon as a
FastCGI AUTHORIZER), against real mod_python.

mod_python's authen phase only works without mod_auth_basic under `AuthType Basic` (with it loaded, mod_auth_basic
runs first and fails with "No Authn provider configured": mod_python-behaviour.md §5), so the differential pair is
two private Apaches without mod_auth_basic. The shared daemon Apache (mod_auth_basic loaded, as Debian has it) shows
the challenge Apache adds for missing credentials, the AuthBasicProvider form, and Apache's own authentication in
front of a PythonAuthzHandler (`Require` provider), the last one against the shared mod_python Apache.
"""
from __future__ import annotations

import base64
import hashlib
import re
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest

from e2e.harness import HANDLERS_DIR, ApacheServer, ManagedProcess, Response
from fcgi_handlers.apache import BASE_MODULES, Backend, mod_python_block_to_daemon

pytestmark = pytest.mark.e2e

NO_AUTH_BASIC = tuple(name for name in BASE_MODULES if name != "auth_basic")
COMPARED = ("Content-Type", "Location", "WWW-Authenticate", "X-Auth-Error")
# One per test run (two runs on one host must not share it); made at import because a snippet names it.
HTPASSWD = Path(tempfile.mkdtemp(prefix="fcgi-handlers-e2e-htpasswd-")) / "phases.htpasswd"


def credentials(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


SPAM = credentials("spam", "eggs")
BAD = credentials("spam", "ham")


def block(url: str, *, debug: bool = False, authz: bool = True, auth_type: str = "Basic") -> str:
    lines = [f'<Location "{url}">', "    SetHandler mod_python", f"    AuthType {auth_type}",
             '    AuthName "realm one"', "    Require valid-user", "    PythonAuthenHandler phases_auth",
             "    PythonHandler phases_auth"]
    if authz:
        lines.append("    PythonAuthzHandler phases_auth")
    if debug:
        lines.append("    PythonDebug On")
    return "\n".join(lines + ["</Location>"])


def view(response: Response, compared: tuple[str, ...] = COMPARED) -> tuple[object, ...]:
    headers = tuple((name, response.header(name)) for name in compared)
    return response.status, response.reason, headers, re.sub(rb"Port \d+", b"Port N", response.body)


def last_user(server: ApacheServer) -> str:
    """The %u field of the access log's last line (Apache writes it after the response; bounded wait)."""
    path = server.run_dir / "access.log"
    deadline = time.monotonic() + 5
    before = ""
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text and text == before:
            break
        before = text
        time.sleep(0.1)
    return before.splitlines()[-1].split()[2]


@pytest.fixture(scope="module")
def pair(apache_factory: object, daemon: ManagedProcess) -> tuple[ApacheServer, ApacheServer]:
    """(daemon's Apache, mod_python's Apache), neither with mod_auth_basic."""
    from e2e.conftest import require_apache
    require_apache("python", "mpm_prefork", "authnz_fcgi")
    blocks = [block("/pa/"), block("/pa-debug/", debug=True), block("/pa-dummy/", auth_type="dummy")]
    emulated = block("/pa-emulated/")
    backend = Backend(port=daemon.port)
    start = apache_factory.start  # type: ignore[attr-defined]
    ours = start([*(mod_python_block_to_daemon(b, backend) for b in blocks),
                  mod_python_block_to_daemon(emulated, backend, authn="emulate")],
                 name="auth-daemon", backend=backend, base_modules=NO_AUTH_BASIC)
    theirs = start([*blocks, emulated], name="auth-mod_python", mpm="prefork", modules=["python"],
                   base_modules=NO_AUTH_BASIC, global_lines=[f"PythonPath \"['{HANDLERS_DIR}'] + sys.path\""])
    return ours, theirs


def both(pair: tuple[ApacheServer, ApacheServer], request: pytest.FixtureRequest, path: str,
         headers: Optional[dict[str, str]] = None) -> Response:
    from e2e.conftest import track
    ours, theirs = pair
    track(request, ours)
    track(request, theirs)
    mine, reference = ours.get(path, headers), theirs.get(path, headers)
    if mine.body and mine.status != 200 and mine.header("Content-Type") != reference.header("Content-Type"):
        # A refusal with the handler's own page (util.redirect, a DONE page) is mod_authnz_fcgi's custom error
        # response, and Apache labels it text/html; charset=iso-8859-1 whatever the handler set (intended).
        assert mine.header("Content-Type") == "text/html; charset=iso-8859-1"
        compared = tuple(name for name in COMPARED if name != "Content-Type")
        assert view(mine, compared) == view(reference, compared)
    else:
        assert view(mine) == view(reference)
    assert last_user(ours) == last_user(theirs)
    return mine


AUTHEN_MODES = ("OK", "OTHER", "DECLINED", "UNAUTHORIZED", "FORBIDDEN", "RAISE", "REDIRECT", "ERRHEADER", "CHECK")


@pytest.mark.parametrize("sent", [None, SPAM, BAD], ids=["no-credentials", "good", "bad"])
@pytest.mark.parametrize("authen", AUTHEN_MODES)
def test_authen_results(pair: tuple[ApacheServer, ApacheServer], request: pytest.FixtureRequest, authen: str,
                        sent: Optional[dict[str, str]]) -> None:
    response = both(pair, request, f"/pa/x?authen={authen}", sent)
    if authen == "CHECK":
        assert response.status == (200 if sent is SPAM else 401)
    if authen == "OTHER":
        assert response.status == 200 and "user='chosen'" in response.text


@pytest.mark.parametrize("authz", ["OK", "DECLINED", "UNAUTHORIZED", "FORBIDDEN", "USER"])
def test_authz_results_after_authen(pair: tuple[ApacheServer, ApacheServer], request: pytest.FixtureRequest,
                                    authz: str) -> None:
    response = both(pair, request, f"/pa/x?authen=CHECK&authz={authz}", SPAM)
    assert response.status == {"OK": 200, "DECLINED": 200, "UNAUTHORIZED": 401, "FORBIDDEN": 403, "USER": 200}[authz]


def test_what_the_content_handler_sees(pair: tuple[ApacheServer, ApacheServer], request: pytest.FixtureRequest) -> None:
    response = both(pair, request, "/pa/x?authen=CHECK", SPAM)
    assert response.text == ("user='spam' ap_auth_type='Basic' auth_name='realm one' auth_type='Basic' "
                             "phase=PythonHandler\n")
    assert last_user(pair[0]) == "spam"
    chosen = both(pair, request, "/pa/x?authen=OTHER")
    assert chosen.text.startswith("user='chosen' ap_auth_type=None ")


@pytest.mark.parametrize("authen", ["OTHER", "OK", "UNAUTHORIZED"])
def test_non_basic_auth_type(pair: tuple[ApacheServer, ApacheServer], request: pytest.FixtureRequest,
                             authen: str) -> None:
    # Upstream's tests use a made-up AuthType: get_basic_auth_pw() then gives None, the handler names the user.
    both(pair, request, f"/pa-dummy/x?authen={authen}", SPAM)


@pytest.mark.parametrize("query", ["authen=CHECK", "authen=OTHER", "authen=FORBIDDEN", "authen=DECLINED",
                                   "authen=CHECK&authz=FORBIDDEN", "authen=CHECK&authz=DECLINED"])
@pytest.mark.parametrize("sent", [None, SPAM, BAD], ids=["no-credentials", "good", "bad"])
def test_auth_phases_emulated_without_mod_authnz_fcgi(pair: tuple[ApacheServer, ApacheServer],
                                                      request: pytest.FixtureRequest, query: str,
                                                      sent: Optional[dict[str, str]]) -> None:
    from e2e.conftest import track
    ours, theirs = pair
    track(request, ours)
    track(request, theirs)
    mine, reference = ours.get(f"/pa-emulated/x?{query}", sent), theirs.get(f"/pa-emulated/x?{query}", sent)
    # Same answers; only Apache's access log cannot show the user the daemon chose (mod_authnz_fcgi can).
    assert view(mine) == view(reference)


def test_debug_traceback_page(pair: tuple[ApacheServer, ApacheServer], request: pytest.FixtureRequest) -> None:
    from e2e.conftest import track
    for server in pair:
        track(request, server)
        response = server.get("/pa-debug/x?authen=RAISE", SPAM)
        assert response.status == 500 and (response.header("Content-Type") or "").startswith("text/html")
        assert response.body.startswith(b'\n<pre>\nMod_python error: "PythonAuthenHandler phases_auth"\n')
        assert response.body.endswith(b"RuntimeError: authen failed\n\n</pre>\n")


# --- the shared Apaches (mod_auth_basic loaded) ---------------------------------------------------------------------

CHALLENGE = block("/pa-shared/", authz=False)
PROVIDER = block("/pa-provider/", authz=False)
AUTHZ_ONLY = f"""<Location "/pa-authz/">
    SetHandler mod_python
    AuthType Basic
    AuthName "realm two"
    AuthBasicProvider file
    AuthUserFile {HTPASSWD}
    Require valid-user
    PythonAuthzHandler phases_auth
    PythonHandler phases_auth
</Location>"""


@pytest.fixture(scope="module", autouse=True)
def htpasswd() -> Iterator[Path]:
    digest = base64.b64encode(hashlib.sha1(b"eggs").digest()).decode()
    HTPASSWD.parent.chmod(0o755)  # Apache's children (www-data under root) read the file
    HTPASSWD.write_text(f"spam:{{SHA}}{digest}\nbob:{{SHA}}{digest}\n")
    HTPASSWD.chmod(0o644)
    yield HTPASSWD
    HTPASSWD.unlink(missing_ok=True)
    HTPASSWD.parent.rmdir()


@pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(CHALLENGE, b.daemon))
def test_missing_credentials_get_apaches_challenge_once(apache: ApacheServer) -> None:
    refused = apache.get("/pa-shared/x?authen=CHECK")
    assert refused.status == 401
    assert [v for k, v in refused.headers if k.lower() == "www-authenticate"] == ['Basic realm="realm one"']
    # Bad credentials: mod_python adds no challenge of its own, and neither does the daemon.
    assert apache.get("/pa-shared/x?authen=CHECK", BAD).header("WWW-Authenticate") is None
    # A handler that lets an anonymous request in: the challenge Apache noted is not sent with the page.
    anonymous = apache.get("/pa-shared/x?authen=OTHER")
    assert anonymous.status == 200 and anonymous.header("WWW-Authenticate") is None


@pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(PROVIDER, b.daemon, authn="basic-provider"))
def test_basic_provider_form(apache: ApacheServer) -> None:
    # Apache parses the credentials and refuses with its own 401 challenge whatever the handler refused with.
    assert apache.get("/pa-provider/x?authen=CHECK").status == 401
    assert apache.get("/pa-provider/x?authen=CHECK", SPAM).text.startswith("user='spam' ap_auth_type='Basic'")
    forbidden = apache.get("/pa-provider/x?authen=FORBIDDEN", SPAM)
    assert forbidden.status == 401 and forbidden.header("WWW-Authenticate") == 'Basic realm="realm one"'


@pytest.mark.mod_python_apache(AUTHZ_ONLY)
@pytest.mark.apache.with_args(lambda b: mod_python_block_to_daemon(AUTHZ_ONLY, b.daemon))
@pytest.mark.parametrize("authz", ["OK", "DECLINED", "FORBIDDEN", "USER"])
@pytest.mark.parametrize("user", ["spam", "bob"])
def test_authz_after_apaches_own_authentication(apache: ApacheServer, mod_python_apache: ApacheServer, authz: str,
                                                user: str) -> None:
    sent = credentials(user, "eggs")
    mine, reference = apache.get(f"/pa-authz/x?authz={authz}", sent), mod_python_apache.get(
        f"/pa-authz/x?authz={authz}", sent)
    # An authz provider's refusal is Apache's 401 for an authenticated user; mod_python sends the handler's code.
    if reference.status == 403:
        assert mine.status == 401
    else:
        assert view(mine) == view(reference)
    assert apache.get(f"/pa-authz/x?authz={authz}").status == 401  # no credentials: Apache's authentication
