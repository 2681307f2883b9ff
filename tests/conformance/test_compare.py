"""What the comparison normalises and what it does not: each rule against hand-made answers."""
from __future__ import annotations

from fcgi_handlers.conformance.compare import (Side, View, check, collapse_frames, differences, log_messages,
                                               missing_logs, normalise_text, view)
from fcgi_handlers.conformance.scenario import Expect, Mask
from fcgi_handlers.apache.runner import Response

ROOTS = ("/srv/cf/handlers", "/srv/cf/htdocs")
OURS = Side(port=41234, code_roots=ROOTS)
THEIRS = Side(port=38001, code_roots=ROOTS)
DATE = "Wed, 25 Nov 2026 13:25:58 GMT"


def response(headers: list[tuple[str, str]], body: bytes = b"", status: int = 200, reason: str = "OK") -> Response:
    return Response(status, reason, [("Date", DATE), *headers], body)


def page(frames: str, tail: str = "ValueError: boom\n") -> str:
    head = '\n<pre>\nMod_python error: "PythonHandler h"\n\nTraceback (most recent call last):\n\n'
    return f"{head}{frames}{tail}\n</pre>\n"


HANDLER_FRAME = ('  File &quot;/srv/cf/handlers/h.py&quot;, line 4, in handler\n'
                 '    raise ValueError(&quot;boom&quot;)\n\n')
APACHE_FRAME = ('  File &quot;/usr/lib/python3/dist-packages/mod_python/apache.py&quot;, line 402, in HandlerDispatch\n'
                '    result = obj(req)\n             ^^^^^^^^\n\n')
DAEMON_FRAMES = ('  File &quot;/opt/fcgi_handlers/dispatch/chain.py&quot;, line 92, in run_chain\n'
                 '    value = obj(req)\n\n'
                 '  File &quot;/opt/fcgi_handlers/dispatch/chain.py&quot;, line 40, in call\n    return fn(req)\n\n')


def test_each_sides_port_is_replaced_where_it_stands_alone() -> None:
    text = "http://127.0.0.1:41234/x Port 41234 (41234) 4123456 a41234b"
    assert normalise_text(text, OURS) == "http://127.0.0.1:<PORT>/x Port <PORT> (<PORT>) 4123456 a41234b"
    assert normalise_text("Port 41234", THEIRS) == "Port 41234"  # only a side's own port


def test_implementation_frames_go_and_handler_frames_stay() -> None:
    theirs = normalise_text(page(APACHE_FRAME + HANDLER_FRAME), THEIRS)
    ours = normalise_text(page(DAEMON_FRAMES + HANDLER_FRAME), OURS)
    assert theirs == ours == page(HANDLER_FRAME)
    changed = normalise_text(page(DAEMON_FRAMES + HANDLER_FRAME.replace("line 4", "line 5")), OURS)
    assert changed != theirs


def test_frames_raised_below_the_handler_are_implementation_frames_too() -> None:
    # mod_python's C write() adds no frame; the daemon's Python write() does.
    assert normalise_text(page(APACHE_FRAME + HANDLER_FRAME), THEIRS) == \
        normalise_text(page(DAEMON_FRAMES + HANDLER_FRAME + DAEMON_FRAMES), OURS)


def test_a_chained_traceback_inside_the_implementation_goes_one_with_handler_frames_stays() -> None:
    inner = ("Traceback (most recent call last):\n\n" + APACHE_FRAME + "KeyError: &#x27;x&#x27;\n\n\n"
             "During handling of the above exception, another exception occurred:\n\n\n")
    outer = "Traceback (most recent call last):\n\n" + APACHE_FRAME + "AttributeError: no x\n"
    assert collapse_frames(inner + outer, ROOTS) == "Traceback (most recent call last):\n\nAttributeError: no x\n"
    handler_inner = inner.replace(APACHE_FRAME, HANDLER_FRAME)
    assert "KeyError" in collapse_frames(handler_inner + outer, ROOTS)


def test_masks_apply_to_bodies_and_headers() -> None:
    mask = Mask(r"pysid=[0-9a-f]{32}", "pysid=<sid>", "random")
    answer = view(response([("Set-Cookie", "pysid=" + "a" * 32 + "; path=/")], b"pysid=" + b"b" * 32), OURS, [mask])
    assert answer.header("set-cookie") == ("pysid=<sid>; path=/",)
    assert answer.body == b"pysid=<sid>"


