"""A publisher page served by real mod_python and by the daemon (tests/e2e/test_helpers_publisher_psp.py)."""


def index(req):
    return "<html><body>publisher index</body></html>\n"


def hello(req, name="world"):
    return "hello %s" % name


def _private(req):
    return "never published"


def members(req):
    __auth_realm__ = "Members"
    __auth__ = {"alice": "wonderland"}
    return "welcome %s" % req.headers_in.get("Authorization", "")[:5]
