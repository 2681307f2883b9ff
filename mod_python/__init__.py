"""mod_python's import names, served by fcgi_handlers.

Handler code keeps `from mod_python import apache` (and later `util`, `Cookie`, `Session`, `publisher`, `psp`,
`wsgi`); these modules give mod_python 3.5's API on top of the daemon's request and dispatch layers.
"""
version = "3.5.0 (fcgi_handlers)"
