"""A worker's sys.stderr: lines written while a request runs go to that request's error log, the rest to the
daemon's stderr (dispatch.stderr)."""

from __future__ import annotations

import io

from fcgi_handlers.dispatch.stderr import RequestStderr
from fcgi_handlers.request.context import current_request


class LoggingRequest:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def log_error(self, message: str, level: int = 3) -> None:
        self.lines.append(message)


def test_lines_go_to_the_current_requests_log_and_wait_for_their_end() -> None:
    fallback = io.StringIO()
    stream = RequestStderr(fallback)
    req = LoggingRequest()
    token = current_request.set(req)
    try:
        print("one", file=stream)
        stream.write("two ")
        assert req.lines == ["one"]
        stream.write("halves\nthree")
        stream.flush()
    finally:
        current_request.reset(token)
    assert req.lines == ["one", "two halves", "three"]
    assert fallback.getvalue() == ""


def test_outside_a_request_text_goes_to_the_daemons_stderr() -> None:
    fallback = io.StringIO()
    stream = RequestStderr(fallback)
    print("daemon text", file=stream)
    assert fallback.getvalue() == "daemon text\n"
