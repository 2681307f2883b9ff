"""mod_python.psp at run time: the handler, PSP objects, the page globals (form, session, psp), error pages, the
compiled-code cache and the refusals; mod_python's Py3 failures (redirect, parsestring of str) as working cases."""

from __future__ import annotations

import os
import time

import pytest
from pages_harness import Site, site  # noqa: F401 - the fixture

from fcgi_handlers.request.exceptions import SERVER_RETURN
from mod_python import psp

PSP = "mod_python.psp"
MEMORY_SESSIONS = {"mod_python.session.session_type": "MemorySession"}


def test_handler_renders_the_page_as_html(site: Site) -> None:
    site.write("p/loop.psp", "<%\nfor i in range(3):\n%><li><%= i %></li>\n<%\n%>end\n")
    result = site.get("/p/loop.psp", handler=PSP)
    assert (result.status, result.header("Content-Type")) == (200, "text/html")
    assert result.text == "<li>0</li>\n<li>1</li>\n<li>2</li>\nend\n"
    assert result.writes == 1


def test_form_is_made_when_the_page_names_it(site: Site) -> None:
    site.write("p/form.psp", "<%= ','.join(sorted(form.keys())) %>|<%= str(form.getfirst('a')) %>")
    assert site.get("/p/form.psp?b=2&a=1", handler=PSP).text == "a,b|1"
    result = site.get("/p/form.psp", handler=PSP, method="POST", body=b"a=posted")
    assert result.text == "a|posted"


def test_form_is_not_made_otherwise_so_the_body_stays_unread(site: Site) -> None:
    site.write("p/raw.psp", "<%= req.read().decode() %>|<%= hasattr(req, 'form') %>")
    result = site.get("/p/raw.psp", handler=PSP, method="POST", body=b"a=1&b=2")
    assert result.text == "a=1&b=2|False"


SESSION_PAGE = "<%\nsession['n'] = session.get('n', 0) + 1\n%><%= session['n'] %>"


def test_session_is_made_saved_and_sent_when_named(site: Site) -> None:
    site.write("p/count.psp", SESSION_PAGE)
    first = site.get("/p/count.psp", handler=PSP, options=MEMORY_SESSIONS)
    cookie = first.header("Set-Cookie") or ""
    assert first.text == "1" and cookie.startswith("pysid=")
    sid = cookie.split(";")[0]
    second = site.get("/p/count.psp", handler=PSP, options=MEMORY_SESSIONS, headers={"Cookie": sid})
    assert second.text == "2"


def test_no_session_unless_named(site: Site) -> None:
    site.write("p/plain.psp", "plain")
    result = site.get("/p/plain.psp", handler=PSP, options=MEMORY_SESSIONS)
    assert result.header("Set-Cookie") is None and result.text == "plain"


def test_session_made_for_a_run_is_saved_and_removed_afterwards(site: Site) -> None:
    first, _ = site.request_object(site.params("/p/x.psp"), options=MEMORY_SESSIONS)
    psp.PSP(first, string=SESSION_PAGE).run()
    assert getattr(first, "session", None) is None
    cookie = first.headers_out.get("Set-Cookie") or first.err_headers_out.get("Set-Cookie")
    assert cookie is not None
    second, sink = site.request_object(site.params("/p/x.psp", headers={"Cookie": cookie.split(";")[0]}),
                                       options=MEMORY_SESSIONS)
    psp.PSP(second, string=SESSION_PAGE).run(flush=1)
    assert sink.data.endswith(b"\r\n\r\n2") and getattr(second, "session", None) is None


def test_redirect_from_a_page(site: Site) -> None:
    site.write("p/go.psp", "<% psp.redirect('/elsewhere') %>not reached")
    result = site.get("/p/go.psp", handler=PSP)
    assert (result.status, result.header("Location")) == (302, "/elsewhere")
    assert b"not reached" not in result.body


def test_error_page_gets_the_exception(site: Site) -> None:
    site.write("p/fails.psp", "<% psp.set_error_page('oops.psp') %>before <% raise KeyError('lost') %>")
    site.write("p/oops.psp", "caught <%= exception[0].__name__ %>: <%= exception[1] %>")
    result = site.get("/p/fails.psp", handler=PSP)
    assert (result.status, result.text) == (200, "before caught KeyError: 'lost'")


def test_server_return_bypasses_the_error_page(site: Site) -> None:
    site.write("p/deny.psp", "<% psp.set_error_page('oops.psp') %><% raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN) %>")
    site.write("p/oops.psp", "error page ran")
    result = site.get("/p/deny.psp", handler=PSP)
    assert result.status == 403 and b"error page ran" not in result.body


