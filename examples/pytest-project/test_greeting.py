"""Tests of handlers/greeting.py: in process (`mp_client`) and through a real Apache (`httpd`).

    pytest                         # against the daemon
    pytest --fh-against=mod_python # the same tests against real mod_python in Apache
"""


def test_greets_by_name_in_process(mp_client):
    response = mp_client.get("/greet/?name=Ada")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.text == "Hello, Ada! (visit 1)\n"
    assert mp_client.get("/greet/").text == "Hello, world! (visit 2)\n"   # the cookie came back


def test_bad_name_is_refused_and_logged(mp_client):
    response = mp_client.get("/greet/?name=error")
    assert response.status == 400
    assert any("refusing the name 'error'" in line for line in response.log)


def test_greets_through_real_apache(httpd):
    response = httpd.get("/greet/?name=Grace")
    assert response.status == 200
    assert response.text == "Hello, Grace! (visit 1)\n"
    assert response.cookies == {"visits": "1"}
