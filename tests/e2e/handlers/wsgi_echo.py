"""A WSGI application served through mod_python.wsgi by real mod_python and by the daemon."""


def application(environ, start_response):
    body = "SCRIPT_NAME=%r PATH_INFO=%r QUERY_STRING=%r" % (
        environ["SCRIPT_NAME"], environ["PATH_INFO"], environ.get("QUERY_STRING"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode("latin-1")]
