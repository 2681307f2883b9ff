"""The phases after the response: with the server's `call_after_end`, the log phase, the registered cleanups and the
cleanup phase wait until the response is complete, run in the request's context, log to the daemon's own log (the
connection may already serve another request) and never change the response."""

from __future__ import annotations

import io
import logging
from typing import Callable

import pytest
from fake_sink import FakeSink

from .conftest import Harness

AFTER = """
from mod_python import apache
def handler(req):
    req.register_cleanup(lambda data: apache.log_error('registered %s %s' % (data, apache.interpreter)), 'one')
    req.register_cleanup(lambda data: 1 / 0)
    req.write('body')
    return apache.OK
def loghandler(req):
    req.log_error('log phase status=%d sent=%d' % (req.status, req.eos_sent))
    req.write('too late')
    return apache.OK
def cleanuphandler(req):
    req.log_error('cleanup phase %s' % req.phase)
    raise RuntimeError('cleanup failed')
"""


def deferred_request(harness: Harness) -> tuple[FakeSink, list[Callable[[], None]]]:
    name = harness.module(AFTER)
    params = harness.params({"PythonHandler": name, "PythonLogHandler": name, "PythonCleanupHandler": name})
    sink = FakeSink()
    deferred: list[Callable[[], None]] = []
    harness.dispatcher.handle(params, io.BytesIO(), sink, after_end=deferred.append)
    return sink, deferred


def test_work_after_the_response_waits_for_after_end(harness: Harness) -> None:
    sink, deferred = deferred_request(harness)
    head, _, body = b"".join(sink.out).partition(b"\r\n\r\n")
    assert head.startswith(b"Status: 200 OK") and body == b"body"
    assert sink.err == []  # nothing of the log or cleanup phases ran yet
    assert len(deferred) == 1


def test_deferred_work_logs_to_the_daemon_and_never_touches_the_connection(harness: Harness,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    sink, deferred = deferred_request(harness)
    written = list(sink.out)
    with caplog.at_level(logging.DEBUG):
        deferred[0]()
    assert sink.out == written and sink.err == []
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == "log phase status=200 sent=1"
    # Newest first: the failing callback is logged and the next one still runs (in the request's context).
    assert messages[1].startswith("python_cleanup: Error calling cleanup object")
    assert messages[3] == "registered one localhost"
    assert messages[4] == "cleanup phase PythonCleanupHandler"
    assert any("RuntimeError: cleanup failed" in message for message in messages[5:])


def test_without_after_end_the_work_runs_before_handle_returns(harness: Harness) -> None:
    name = harness.module(AFTER)
    result = harness.request({"PythonHandler": name, "PythonLogHandler": name, "PythonCleanupHandler": name})
    assert result.body == b"body"
    assert result.log[0] == "log phase status=200 sent=1" and "cleanup phase PythonCleanupHandler" in result.log


PLAIN = """
from mod_python import apache
def handler(req):
    if req.get_options().get('cleanup'):
        req.register_cleanup(lambda data: apache.log_error('registered ran'))
    if req.get_options().get('add'):
        req.add_handler('PythonLogHandler', req.get_options()['add'])
    req.write('body')
    return apache.OK
def loghandler(req):
    req.log_error('added log handler ran')
    return apache.OK
"""


@pytest.mark.parametrize("extra, deferred_count", [
    ({}, 0),  # nothing to do after the response: nothing is handed to the server (a no-reuse request's fast path)
    ({"PythonOption.cleanup": "1"}, 1),
    ({"PythonLogHandler": "{name}"}, 1),
    ({"PythonCleanupHandler": "{name}"}, 1),
    ({"PythonOption.add": "{name}"}, 1),
])
def test_work_after_is_handed_over_only_when_there_is_some(harness: Harness, extra: dict[str, str],
                                                           deferred_count: int,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    name = harness.module(PLAIN)
    params = harness.params({"PythonHandler": name, **{k: v.format(name=name) for k, v in extra.items()}})
    sink = FakeSink()
    deferred: list[Callable[[], None]] = []
    harness.dispatcher.handle(params, io.BytesIO(), sink, after_end=deferred.append)
    assert b"".join(sink.out).endswith(b"\r\n\r\nbody")
    assert len(deferred) == deferred_count
    with caplog.at_level(logging.DEBUG):
        for work in deferred:
            work()
    messages = [record.getMessage() for record in caplog.records]
    if "PythonOption.cleanup" in extra:
        assert "registered ran" in messages
    if "PythonOption.add" in extra:
        assert "added log handler ran" in messages
