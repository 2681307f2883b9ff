"""Fixtures for the request layer tests: param sets, a list sink and a request factory (fakes only below the layer)."""

from __future__ import annotations

import io
from typing import Iterator, Optional

import pytest
from request.request_fixtures import REQUEST_TIME, ListSink, RequestFactory, proxypass_params, sethandler_params

from fcgi_handlers.request import Request, Response


@pytest.fixture
def proxypass() -> dict[str, str]:
    return proxypass_params()


@pytest.fixture
def sethandler() -> dict[str, str]:
    return sethandler_params()


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


@pytest.fixture
def make_request(sink: ListSink) -> Iterator[RequestFactory]:
    """Build a Request from params (default: the ProxyPass set) and a body, writing to the `sink` fixture."""

    def build(params: Optional[dict[str, str]] = None, body: bytes = b"", **options: object) -> Request:
        params = proxypass_params() if params is None else params
        response = Response(sink, params.get("REQUEST_METHOD") == "HEAD", request_time=REQUEST_TIME)
        # `options` are the tests' keywords for Request (config, options, phase...), each of its own type
        return Request(params, io.BytesIO(body), response, request_time=REQUEST_TIME, **options)  # type: ignore[arg-type]

    yield build