def test_exception_propagates_unchanged(site: Site) -> None:
    req, _ = site.request_object(site.params("/p/x.psp"))
    with pytest.raises(LookupError) as caught:
        psp.PSP(req, string="<% raise LookupError('as raised', 2) %>").run()
    assert caught.value.args == ("as raised", 2)


def test_page_and_include_changes_are_picked_up(site: Site) -> None:
    old = time.time() - 100
    site.write("p/main.psp", 'main1 <%@ include file="part.psp" %>', mtime=old)
    site.write("p/part.psp", "part1", mtime=old)
    assert site.get("/p/main.psp", handler=PSP).text == "main1 part1"
    site.write("p/part.psp", "part2", mtime=old + 5)
    assert site.get("/p/main.psp", handler=PSP).text == "main1 part2"
    site.write("p/main.psp", 'main2 <%@ include file="part.psp" %>', mtime=old + 10)
    assert site.get("/p/main.psp", handler=PSP).text == "main2 part2"


def test_missing_page_is_404(site: Site) -> None:
    (site.root / "p").mkdir()
    assert site.get("/p/none.psp", handler=PSP).status == 404


def test_page_outside_the_allowed_directories_is_refused(site: Site) -> None:
    (site.outside / "evil.psp").write_text("<% import os %>ran")
    (site.root / "p").mkdir()
    os.symlink(site.outside / "evil.psp", site.root / "p" / "evil.psp")
    result = site.get("/p/evil.psp", handler=PSP)
    assert result.status == 403 and b"ran" not in result.body and result.logged("configured paths")


def test_include_outside_the_allowed_directories_is_refused(site: Site) -> None:
    (site.outside / "secret.txt").write_text("top secret")
    site.write("p/inc.psp", f'<%@ include file="{site.outside / "secret.txt"}" %>')
    result = site.get("/p/inc.psp", handler=PSP)
    assert result.status == 403 and b"top secret" not in result.body


def test_debug_view_shows_source_and_code(site: Site) -> None:
    site.write("p/show.psp", "<b><%= 1 < 2 %></b>")
    result = site.get("/p/show.psp_", handler=PSP, debug=True)
    assert result.status == 200 and b"PSP-produced Python Code" in result.body
    assert b"&lt;b&gt;&lt;%=&nbsp;1&nbsp;&lt;&nbsp;2&nbsp;%&gt;&lt;/b&gt;" in result.body
    assert b"req.write(str(&nbsp;1&nbsp;&lt;&nbsp;2&nbsp;),0)" in result.body
    assert site.get("/p/show.psp_", handler=PSP).status == 404


def test_proxypass_form_without_a_file_is_a_logged_500(site: Site) -> None:
    result = site.run(site.proxypass_params("/p/page.psp", handler=PSP))
    assert result.status == 500 and result.logged("SetHandler")


def test_psp_object_from_string_with_vars(site: Site) -> None:
    req, sink = site.request_object(site.params("/p/x.psp"))
    page = psp.PSP(req, string="<%= greeting %>, <%= name %>!", vars={"greeting": "Hello", "name": "nobody"})
    page.run({"name": "world"}, flush=1)
    assert sink.data.endswith(b"\r\n\r\nHello, world!")


def test_psp_object_as_a_published_result(site: Site) -> None:
    site.write("pub/index.py", "from mod_python import psp\n"
                               "def index(req):\n    return psp.PSP(req, 'tmpl.html', vars={'who': 'publisher'})\n")
    site.write("pub/tmpl.html", "<p><%= who %></p>")
    result = site.get("/pub/")
    assert (result.header("Content-Type"), result.text) == ("text/html", "<p>publisher</p>")


def test_filename_and_string_together_are_refused(site: Site) -> None:
    req, _ = site.request_object(site.params("/p/x.psp"))
    with pytest.raises(ValueError):
        psp.PSP(req, filename="a.psp", string="b")


def test_parse_and_parsestring(site: Site) -> None:
    site.write("p/inc/part.psp", "<%= 2 %>")
    site.write("p/inc/page.psp", '1<%@ include file="part.psp" %>')
    expected = 'req.write("""1""",0); req.write(str( 2 ),0); req.write("""""",0)\n'
    assert psp.parse("page.psp", str(site.root / "p" / "inc")) == expected
    assert psp.parse(str(site.root / "p" / "inc" / "part.psp")) == expected.replace('"""1"""', '""""""')
    assert psp.parsestring(b"x") == psp.parsestring("x") == 'req.write("""x""",0)\n'


def test_missing_file_through_psp_object_is_server_return(site: Site) -> None:
    req, _ = site.request_object(site.params("/p/x.psp"))
    with pytest.raises(SERVER_RETURN) as caught:
        psp.PSP(req, filename=str(site.root / "absent.psp"))
    assert caught.value.args == (404,)