def test_framing_is_not_compared_and_date_server_etag_are_normalised() -> None:
    theirs = view(response([("Server", "Apache/2.4.71 (Debian) mod_python/3.5.0"), ("Content-Length", "5"),
                            ("ETag", '"5-abc"'), ("Connection", "close"), ("X-Mine", "1")], b"hello"), THEIRS)
    ours = view(response([("Server", "Apache/2.4.71 (Debian)"), ("Transfer-Encoding", "chunked"),
                          ("ETag", '"5-def"'), ("X-Mine", "1")], b"hello"), OURS)
    assert differences(theirs, ours) == []
    assert theirs.headers == (("date", ("<date>",)), ("etag", ("<etag>",)), ("server", ("<server>",)),
                              ("x-mine", ("1",)))


def test_an_etag_present_on_one_side_only_differs() -> None:
    theirs = view(response([("ETag", '"1"')]), THEIRS)
    assert differences(theirs, view(response([]), OURS)) == ["header etag: mod_python ('<etag>',), daemon None"]


def test_allow_compares_as_a_sorted_list_keeping_duplicates() -> None:
    theirs = view(response([("Allow", "POST,HEAD,GET,TRACE,TRACE")]), THEIRS)
    assert theirs.header("allow") == ("GET,HEAD,POST,TRACE,TRACE",)
    ours = view(response([("Allow", "HEAD,GET,POST,TRACE")]), OURS)
    assert differences(theirs, ours) == ["header allow: mod_python ('GET,HEAD,POST,TRACE,TRACE',), "
                                         "daemon ('GET,HEAD,POST,TRACE',)"]


def test_expires_near_the_answers_date_reads_as_now_a_fixed_one_does_not() -> None:
    near = view(response([("Expires", "Wed, 25 Nov 2026 13:25:59 GMT")]), OURS)
    fixed = view(response([("Expires", "Thu, 01 Jan 1970 00:00:00 GMT")]), OURS)
    assert near.header("expires") == ("<now>",)
    assert fixed.header("expires") == ("Thu, 01 Jan 1970 00:00:00 GMT",)


def test_repeated_headers_keep_their_values_in_order() -> None:
    folded = view(response([("X-Multi", "a, b")]), OURS)
    separate = view(response([("X-Multi", "a"), ("X-Multi", "b")]), THEIRS)
    assert differences(separate, folded) == ["header x-multi: mod_python ('a', 'b'), daemon ('a, b',)"]


def test_status_line_and_body_differences_are_reported() -> None:
    theirs = View("404 Not Found", (), b"a" * 100 + b"X")
    ours = View("200 OK", (), b"a" * 100 + b"Y")
    found = differences(theirs, ours)
    assert found[0] == "status: mod_python '404 Not Found', daemon '200 OK'"
    assert found[1].startswith("body: lengths 101/101, first difference at byte 100:")


def test_check_reports_each_broken_expectation() -> None:
    answer = View("200 OK", (("x-a", ("1",)),), b"hello world")
    assert check(Expect(status=200, headers={"X-A": "1", "X-B": None}, contains=[b"world"]), answer, "daemon") == []
    failures = check(Expect(status=404, headers={"X-A": None, "X-B": "2"}, body=b"bye", contains=[b"moon"],
                            lacks=[b"hello"]), answer, "daemon")
    assert len(failures) == 6 and all(f.startswith("daemon: ") for f in failures)


def test_log_messages_from_apache_mod_proxy_fcgi_and_the_daemon() -> None:
    text = "\n".join([
        "[Wed Nov 25 13:25:58.784 2026] [:error] [pid 9781:tid 9781] [client 127.0.0.1:35704] PythonHandler h: "
        "ValueError: boom",
        "[Wed Nov 25 13:25:59.143 2026] [proxy_fcgi:error] [pid 9786:tid 9846] [client 127.0.0.1:47864] AH01071: "
        "Got error 'PythonHandler h:   File \"/x.py\", line 6, in handler\\n    raise X\\n'",
        "[Wed Nov 25 13:25:58.757 2026] [:notice] [pid 9780:tid 9780] mod_python: (Re)importing module 'h'",
        "2026-11-25 13:39:08,260 [30159] ERROR fcgi_handlers.request: cf-log /x status=200",
    ])
    messages = log_messages(text)
    assert messages == ["PythonHandler h: ValueError: boom", 'PythonHandler h:   File "/x.py", line 6, in handler',
                        "    raise X", "mod_python: (Re)importing module 'h'", "cf-log /x status=200"]
    assert missing_logs([r"^cf-log /x status=200$", r"ValueError: boom", r"never"], messages) == ["never"]
