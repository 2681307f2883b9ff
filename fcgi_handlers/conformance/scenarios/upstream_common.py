"""What the scenarios of mod_python's own test suite share: the area, the scenario builder, request bodies.

mod_python's `test/test.py` gives each per-request test (a `PerRequestTestCase.test_*` method) its own virtual host
with `DocumentRoot` and a `<Directory>` block, points it at a handler in `test/htdocs/tests.py` and asserts on the
answer (mostly a body of "test ok"). Here each test becomes one scenario named `up_` + the test's name in lower case,
its description naming the upstream test; the block is the test's `<Directory>` block on the scenario's directory,
the handler is written anew in the scenario's module, and the upstream assertion is the scenario's expectation on
mod_python's answer (`Call.status` and `Call.expect`), or, where Debian's mod_python 3.5 fails it, the daemon's
asserted answer (`Call.daemon`) beside what mod_python shows. `upstream_condition` reads that back, so the report can
say for each side whether it passed the upstream test.
"""
from __future__ import annotations

import base64
from dataclasses import replace
import hashlib
import random
from typing import Mapping, Optional, Sequence

from ...apache.config import AuthnMode
from ..scenario import Call, Expect, Mask, Reason, Scenario

AREA = "mod_python test suite"
TEST_OK = Expect(body=b"test ok")
REQUEST_FILE = {"tests.py": b"# the file upstream's requests name; the handlers live in the scenario's module\n"}


def scenario_name(test: str) -> str:
    """`test_req_get_basic_auth_pw` -> `up_req_get_basic_auth_pw` (scenario names are lower-case identifiers)."""
    return "up_" + test.removeprefix("test_").lower()


def up(test: str, source: str, *calls: Call, directives: Sequence[str] = (), handler: str = "",
       container: str = "Directory", files: Optional[Mapping[str, bytes]] = None, logs: Sequence[str] = (),
       intended: Optional[Reason] = None, note: str = "", masks: Sequence[Mask] = (),
       stated: Sequence[Sequence[Expect]] = (), known: str = "", authn: AuthnMode = "check-authn",
       server: Sequence[str] = (), imports: Sequence[str] = (), modules: Optional[Mapping[str, str]] = None,
       fresh: bool = False, keepalive: bool = False) -> Scenario:
    """The scenario of upstream test `test`: `directives` (default: SetHandler and `PythonHandler {mod}::handler`,
    PythonDebug On, as upstream's blocks have) in a `<Directory>` on the scenario's directory unless `container`
    says Location. `stated` gives, per call, upstream's assertion where the calls' expectations are stricter than
    it (any one of the alternatives passes); `known` is the diagnosis of a mismatch left open; `server` are the
    lines of the test's own virtual host (the scenario then gets its own Apaches)."""
    if server or imports or fresh:   # the test's own virtual host answers to its name (the runner's DEFAULT_HOST)
        calls = tuple(replace(call, headers=[("Host", "localhost:{port}"), *call.headers]) for call in calls)
    lines = tuple(directives) or ("SetHandler mod_python", f"PythonHandler {{mod}}::{handler}", "PythonDebug On")
    description = f"mod_python test/test.py PerRequestTestCase.{test}" + (f": {note}" if note else "")
    scenario = Scenario(scenario_name(test), AREA, source, directives=lines, calls=calls or (Call("tests.py"),),
                        container="Location" if container == "Location" else "Directory",
                        files=REQUEST_FILE if files is None else files, logs=logs, intended_difference=intended,
                        description=description, masks=masks, known_mismatch=known, authn=authn, server=server,
                        imports=imports, modules=modules or {}, fresh=fresh, keepalive=keepalive)
    if stated:
        STATED[scenario.name] = tuple(tuple(alternatives) for alternatives in stated)
    return scenario


# Upstream's assertions where a scenario's expectations say more (scenario name -> per call, its alternatives).
STATED: dict[str, tuple[tuple[Expect, ...], ...]] = {}


def upstream_conditions(scenario: Scenario) -> list[tuple[Expect, ...]]:
    """What upstream's test asserts of each call's answer (any one of the alternatives): as stated, else the
    daemon's asserted answer where mod_python fails it, else the status and expectation declared for mod_python."""
    stated = STATED.get(scenario.name)
    if stated is not None:
        return list(stated)
    conditions: list[tuple[Expect, ...]] = []
    for call in scenario.calls:
        if call.daemon is not None:
            conditions.append((call.daemon,))
            continue
        expect = call.expect or Expect()
        conditions.append((Expect(status=call.status, headers=expect.headers, body=expect.body,
                                  contains=expect.contains, lacks=expect.lacks, header_parts=expect.header_parts),))
    return conditions


def basic(credentials: str) -> tuple[str, str]:
    """An Authorization header for Basic credentials `user:password`."""
    return ("Authorization", "Basic " + base64.b64encode(credentials.encode("latin-1")).decode("ascii"))


# mod_python.util's read block size: upstream's upload tests put a line break or a boundary right at its edge.
READ_BLOCK_SIZE = 65368


def multipart(fields: Mapping[str, str], files: Mapping[str, tuple[str, bytes]],
              boundary: str = "=============4815162342==") -> tuple[list[tuple[str, str]], bytes]:
    """(headers, body) of a multipart/form-data POST: text fields (each with a folded Content-Disposition header,
    as upstream's client writes them) and files. The boundary is quoted in Content-Type, as upstream sends it."""
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Type: text/plain\r\nContent-Disposition: form-data;\r\n '
                     f'name="{name}"\r\n\r\n{value}\r\n'.encode("latin-1"))
    for name, (filename, content) in files.items():
        head = (f"--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; "
                f'name="{name}"; filename="{filename}"\r\n\r\n')
        parts.append(head.encode("latin-1") + content + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode("latin-1")
    return [("Content-Type", f'multipart/form-data; boundary="{boundary}"')], body


def upload_call(content: bytes) -> Call:
    """A POST of `content` as file field `testfile` beside a text field; the handler answers its MD5."""
    headers, body = multipart({"test": "abcd"}, {"testfile": ("test.txt", content)})
    return Call("tests.py", method="POST", headers=headers, body=body,
                expect=Expect(body=hashlib.md5(content).hexdigest().encode("ascii")))


def random_bytes(size: int, seed: int = 11) -> bytes:
    """`size` bytes of every value 0-255, the same on every run (upstream draws a fresh megabyte each time)."""
    return random.Random(seed).randbytes(size)
