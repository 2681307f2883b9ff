"""mod_python.cgihandler: a CGI script run in the worker with the CGI process state, put back afterwards; POST
bodies readable (mod_python's stdin fails on Python 3); headers parsed as Apache parses a CGI response."""

from __future__ import annotations

import os
import sys
import threading
from typing import Mapping

import pytest
from pages_harness import Result, Site, site  # noqa: F401 - the fixture

CGI = "mod_python.cgihandler"

ENV_SCRIPT = '''
import os, sys
print("Content-Type: text/plain")
print()
for name in ("REQUEST_METHOD", "QUERY_STRING", "SCRIPT_FILENAME", "HTTP_X_TEST", "HTTP_PROXY", "GATEWAY_INTERFACE"):
    print(f"{name}={os.environ.get(name)}")
print(f"cwd={os.getcwd()}")
print(f"name={__name__}")
print(f"argv={sys.argv}")
'''


def run(site: Site, source: str, url: str = "/cgi-bin/script.py", *, method: str = "GET",
        headers: Mapping[str, str] = {}, body: bytes = b"") -> Result:
    site.write("cgi-bin/script.py", source)
    return site.get(url, handler=CGI, method=method, headers=headers, body=body)


def lines(result: Result) -> dict[str, str]:
    return dict(line.split("=", 1) for line in result.text.splitlines() if "=" in line)


def test_script_sees_the_cgi_environment(site: Site) -> None:
    result = run(site, ENV_SCRIPT, "/cgi-bin/script.py?a=1", headers={"X-Test": "t", "Proxy": "http://evil:1"})
    assert (result.status, result.header("Content-Type")) == (200, "text/plain")
    seen = lines(result)
    script = str(site.root / "cgi-bin" / "script.py")
    assert (seen["REQUEST_METHOD"], seen["QUERY_STRING"], seen["HTTP_X_TEST"]) == ("GET", "a=1", "t")
    assert (seen["SCRIPT_FILENAME"], seen["cwd"], seen["name"]) == (script, str(site.root / "cgi-bin"), "__main__")
    assert seen["argv"] == repr([script])
    assert seen["HTTP_PROXY"] == "None"  # httpoxy


def test_process_state_is_put_back(site: Site) -> None:
    before = (dict(os.environ), os.getcwd(), sys.stdin, sys.stdout, list(sys.argv))
    run(site, ENV_SCRIPT, headers={"X-Test": "t"})
    failing = run(site, "import os\nos.environ['LEFT'] = 'x'\nraise RuntimeError('script failed')\n")
    assert failing.status == 500 and failing.logged("script failed")
    assert (dict(os.environ), os.getcwd(), sys.stdin, sys.stdout, list(sys.argv)) == before


POST_SCRIPT = '''
import sys
text = sys.stdin.read()
print("Content-Type: text/plain\\n")
print(repr(text))
'''

BINARY_POST_SCRIPT = '''
import os, sys
data = sys.stdin.buffer.read(int(os.environ["CONTENT_LENGTH"]))
sys.stdout.write("Content-Type: application/octet-stream\\r\\n\\r\\n")
sys.stdout.flush()
sys.stdout.buffer.write(data[::-1])
'''


def test_post_body_as_text(site: Site) -> None:
    result = run(site, POST_SCRIPT, method="POST", body="a=1&b=\u00e9\r\n".encode())
    assert result.text.strip() == repr("a=1&b=\u00e9\r\n")


def test_post_body_as_bytes(site: Site) -> None:
    result = run(site, BINARY_POST_SCRIPT, method="POST", body=b"\x00\x01binary\xff")
    assert result.body == b"\xffyranib\x01\x00"


def test_cgi_module_reads_the_form(site: Site) -> None:
    script = '''
import warnings
warnings.simplefilter("ignore", DeprecationWarning)
import cgi
form = cgi.FieldStorage()
print("Content-Type: text/plain\\n")
print(form.getfirst("name"), form.getfirst("q"))
'''
    result = run(site, script, "/cgi-bin/script.py?q=query", method="POST", body=b"name=posted")
    assert result.text.strip() == "posted query"


@pytest.mark.parametrize("head, status, location", [
    ("Status: 203 Whatever\nContent-Type: text/plain\n\n", 203, None),
    ("Location: http://example.com/x\r\n\r\n", 302, "http://example.com/x"),
    ("Status: 301\nLocation: /moved\n\n", 301, "/moved"),
])
def test_status_and_location_headers(site: Site, head: str, status: int, location: str | None) -> None:
    result = run(site, f"import sys\nsys.stdout.write({head!r})\n")
    assert (result.status, result.header("Location")) == (status, location)


def test_other_headers_are_passed_on(site: Site) -> None:
    result = run(site, 'print("Content-Type: text/csv\\nX-One: 1\\nX-One: 2\\n\\nbody")')
    assert result.header("Content-Type") == "text/csv"
    assert [value for name, value in result.headers if name == "X-One"] == ["1", "2"]
    assert result.text == "body\n"


@pytest.mark.parametrize("source, message", [
    ("print('no headers at all')", "malformed header"),
    ("pass", "End of script output before headers"),
    ("print('Status: abc\\n')", "malformed Status"),
    ("import sys\nsys.stdout.write('x' * 70000)", "no end of the header block"),
])
def test_bad_cgi_output_is_500(site: Site, source: str, message: str) -> None:
    result = run(site, source)
    assert result.status == 500 and result.logged(message)


def test_first_blank_line_ends_the_headers(site: Site) -> None:
    result = run(site, "import sys\nsys.stdout.write('Content-Type: text/plain\\n\\nbody\\r\\n\\r\\nmore')")
    assert (result.status, result.body) == (200, b"body\r\n\r\nmore")


def test_headers_without_blank_line_still_count(site: Site) -> None:
    result = run(site, "import sys\nsys.stdout.write('Content-Type: text/plain\\n')")
    assert (result.status, result.header("Content-Type"), result.body) == (200, "text/plain", b"")


def test_sys_exit_ends_the_script(site: Site) -> None:
    result = run(site, "import sys\nprint('Content-Type: text/plain\\n\\nbye')\nsys.exit(3)\nprint('never')")
    assert (result.status, result.text) == (200, "bye\n") and result.logged("exited with status 3")


def test_other_threads_output_stays_out_of_the_response(site: Site) -> None:
    script = '''
import threading
print("Content-Type: text/plain\\n")
other = threading.Thread(target=lambda: print("from another thread"))
other.start()
other.join(5)
print("from the script")
'''
    assert run(site, script).text == "from the script\n"


def test_missing_and_outside_scripts(site: Site) -> None:
    (site.root / "cgi-bin").mkdir()
    assert site.get("/cgi-bin/missing.py", handler=CGI).status == 404
    (site.outside / "evil.py").write_text("print('Content-Type: text/plain\\n\\nran')")
    os.symlink(site.outside / "evil.py", site.root / "cgi-bin" / "evil.py")
    result = site.get("/cgi-bin/evil.py", handler=CGI)
    assert result.status == 403 and b"ran" not in result.body


def test_concurrent_scripts_each_see_their_own_environment(site: Site) -> None:
    site.write("cgi-bin/slow.py", '''
import os, time
mine = os.environ["QUERY_STRING"]
time.sleep(0.02)
print("Content-Type: text/plain\\n")
print(mine, os.environ["QUERY_STRING"])
''')
    results: dict[int, str] = {}

    def one(index: int) -> None:
        results[index] = site.get(f"/cgi-bin/slow.py?n={index}", handler=CGI).text.strip()

    threads = [threading.Thread(target=one, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == {index: f"n={index} n={index}" for index in range(6)}
