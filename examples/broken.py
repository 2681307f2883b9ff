"""Raises, to show the PythonDebug traceback page (On) and Apache's stock 500 page (Off)."""


def handler(req):
    raise ValueError("this handler is broken on purpose <b>&</b>")
