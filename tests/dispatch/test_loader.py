"""The loader: imports only from the allowed directories, really reloads, resolves objects as mod_python does."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fcgi_handlers.dispatch.loader import CHECK_INTERVAL, ImportRefused, Loader, resolve_object


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "handlers"
    path.mkdir()
    return path


@pytest.fixture
def loader(root: Path, clock: FakeClock) -> Iterator[Loader]:
    ldr = Loader([str(root)], clock=clock)
    ldr.install()
    yield ldr
    ldr.close()


def unique(prefix: str = "m") -> str:
    """A module name no other test uses (sys.modules is process-wide)."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def write_module(directory: Path, name: str, source: str, mtime_ns: int | None = None) -> Path:
    path = directory / f"{name}.py"
    path.write_text(source)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def test_imports_a_module_from_an_allowed_directory(loader: Loader, root: Path) -> None:
    name = unique()
    write_module(root, name, "VALUE = 41 + 1\n")
    module = loader.import_module(name)
    assert module.VALUE == 42
    assert sys.modules[name] is module
    assert loader.import_module(name) is module


def test_refuses_a_stdlib_module_before_running_it(loader: Loader) -> None:
    # antigravity opens a web browser when it executes: it must not even be executed.
    assert "antigravity" not in sys.modules
    with pytest.raises(ImportRefused, match="'antigravity' is not inside the configured paths"):
        loader.import_module("antigravity")
    assert "antigravity" not in sys.modules


def test_a_module_that_exists_nowhere_gets_pythons_own_message(loader: Loader) -> None:
    # mod_python shows Python's ModuleNotFoundError text unchanged in its PythonDebug page.
    with pytest.raises(ModuleNotFoundError) as caught:
        loader.import_module("cf_no_such_module_anywhere")
    assert str(caught.value) == "No module named 'cf_no_such_module_anywhere'"
    assert not isinstance(caught.value, ImportRefused)


def test_refuses_an_already_imported_module_from_elsewhere(loader: Loader) -> None:
    with pytest.raises(ImportRefused, match="'os' is not inside the configured paths"):
        loader.import_module("os")
    with pytest.raises(ImportRefused):
        loader.import_module("sys")  # built in: no file at all


@pytest.mark.parametrize("name", ["", ".rel", "a..b", "a/b", "/etc/passwd", "a-b", "x.py "])
def test_refuses_malformed_names(loader: Loader, name: str) -> None:
    with pytest.raises(ImportRefused):
        loader.import_module(name)


def test_package_submodule_and_sibling_imports(loader: Loader, root: Path) -> None:
    pkg, helper = unique("pkg"), unique("helper")
    (root / pkg).mkdir()
    (root / pkg / "__init__.py").write_text("")
    (root / pkg / "sub.py").write_text(f"import {helper}\nVALUE = {helper}.X * 2\n")
    write_module(root, helper, "X = 21\n")
    module = loader.import_module(f"{pkg}.sub")
    assert module.VALUE == 42
    # Source only: nothing was written into the handler directory.
    assert not list(root.rglob("__pycache__"))


def test_namespace_package_in_an_allowed_directory(loader: Loader, root: Path) -> None:
    pkg = unique("ns")
    (root / pkg).mkdir()
    (root / pkg / "mod.py").write_text("VALUE = 'ns'\n")
    assert loader.import_module(f"{pkg}.mod").VALUE == "ns"


def test_sibling_import_outside_a_request_uses_the_tail_finder(loader: Loader, root: Path) -> None:
    name = unique()
    write_module(root, name, "VALUE = 'tail'\n")
    assert loader.active_path() is None
    module = __import__(name)
    assert module.VALUE == "tail"


def test_handler_directory_shadows_other_modules_while_active(loader: Loader, root: Path) -> None:
    # A module named like an installed one is found in the handler directory first, as with mod_python's
    # prepended directory; outside a request the installed one wins.
    shadow = unique("shadow")
    other = root.parent / "elsewhere"
    other.mkdir()
    write_module(other, shadow, "WHERE = 'elsewhere'\n")
    write_module(root, shadow, "WHERE = 'handlers'\n")
    sys.path.insert(0, str(other))
    try:
        with loader.search_path():
            module = __import__(shadow)
        assert module.WHERE == "handlers"
    finally:
        sys.path.remove(str(other))
        sys.modules.pop(shadow, None)


def test_reserved_names_are_never_served_from_handler_directories(loader: Loader, root: Path) -> None:
    (root / "mod_python.py").write_text("raise SystemExit('shadowed')\n")
    (root / "fcgi_handlers.py").write_text("raise SystemExit('shadowed')\n")
    assert loader.find_in("mod_python", loader.roots) is not None  # the files are there ...
    with loader.search_path():
        for name in ("mod_python", "fcgi_handlers"):
            spec = importlib.util.find_spec(name)  # ... but never what an import would use
            assert spec is None or not str(spec.origin).startswith(str(root))


def test_path_argument_restricted_to_allowed_directories(loader: Loader, root: Path, tmp_path: Path) -> None:
    name = unique()
    sub = root / "lib"
    sub.mkdir()
    write_module(sub, name, "VALUE = 'lib'\n")
    with pytest.raises(ModuleNotFoundError):
        loader.import_module(name)  # not directly in the root
    assert loader.import_module(name, path=[str(sub)]).VALUE == "lib"
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(ImportRefused, match="outside|not inside"):
        loader.import_module(unique(), path=[str(outside)])
    # The shipped mod_python package may be imported from, but is no search directory for top-level names.
    import mod_python
    with pytest.raises(ImportRefused):
        loader.import_module("apache", path=list(mod_python.__path__))
    assert "apache" not in sys.modules


