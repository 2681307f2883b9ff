"""`mod_python.python22`: mod_python's compatibility module for Python 2.2, which code still imports with `*`.

mod_python 3.5's copy defines nothing on any Python newer than 2.2 (it only back-filled `enumerate`); this one is the
same empty namespace, so `from mod_python.python22 import *` works and changes nothing.
"""
__all__: list[str] = []
