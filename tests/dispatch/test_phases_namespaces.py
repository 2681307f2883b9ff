"""Interpreter names and their module namespaces, PythonImport at worker start and the child-exit cleanups
(mod_python-behaviour.md §2 "PythonInterpreter", "PythonImport", §3.1 register_cleanup)."""

from __future__ import annotations

import logging
import importlib
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

from fcgi_handlers.dispatch import runtime
from fcgi_handlers.dispatch.loader import ImportRefused, Loader
from fcgi_handlers.dispatch.namespaces import MAIN_INTERPRETER, Namespaces, PrivateLoader, TooManyInterpreters

from .conftest import Harness

COUNTER = "import helper_ns\nfrom helper_ns import VALUE\nHITS = []\ndef bump():\n    HITS.append(1)\n" \
          "    return len(HITS)\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "handlers"
    path.mkdir()
    (path / "counter_ns.py").write_text(COUNTER)
    (path / "helper_ns.py").write_text("VALUE = object()\n")
    pkg = path / "pkg_ns"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from . import sub\nfrom .sub import NAME\n")
    (pkg / "sub.py").write_text("import helper_ns as h\nfrom . import other\nNAME = __name__\nHELPER = h\n")
    (pkg / "other.py").write_text("X = 1\n")
    return path


@pytest.fixture
def namespaces(root: Path) -> Iterator[Namespaces]:
    main = Loader([str(root)])
    main.install()
    spaces = Namespaces(main, limit=3)
    yield spaces
    spaces.close()
    main.close()


def test_each_name_has_its_own_modules(namespaces: Namespaces) -> None:
    one, two = namespaces.get("one"), namespaces.get("two")
    first, second = one.import_module("counter_ns"), two.import_module("counter_ns")
    assert first is not second and first.bump() == 1 and first.bump() == 2 and second.bump() == 1
    # Sibling imports by statement stay in the namespace; nothing is published in sys.modules.
    assert first.helper_ns is not second.helper_ns and first.VALUE is first.helper_ns.VALUE
    assert "counter_ns" not in sys.modules and "helper_ns" not in sys.modules
    assert one.import_module("counter_ns") is first  # cached per namespace
    assert namespaces.get(MAIN_INTERPRETER) is namespaces.main


def test_packages_and_relative_imports(namespaces: Namespaces) -> None:
    package = namespaces.get("one").import_module("pkg_ns")
    assert package.NAME == "pkg_ns.sub" and package.sub.HELPER.__name__ == "helper_ns"
    assert package.sub.other.X == 1
    assert isinstance(namespaces.get("one"), PrivateLoader)
    assert namespaces.get("one").modules["pkg_ns.sub"] is package.sub  # type: ignore[attr-defined]


def test_the_shared_world_stays_shared_and_restricted(namespaces: Namespaces, root: Path) -> None:
    (root / "uses_stdlib.py").write_text("import json\nimport mod_python.apache as apache\n")
    module = namespaces.get("one").import_module("uses_stdlib")
    assert module.json is sys.modules["json"] and module.apache is sys.modules["mod_python.apache"]
    with pytest.raises(ImportError):  # not in the configured paths
        namespaces.get("one").import_module("subprocess")
    with pytest.raises(ImportRefused):  # the daemon itself is no handler module
        namespaces.get("one").import_module("fcgi_handlers")
    # mod_python's own handlers resolve in every interpreter, to the one shared copy, as in mod_python.
    for name in ("mod_python.publisher", "mod_python.testhandler", "mod_python.wsgi"):
        assert namespaces.get("one").import_module(name) is importlib.import_module(name)
    (root / "mod_python.py").write_text("HIJACKED = 1\n")  # a handler directory cannot shadow the package
    assert not hasattr(namespaces.get("one").import_module("mod_python"), "HIJACKED")


def test_reload_in_a_namespace(root: Path) -> None:
    now = [0.0]
    loader = PrivateLoader([str(root)], "one", clock=lambda: now[0])
    (root / "changing_ns.py").write_text("V = 1\n")
    assert loader.import_module("changing_ns").V == 1
    (root / "changing_ns.py").write_text("V = 2\n")
    import os
    os.utime(root / "changing_ns.py", ns=(2 * 10**18, 2 * 10**18))
    now[0] = 5.0
    assert loader.import_module("changing_ns").V == 2
    assert loader.import_module("changing_ns", autoreload=False).V == 2