def test_symlink_out_of_the_allowed_directories_is_refused(loader: Loader, root: Path, tmp_path: Path) -> None:
    name = unique()
    outside = tmp_path / "outside"
    outside.mkdir()
    target = write_module(outside, name, "VALUE = 1\n")
    (root / f"{name}.py").symlink_to(target)
    with pytest.raises(ImportRefused):
        loader.import_module(name)
    assert name not in sys.modules


def test_autoreload_picks_up_a_changed_file(loader: Loader, root: Path, clock: FakeClock) -> None:
    name = unique()
    path = write_module(root, name, "def handler(req):\n    return 'old'\n", mtime_ns=1_000_000_000_000)
    assert loader.import_module(name).handler(None) == "old"
    # Same size, new content, new mtime: the bytecode cache would not notice; we compile from source.
    write_module(root, name, "def handler(req):\n    return 'new'\n", mtime_ns=2_000_000_000_000)
    clock.now += CHECK_INTERVAL / 2
    assert loader.import_module(name).handler(None) == "old"  # checked at most once per interval
    clock.now += CHECK_INTERVAL
    logged: list[str] = []
    module = loader.import_module(name, log=logged.append)
    assert module.handler(None) == "new"
    assert sys.modules[name] is module
    assert logged == [f"mod_python: (Re)importing module '{name}'"]
    assert path.exists()


def test_autoreload_off_keeps_the_old_module(loader: Loader, root: Path, clock: FakeClock) -> None:
    name = unique()
    write_module(root, name, "VALUE = 'old'\n", mtime_ns=1_000_000_000_000)
    first = loader.import_module(name, autoreload=False)
    write_module(root, name, "VALUE = 'new'\n", mtime_ns=2_000_000_000_000)
    clock.now += 10 * CHECK_INTERVAL
    assert loader.import_module(name, autoreload=False) is first
    assert first.VALUE == "old"


def test_failed_reload_keeps_the_old_module(loader: Loader, root: Path, clock: FakeClock) -> None:
    name = unique()
    write_module(root, name, "VALUE = 'old'\n", mtime_ns=1_000_000_000_000)
    first = loader.import_module(name)
    write_module(root, name, "VALUE = (\n", mtime_ns=2_000_000_000_000)
    clock.now += 2 * CHECK_INTERVAL
    with pytest.raises(SyntaxError):
        loader.import_module(name)
    assert sys.modules[name] is first
    assert loader.import_module(name) is first  # within the interval: no new attempt
    write_module(root, name, "VALUE = 'fixed'\n", mtime_ns=3_000_000_000_000)
    clock.now += 2 * CHECK_INTERVAL
    assert loader.import_module(name).VALUE == "fixed"


def test_concurrent_first_imports_run_the_module_once(loader: Loader, root: Path, tmp_path: Path) -> None:
    name = unique()
    marks = tmp_path / "marks"
    write_module(root, name, f"import time\nopen({str(marks)!r}, 'a').write('x')\ntime.sleep(0.2)\nVALUE = 7\n")
    results: list[object] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait(5)
        try:
            results.append(loader.import_module(name).VALUE)
        except Exception as exc:  # recorded: a half-initialised module would raise AttributeError here
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [7] * 8
    assert marks.read_text() == "x"


def test_close_forgets_modules(root: Path, clock: FakeClock) -> None:
    ldr = Loader([str(root)], clock=clock)
    ldr.install()
    name = unique()
    write_module(root, name, "VALUE = 1\n")
    ldr.import_module(name)
    ldr.close()
    assert name not in sys.modules
    assert all(not isinstance(f, type(ldr._front)) or getattr(f, "_loader", None) is not ldr for f in sys.meta_path)


class Req:
    pass


def test_resolve_object_instantiates_a_class_parent(loader: Loader, root: Path) -> None:
    name = unique()
    write_module(root, name, (
        "class Page:\n"
        "    def __init__(self, req):\n"
        "        self.req = req\n"
        "    def render(self, req):\n"
        "        return (self.req, req)\n"
        "class Outer:\n"
        "    class Inner:\n"
        "        pass\n"
        "def handler(req):\n"
        "    return 0\n"
        "handler.attr = 'dotted'\n"))
    module = loader.import_module(name)
    req = Req()
    bound = resolve_object(module, "Page.render", arg=req)
    assert bound.__self__.req is req
    assert bound(req) == (req, req)
    assert resolve_object(module, "handler") is module.handler
    assert resolve_object(module, "handler.attr") == "dotted"
    with pytest.raises(AttributeError, match=rf"module '.*{name}\.py' contains no 'missing'"):
        resolve_object(module, "missing")
    assert resolve_object(module, "missing", silent=True) is None
    assert resolve_object(module, "Page.missing", arg=req, silent=True) is None


def test_allowed_directories_are_listed_once_on_sys_path_but_served_by_the_loader(root: Path, loader: Loader) -> None:
    # mod_python lists a handler's directory on sys.path (its test suite counts it); the standard path finder must
    # still not import from it: no bytecode written there, no import outside a request's restrictions.
    listed = [entry for entry in sys.path if os.path.realpath(entry) == os.path.realpath(root)]
    assert len(listed) == 1
    (root / "listed_mod.py").write_text("VALUE = 1\n")
    assert importlib.machinery.PathFinder.find_spec("listed_mod", [str(root)]) is None
    with loader.search_path():
        assert loader.import_module("listed_mod").VALUE == 1
    assert not (root / "__pycache__").exists()
    loader.close()
    assert not any(os.path.realpath(entry) == os.path.realpath(root) for entry in sys.path)
