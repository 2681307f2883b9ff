"""The server layer's exception for a connection that went away under a request.

It lives in a module of its own because setup.py compiles transport.py, and a compiled module cannot define a
subclass of a built-in exception as a native class.
"""
from __future__ import annotations


class ClientGone(OSError):
    """The web server closed the connection (or it broke) while a request was using it."""