def test_concurrent_first_imports_run_a_module_once(root: Path) -> None:
    (root / "slow_ns.py").write_text("import time\nRUNS = []\nRUNS.append(1)\ntime.sleep(0.05)\n")
    loader = PrivateLoader([str(root)], "one")
    modules = []
    threads = [threading.Thread(target=lambda: modules.append(loader.import_module("slow_ns"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(modules) == 4 and len({id(m) for m in modules}) == 1 and modules[0].RUNS == [1]


def test_namespace_limit_and_declared_names(namespaces: Namespaces) -> None:
    assert namespaces.for_request("localhost", explicit=False) is namespaces.main
    declared = namespaces.declare("localhost")
    assert namespaces.for_request("localhost", explicit=False) is declared
    namespaces.get("a")
    namespaces.get("b")
    with pytest.raises(TooManyInterpreters, match="already has 3"):
        namespaces.get("c")
    assert sorted(namespaces.names()) == ["a", "b", "localhost"]


NAMED = """
from mod_python import apache
import counter_ns
def handler(req):
    helper = apache.import_module('helper_ns')
    req.write('%s %s %d %s' % (req.interpreter, apache.interpreter, counter_ns.bump(), helper is counter_ns.helper_ns))
    return apache.OK
"""


@pytest.fixture
def worker(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """The harness's dispatcher installed as the worker's runtime (what app.make_app does)."""
    (harness.root / "counter_ns.py").write_text(COUNTER)
    (harness.root / "helper_ns.py").write_text("VALUE = object()\n")
    monkeypatch.setattr(runtime, "_state", None)
    dispatcher = harness.dispatcher
    runtime.install(runtime.WorkerState(loader=dispatcher.loader, namespaces=dispatcher.namespaces,
                                        child_cleanups=dispatcher.child_cleanups))
    return harness


def test_requests_run_in_their_interpreters_namespace(worker: Harness) -> None:
    name = worker.module(NAMED)
    one = [worker.request({"PythonHandler": name, "PythonInterpreter": "one"}).body for _ in range(2)]
    assert one == [b"one one 1 True", b"one one 2 True"]
    assert worker.request({"PythonHandler": name, "PythonInterpreter": "two"}).body == b"two two 1 True"
    # Named after SERVER_NAME (as mod_python names it after the virtual host), run in main_interpreter's namespace.
    assert worker.request({"PythonHandler": name}).body == b"localhost localhost 1 True"
    assert worker.request({"PythonHandler": name}, SERVER_NAME="www.example.com").body.startswith(
        b"www.example.com www.example.com 2")


def test_interpreter_per_directory(worker: Harness) -> None:
    name = worker.module(NAMED)
    (worker.docroot / "sub").mkdir()
    (worker.docroot / "sub" / "page.py").write_text("")
    result = worker.request({"PythonHandler": name, "PythonInterpPerDirectory": "On"}, path="/sub/page.py",
                            filename=str(worker.docroot / "sub" / "page.py"))
    assert result.body.startswith(f"{worker.docroot}/sub/ ".encode())


def test_too_many_interpreters_is_a_500(worker: Harness) -> None:
    name = worker.module(NAMED)
    worker.dispatcher.namespaces.limit = 1
    assert worker.request({"PythonHandler": name, "PythonInterpreter": "one"}).status == "Status: 200 OK"
    refused = worker.request({"PythonHandler": name, "PythonInterpreter": "two"})
    assert refused.status == "Status: 500 Internal Server Error" and refused.logged("interpreter 'two'")


def test_python_import_at_worker_start(worker: Harness, caplog: pytest.LogCaptureFixture) -> None:
    worker.module("from mod_python import apache\nSEEN = []\ndef init():\n    SEEN.append(apache.interpreter)\n",
                  name="startup_ns")
    specs = [runtime.parse_import_spec(text) for text in
             ("startup_ns::init", "startup_ns::init localhost", "missing_ns", "startup_ns::nothing other")]
    with caplog.at_level(logging.ERROR):
        failures = runtime.run_imports(specs, worker.dispatcher.namespaces)
    assert failures == 2 and "PythonImport missing_ns failed" in caplog.text
    assert "PythonImport startup_ns::nothing other failed" in caplog.text
    assert worker.dispatcher.loader.import_module("startup_ns").SEEN == ["main_interpreter"]
    declared = worker.dispatcher.namespaces.get("localhost").import_module("startup_ns")
    assert declared.SEEN == ["localhost"]
    # localhost was declared by a PythonImport: requests named after it by default now run there.
    name = worker.module("import startup_ns\ndef handler(req):\n    req.write(repr(startup_ns.SEEN))\n    return 0\n")
    assert worker.request({"PythonHandler": name}).body == b"['localhost']"


@pytest.mark.parametrize("text", ["", "a b c", "a::", "os.path::1x", "../x"])
def test_bad_import_specs(text: str) -> None:
    with pytest.raises(ValueError):
        runtime.parse_import_spec(text)


def test_child_cleanups_from_both_apis(worker: Harness, caplog: pytest.LogCaptureFixture) -> None:
    ran: list[object] = []
    name = worker.module(
        "from mod_python import apache\n"
        "def handler(req):\n"
        "    apache.register_cleanup(RAN.append, 'module-level')\n"
        "    req.server.register_cleanup(req, RAN.append, 'server')\n"
        "    apache.register_cleanup(lambda data: 1 / 0)\n"
        "    return apache.OK\n")
    module = worker.dispatcher.loader.import_module(name)
    module.RAN = ran
    assert worker.request({"PythonHandler": name}).status == "Status: 200 OK"
    assert ran == []  # only when the worker exits
    with caplog.at_level(logging.ERROR):
        runtime.run_child_cleanups()
    assert ran == ["server", "module-level"] and "child-exit cleanup" in caplog.text
    assert worker.dispatcher.child_cleanups == []
    with pytest.raises(ValueError):
        from mod_python import apache
        apache.register_cleanup("not callable")  # type: ignore[arg-type]
