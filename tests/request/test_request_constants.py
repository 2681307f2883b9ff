"""mod_python.apache's constants: names, values, the export list, Apache's status lines and SERVER_RETURN."""

from __future__ import annotations

import syslog

import pytest

from fcgi_handlers.request import SERVER_RETURN, constants
from fcgi_handlers.request.constants import REASON_PHRASES, effective_status, status_line

# The HTTP_* codes mod_python 3.5 defines (mod_python's apache.py).
MOD_PYTHON_CODES = ({100, 101, 102} | set(range(200, 208)) | set(range(300, 306)) | {307} | set(range(400, 419))
                    | {422, 423, 424, 426} | set(range(500, 508)) | {510})


def _names(prefix: str) -> dict[str, int]:
    return {name: getattr(constants, name) for name in constants.__all__ if name.startswith(prefix)}


def test_return_codes() -> None:
    assert (constants.OK, constants.REQ_PROCEED, constants.DECLINED, constants.REQ_NOACTION, constants.DONE) == (
        0, 0, -1, -1, -2)
    assert (constants.REQ_ABORTED, constants.REQ_EXIT) == (500, "REQ_EXIT")


def test_http_codes_are_mod_pythons_set() -> None:
    codes = _names("HTTP_")
    assert set(codes.values()) == MOD_PYTHON_CODES
    assert len(codes) == len(MOD_PYTHON_CODES)  # one name per code
    assert (constants.HTTP_MOVED_TEMPORARILY, constants.HTTP_IM_A_TEAPOT, constants.HTTP_NON_AUTHORITATIVE,
            constants.HTTP_REQUEST_TIME_OUT, constants.HTTP_GATEWAY_TIME_OUT) == (302, 418, 203, 408, 504)


def test_log_levels_are_syslogs() -> None:
    assert [constants.APLOG_EMERG, constants.APLOG_ALERT, constants.APLOG_CRIT, constants.APLOG_ERR,
            constants.APLOG_WARNING, constants.APLOG_NOTICE, constants.APLOG_INFO, constants.APLOG_DEBUG] == [
        syslog.LOG_EMERG, syslog.LOG_ALERT, syslog.LOG_CRIT, syslog.LOG_ERR, syslog.LOG_WARNING,
        syslog.LOG_NOTICE, syslog.LOG_INFO, syslog.LOG_DEBUG]
    assert constants.APLOG_NOERRNO == 0


@pytest.mark.parametrize("prefix, size", [("M_", 27), ("FINFO_", 13), ("URI_", 9), ("PROXYREQ_", 4),
                                          ("REMOTE_", 4), ("AP_CONN_", 3)])
def test_index_families_are_contiguous(prefix: str, size: int) -> None:
    assert sorted(_names(prefix).values()) == list(range(size))


def test_apache_enums() -> None:
    # Values mod_python 3.5 reported from _apache on Apache 2.4.71 (observed).
    assert (constants.APR_NOFILE, constants.APR_REG, constants.APR_DIR, constants.APR_SOCK, constants.APR_UNKFILE) == (
        0, 1, 2, 7, 127)
    assert (constants.AP_CONN_UNKNOWN, constants.AP_CONN_CLOSE, constants.AP_CONN_KEEPALIVE) == (0, 1, 2)
    assert constants.MODULE_MAGIC_NUMBER_MAJOR == 20120211


def test_method_numbers_cover_every_m_constant() -> None:
    assert set(constants.METHOD_NUMBERS.values()) == set(_names("M_").values()) - {constants.M_INVALID}
    assert constants.METHOD_NUMBERS["HEAD"] == constants.M_GET


def test_export_list_is_every_public_constant() -> None:
    public = {name for name in vars(constants) if name.isupper()} - {"REASON_PHRASES", "METHOD_NUMBERS"}
    assert set(constants.__all__) == public
    assert len(constants.__all__) == len(set(constants.__all__))


def test_status_lines_are_apaches() -> None:
    assert status_line(302) == "302 Found"
    assert status_line(203) == "203 Non-Authoritative Information"
    assert status_line(413) == "413 Request Entity Too Large"
    for code in (418, 299, 99, 600):
        assert status_line(code) == "500 Internal Server Error"
        assert effective_status(code) == 500
    assert all(code in REASON_PHRASES for code in MOD_PYTHON_CODES - {418})


def test_server_return_args() -> None:
    with pytest.raises(SERVER_RETURN) as caught:
        raise SERVER_RETURN(constants.DONE, constants.HTTP_CREATED)
    assert caught.value.args == (-2, 201)
    assert str(SERVER_RETURN(404)) == "404"
    assert isinstance(SERVER_RETURN(404), Exception)
