"""mod_python's own test suite as a conformance area: every per-request test of its `test/test.py`, accounted for.

`UPSTREAM` lists every `PerRequestTestCase.test_*` method of mod_python 3.5's test/test.py in upstream's order, each
either run (its scenario, built in `upstream_request`/`upstream_modules`) or left out with the reason. A test is left
out only when it cannot be answered by a handler behind mod_proxy_fcgi (it needs Apache's filters, the raw
connection, or records Apache never sends) or when upstream itself does not run it. Tests that configure their
virtual host (server-level directives, PythonImport) run with a virtual host of their own (`Scenario.server`). `corpus()` refuses a catalogue whose scenarios and entries disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..scenario import Scenario
from . import upstream_modules, upstream_request
from .upstream_common import AREA, scenario_name, upstream_conditions

__all__ = ["AREA", "SCENARIOS", "UPSTREAM", "UpstreamTest", "upstream_conditions"]

FILTERS = "an Apache filter: filters run inside Apache's output chain, which a FastCGI backend never sees"


@dataclass(frozen=True)
class UpstreamTest:
    """One upstream per-request test: the scenario that runs it, or why it is left out."""

    test: str
    excluded: str = ""
    # Scenarios showing a part of the test that cannot pass out of process (stated in the test's scenario note and
    # in their own intended difference); they do not decide the test's verdict.
    shown_by: tuple[str, ...] = ()

    @property
    def scenario(self) -> Optional[str]:
        return None if self.excluded else scenario_name(self.test)


def _run(*tests: str) -> list[UpstreamTest]:
    return [UpstreamTest(test) for test in tests]


UPSTREAM: list[UpstreamTest] = [
    *_run("test_req_document_root", "test_req_add_handler", "test_req_add_bad_handler",
          "test_req_add_empty_handler_string", "test_req_add_handler_empty_phase", "test_req_add_handler_directory",
          "test_accesshandler_add_handler_to_empty_hl", "test_req_allow_methods", "test_req_unauthorized",
          "test_req_get_basic_auth_pw", "test_req_auth_type", "test_req_requires", "test_req_internal_redirect",
          "test_req_construct_url"),
    UpstreamTest("test_req_read", shown_by=("up_req_read_timeout",)),
    *_run("test_req_readline", "test_req_readlines",
          "test_req_discard_request_body", "test_req_register_cleanup", "test_req_headers_out", "test_req_sendfile",
          "test_req_sendfile2", "test_req_sendfile3", "test_req_handler", "test_req_no_cache",
          "test_req_update_mtime", "test_util_redirect"),
    *_run("test_req_server_get_config", "test_req_server_get_options"),
    *_run("test_fileupload", "test_fileupload_embedded_cr", "test_fileupload_split_boundary", "test_sys_argv"),
    *_run("test_PythonOption", "test_PythonOption_override", "test_PythonOption_remove", "test_PythonOption_remove2",
          "test_interpreter_per_directive", "test_interpreter_per_directory", "test_util_fieldstorage"),
    *_run("test_postreadrequest", "test_trans"),
    *_run("test_import"),
    UpstreamTest("test_outputfilter", "PythonOutputFilter is " + FILTERS),
    UpstreamTest("test_req_add_output_filter", "req.add_output_filter adds " + FILTERS),
    UpstreamTest("test_req_register_output_filter", "req.register_output_filter registers " + FILTERS),
    UpstreamTest("test_connectionhandler", "PythonConnectionHandler handles the raw client connection, which only "
                                           "Apache holds"),
    UpstreamTest("test_internal", "its in-process checks read what Apache keeps to itself: the error log file, "
                                  "read back by the handler, and the server and connection records (defn_name, "
                                  "defn_line_number, error_fname, loglevel, keep-alive settings and counters, "
                                  "request limits), which no FastCGI backend receives; its portable parts (tables, "
                                  "request members) are the request API and tables areas"),
    *_run("test_pipe_ext", "test_wsgihandler", "test_wsgihandler_location", "test_cgihandler", "test_psphandler",
          "test_psp_parser", "test_psp_error", "test_Cookie_Cookie", "test_Cookie_MarshalCookie",
          "test_Session_Session", "test_Session_illegal_sid", "test_files_directive", "test_none_handler",
          "test_server_return", "test_phase_status", "test_publisher", "test_publisher_auth_nested",
          "test_publisher_auth_method_nested", "test_publisher_auth_digest", "test_publisher_security"),
    UpstreamTest("test_publisher_iterator", "disabled in upstream's own suite: it asserts that the publisher "
                                            "iterates a returned iterator, which mod_python 3.5 does not (it "
                                            "publishes str() of it: 'dict_keys([1, 2, 3])', '<generator object "
                                            "...>'), and the daemon publishes as mod_python does"),
    *_run("test_publisher_hierarchy", "test_publisher_old_style_instance", "test_publisher_instance"),
    *_run("test_publisher_cache"),
    UpstreamTest("test_server_side_include", "server-side includes run in mod_include's output filter, inside "
                                             "Apache; req.ssi_globals cannot reach it"),
    *_run("test_memory"),
]

SCENARIOS: list[Scenario] = [*upstream_request.SCENARIOS, *upstream_modules.SCENARIOS]


def _check() -> None:
    """Every scenario has its catalogue entry and every run entry its scenario, once each."""
    run = [entry.scenario for entry in UPSTREAM if entry.scenario is not None]
    run += [name for entry in UPSTREAM for name in entry.shown_by]
    names = [scenario.name for scenario in SCENARIOS]
    tests = [entry.test for entry in UPSTREAM]
    if sorted(run) != sorted(names) or len(set(tests)) != len(tests):
        raise ValueError(f"mod_python test suite catalogue and scenarios disagree: {sorted(set(run) ^ set(names))}")


_check()
