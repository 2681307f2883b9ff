"""req.server's own tables from a virtual host's directives (`PythonServer.*` params), connection.base_server and
apache.main_server (upstream's test_req_server_get_config and test_req_server_get_options)."""

from __future__ import annotations

import pytest

from fcgi_handlers.dispatch import runtime
from fcgi_handlers.dispatch.directives import DirectiveError, server_scope

from .conftest import Harness

SHOW = """
from mod_python import apache
def handler(req):
    def show(options):
        return sorted((k, v) for k, v in options.items())
    req.write(repr([req.server.get_config().get("PythonDebug"), req.get_config().get("PythonDebug"),
                    show(req.server.get_options()), show(req.get_options()),
                    show(req.connection.base_server.get_options()), show(apache.main_server.get_options())]))
    return apache.OK
"""


def test_server_scope_reads_flags_strings_and_options() -> None:
    params = {"PythonServer.PythonDebug": "on", "PythonServer.PythonOption.a": "1", "PythonServer.PythonOption.b": "",
              "PythonServer.PythonInterpreter": "x", "PythonDebug": "Off"}
    assert server_scope(params) == ((("PythonDebug", "1"), ("PythonInterpreter", "x")), (("a", "1"),))
    assert server_scope({"PythonDebug": "On"}) is None
    with pytest.raises(DirectiveError):
        server_scope({"PythonServer.PythonDebug": "maybe"})


def test_the_virtual_hosts_tables_are_req_servers_own(harness: Harness) -> None:
    runtime.install(runtime.WorkerState(loader=harness.dispatcher.loader))
    name = harness.module(SHOW)
    result = harness.request({"PythonHandler": name, "PythonDebug": "Off", "PythonOption.global": "1",
                              "PythonOption.override": "2", "PythonOption.local": "1",
                              "PythonServer.PythonDebug": "On", "PythonServer.PythonOption.global": "1",
                              "PythonServer.PythonOption.override": "1"})
    assert result.body == repr(["1", "0", [("global", "1"), ("override", "1")],
                                [("global", "1"), ("local", "1"), ("override", "2")], [], []]).encode()


def test_without_a_server_scope_the_server_has_no_options(harness: Harness) -> None:
    runtime.install(runtime.WorkerState(loader=harness.dispatcher.loader))
    name = harness.module(SHOW)
    result = harness.request({"PythonHandler": name, "PythonDebug": "On", "PythonOption.local": "1"})
    assert result.body == repr(["1", "1", [], [("local", "1")], [], []]).encode()


def test_the_main_servers_tables_are_the_workers_own() -> None:
    state = runtime.WorkerState(loader=None)  # type: ignore[arg-type]
    state.main_server.get_options()["set by an import"] = "1"
    assert state.main_server.get_options()["set by an import"] == "1"
