"""Realistic mod_python installations as whole configuration trees, for `fcgi-handlers convert`'s tests.

Each tree is a mapping of relative path -> text with `@ROOT@` (the installation's root directory, holding etc/,
www/, handlers/, run/ and log/), `@PORT@`, `@MODULES@` (Apache's module directory) and `@USER@` (the User/Group
lines Apache needs when started as root) filled in by `write`. A relative path starting with `->` makes a symbolic
link (Debian's *-enabled directories). `requests` are what both the original tree (under real mod_python) and the
converted tree (Apache in front of the daemon) are asked, each with the status mod_python answers (so a tree that
fails alike on both sides cannot pass).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from fcgi_handlers.apache.paths import MODULES_DIR
from fcgi_handlers.apache.runner import apache_user, write_tree

Request = tuple[str, tuple[tuple[str, str], ...], int]   # (target, headers, the status mod_python answers)

PREFORK = """StartServers 1
MinSpareServers 1
MaxSpareServers 2
MaxRequestWorkers 5"""

# The head of every non-Debian tree: its own root, logs and pid file, prefork (as mod_python installations use),
# and only the modules such an installation loads (no mod_auth_basic: a PythonAuthenHandler under AuthType Basic
# runs only without it).
HEAD = """ServerRoot "@ROOT@/etc/httpd"
Listen 127.0.0.1:@PORT@
PidFile "@ROOT@/run/httpd.pid"
DefaultRuntimeDir "@ROOT@/run"
ErrorLog "@ROOT@/log/error.log"
LogLevel info
LoadModule mpm_prefork_module @MODULES@/mod_mpm_prefork.so
LoadModule authn_core_module @MODULES@/mod_authn_core.so
LoadModule authz_core_module @MODULES@/mod_authz_core.so
LoadModule authz_user_module @MODULES@/mod_authz_user.so
LoadModule mime_module @MODULES@/mod_mime.so
LoadModule dir_module @MODULES@/mod_dir.so
LoadModule python_module @MODULES@/mod_python.so
""" + PREFORK + """
@USER@
ServerName localhost
TypesConfig /etc/mime.types
DocumentRoot "@ROOT@/www"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "@ROOT@/www">
    Require all granted
</Directory>
"""

HELLO = '''from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    options = req.get_options()
    req.write("hello uri=%s args=%s greeting=%s method=%s server=%s\\n" % (
        req.uri, req.args, options.get("greeting"), req.method, req.server.server_hostname))
    return apache.OK


def where(req):
    req.content_type = "text/plain"
    req.write("directory=%s greeting=%s server=%s\\n" % (req.hlist.directory, req.get_options().get("greeting"),
                                                          req.server.server_hostname))
    return apache.OK


def other(req):
    req.content_type = "text/plain"
    req.write("other greeting=%s\\n" % req.get_options().get("greeting"))
    return apache.OK
'''

PUBLISHED = '''def index(req):
    return "published index"


def hello(req, name="world"):
    return "hello %s from the publisher" % name
'''


@dataclass(frozen=True)
class Tree:
    """One installation: its files, its main file, the requests to compare, how to convert it."""

    name: str
    files: Mapping[str, str]
    main: str = "etc/httpd/httpd.conf"
    requests: tuple[Request, ...] = ()
    # Requests whose converted answer differs on purpose, each with a part of that answer; report.md says why.
    differs: Mapping[str, str] = field(default_factory=dict)


def _basic(user: str, password: str) -> tuple[tuple[str, str], ...]:
    import base64
    return (("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()),)


DEBIAN = Tree("debian", {
    "etc/apache2/apache2.conf": """# Debian's layout: the main file includes the enabled modules, ports, conf and sites.
ServerRoot "@ROOT@/etc/apache2"
DefaultRuntimeDir ${APACHE_RUN_DIR}
PidFile ${APACHE_PID_FILE}
Timeout 300
@USER@
ErrorLog ${APACHE_LOG_DIR}/error.log
LogLevel info
IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf
Include ports.conf
<Directory />
\tOptions FollowSymLinks
\tAllowOverride None
\tRequire all denied
</Directory>
<Directory "@ROOT@/www/">
\tOptions Indexes FollowSymLinks
\tAllowOverride None
\tRequire all granted
</Directory>
AccessFileName .htaccess
<FilesMatch "^\\.ht">
\tRequire all denied
</FilesMatch>
IncludeOptional conf-enabled/*.conf
IncludeOptional sites-enabled/*.conf
""",
    "etc/apache2/envvars": """# envvars - default environment variables for apache2ctl
export APACHE_RUN_USER=www-data
export APACHE_RUN_GROUP=www-data
export APACHE_RUN_DIR=@ROOT@/run
export APACHE_PID_FILE=$APACHE_RUN_DIR/apache2.pid
export APACHE_LOCK_DIR=@ROOT@/run
export APACHE_LOG_DIR=@ROOT@/log
""",
    "etc/apache2/ports.conf": "Listen 127.0.0.1:@PORT@\n",
    "etc/apache2/mods-available/mpm_prefork.load": "LoadModule mpm_prefork_module @MODULES@/mod_mpm_prefork.so\n",
    "etc/apache2/mods-available/mpm_prefork.conf": "<IfModule mpm_prefork_module>\n" + PREFORK + "\n</IfModule>\n",
    "etc/apache2/mods-available/authz_core.load": "LoadModule authz_core_module @MODULES@/mod_authz_core.so\n",
    "etc/apache2/mods-available/mime.load": "LoadModule mime_module @MODULES@/mod_mime.so\n",
    "etc/apache2/mods-available/alias.load": "LoadModule alias_module @MODULES@/mod_alias.so\n",
    "etc/apache2/mods-enabled/alias.load": "->../mods-available/alias.load",
    "etc/apache2/mods-available/mime.conf": "<IfModule mod_mime.c>\n\tTypesConfig /etc/mime.types\n</IfModule>\n",
    "etc/apache2/mods-available/python.load": "LoadModule python_module @MODULES@/mod_python.so\n",
    "etc/apache2/mods-available/wsgi.load": "LoadModule wsgi_module @MODULES@/mod_wsgi.so\n",
    "etc/apache2/mods-enabled/mpm_prefork.load": "->../mods-available/mpm_prefork.load",
    "etc/apache2/mods-enabled/mpm_prefork.conf": "->../mods-available/mpm_prefork.conf",
    "etc/apache2/mods-enabled/authz_core.load": "->../mods-available/authz_core.load",
    "etc/apache2/mods-enabled/mime.load": "->../mods-available/mime.load",
    "etc/apache2/mods-enabled/mime.conf": "->../mods-available/mime.conf",
    "etc/apache2/mods-enabled/python.load": "->../mods-available/python.load",
    "etc/apache2/conf-available/python-app.conf": """<IfModule mod_python.c>
    PythonPath "['@ROOT@/handlers'] + sys.path"
    Alias /py/ "@ROOT@/pages/"
    <Directory "@ROOT@/pages">
        Require all granted
        AddHandler mod_python .py
        PythonHandler mod_python.publisher | .py
    </Directory>
</IfModule>
<IfModule !mod_python.c>
    Alias /py/ "@ROOT@/www/"
</IfModule>
""",
    "etc/apache2/conf-enabled/python-app.conf": "->../conf-available/python-app.conf",
    "etc/apache2/sites-available/000-default.conf": """<VirtualHost *:@PORT@>
\tServerName www.example.test
\tDocumentRoot @ROOT@/www
\t<Location /app/>
\t\tSetHandler mod_python
\t\tPythonHandler hello
\t\tPythonOption greeting \\
\t\t    debian
\t</Location>
</VirtualHost>
""",
    "etc/apache2/sites-enabled/000-default.conf": "->../sites-available/000-default.conf",
    "www/index.html": "<html><body>It works</body></html>\n",
    "pages/page.py": PUBLISHED,
    "handlers/hello.py": HELLO,
}, main="etc/apache2/apache2.conf", requests=(
    ("/app/x?a=1", (), 200), ("/app/", (), 200), ("/py/page.py", (), 200), ("/py/page.py/hello?name=bob", (), 200),
    ("/index.html", (), 200),
))

VHOST = Tree("vhost", {
    "etc/httpd/httpd.conf": HEAD + """PythonPath "['@ROOT@/handlers'] + sys.path"
<VirtualHost 127.0.0.1:@PORT@>
    ServerName apps.example.test
    <Location /a/>
        SetHandler mod_python
        PythonHandler hello
        PythonOption greeting a
    </Location>
    <Location /b/>
        SetHandler mod_python
        PythonHandler hello::other
        PythonOption greeting b
        PythonDebug Off
    </Location>
    <Location /b/deeper/>
        PythonOption greeting deeper
    </Location>
    <Location /b/static/>
        SetHandler None
    </Location>
    <Directory "@ROOT@/www/mixed">
        SetHandler mod_python
        PythonHandler hello
        PythonHandler mod_python.publisher | .py
    </Directory>
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName other.example.test
    PythonOption greeting other-host
    Include "@ROOT@/etc/httpd/other-locations.conf"
</VirtualHost>
""",
    "etc/httpd/other-locations.conf": """<Location /a/>
    SetHandler mod_python
    PythonHandler hello
</Location>
""",
    "www/index.html": "<html><body>It works</body></html>\n",
    "www/mixed/page.py": PUBLISHED,
    "www/mixed/notes.txt": "plain text\n",
    "www/b/static/file.txt": "static under a mod_python location\n",
    "handlers/hello.py": HELLO,
}, requests=(
    ("/a/one", (), 200), ("/b/two?x=y", (), 200), ("/b/deeper/three", (), 200),
    ("/mixed/page.py/hello?name=ann", (), 200),
    ("/mixed/notes.txt", (), 200), ("/mixed/page.py", (), 200), ("/b/static/file.txt", (), 404),
    ("/a/one?x=1", (("Host", "other.example.test"),), 200),
), differs={"/b/static/file.txt": "static under a mod_python location"})

HTACCESS = Tree("htaccess", {
    "etc/httpd/httpd.conf": HEAD + """PythonPath "['@ROOT@/handlers'] + sys.path"
<Directory "@ROOT@/www/app">
    AllowOverride All
</Directory>
<Directory "@ROOT@/www/locked">
    AllowOverride None
</Directory>
""",
    "www/index.html": "<html><body>It works</body></html>\n",
    "www/app/.htaccess": "SetHandler mod_python\nPythonHandler hello::where\nPythonOption greeting from-htaccess\n",
    "www/app/sub/.htaccess": "PythonOption greeting sub\n",
    "www/locked/.htaccess": "SetHandler mod_python\nPythonHandler hello\n",
    "www/locked/file.txt": "locked but static\n",
    "handlers/hello.py": HELLO,
}, requests=(
    ("/app/page", (), 200), ("/app/sub/page?q=1", (), 200), ("/locked/file.txt", (), 200), ("/index.html", (), 200),
))

AUTHCHECK = '''from mod_python import apache


def accesshandler(req):
    if "deny" in (req.args or ""):
        return apache.HTTP_FORBIDDEN
    return apache.OK


def authenhandler(req):
    password = req.get_basic_auth_pw()
    if req.user == req.get_options().get("allowed") and password == "secret":
        return apache.OK
    return apache.HTTP_UNAUTHORIZED
'''

PSP_PAGE = """<html><body>
<% answer = 6 * 7 %>
PSP says <%= answer %> at <%= req.uri %>.
</body></html>
"""

PUBLISHER_PSP_AUTH = Tree("publisher-psp-auth", {
    "etc/httpd/httpd.conf": HEAD + """PythonPath "['@ROOT@/handlers'] + sys.path"
PythonOption allowed alice
<Directory "@ROOT@/www/site">
    AddHandler mod_python .py .psp
    PythonHandler mod_python.publisher | .py
    PythonHandler mod_python.psp | .psp
    PythonDebug Off
</Directory>
LoadModule alias_module @MODULES@/mod_alias.so
LoadModule cgi_module @MODULES@/mod_cgi.so
LoadModule proxy_module @MODULES@/mod_proxy.so
LoadModule proxy_http_module @MODULES@/mod_proxy_http.so
<Location /proxied/>
    ProxyPass http://127.0.0.1:@PORT@/site/
    AuthType Basic
    AuthName "proxied"
    PythonAuthenHandler authcheck
    Require valid-user
</Location>
ScriptAlias /cgi-bin/ "@ROOT@/cgi-bin/"
<Directory "@ROOT@/cgi-bin">
    Require valid-user
    AuthType Basic
    AuthName "scripts"
    PythonAuthenHandler authcheck
</Directory>
<Directory "@ROOT@/www/private">
    AuthType Basic
    AuthName "private"
    PythonAccessHandler authcheck
    PythonAuthenHandler authcheck
    Require valid-user
</Directory>
""",
    "www/index.html": "<html><body>It works</body></html>\n",
    "www/site/pub.py": PUBLISHED,
    "www/site/page.psp": PSP_PAGE,
    "www/site/plain.txt": "static beside the pages\n",
    "www/private/secret.txt": "the static secret\n",
    "cgi-bin/whoami.cgi": "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
                          "printf 'cgi user=%s auth=%s\\n' \"$REMOTE_USER\" \"$AUTH_TYPE\"\n",
    "handlers/authcheck.py": AUTHCHECK,
}, requests=(
    ("/site/pub.py/hello?name=zoe", (), 200), ("/site/pub.py", (), 200), ("/site/page.psp?name=ada", (), 200),
    ("/site/plain.txt", (), 200), ("/private/secret.txt", (), 401),
    ("/private/secret.txt", _basic("alice", "secret"), 200),
    ("/private/secret.txt", _basic("alice", "wrong"), 401), ("/private/secret.txt?deny=1", (), 403),
    ("/private/secret.txt?deny=1", _basic("alice", "secret"), 403), ("/cgi-bin/whoami.cgi", (), 401),
    ("/cgi-bin/whoami.cgi", _basic("alice", "secret"), 200), ("/proxied/plain.txt", (), 401),
    ("/proxied/plain.txt", _basic("alice", "secret"), 200),
))

STARTUP = '''LOADED = "at start"
'''

SHOWOPTS = '''import sys

from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    options = req.get_options()
    startup = sys.modules.get("startup")
    req.write("site=%s page=%s startup=%s\\n" % (options.get("site"), options.get("page"),
                                                 getattr(startup, "LOADED", None)))
    return apache.OK
'''

SERVER_OPTIONS = Tree("server-options", {
    "etc/httpd/httpd.conf": HEAD + """PythonPath "['@ROOT@/handlers'] + sys.path"
PythonInterpreter main_interpreter
PythonImport startup main_interpreter
PythonOption site demo
PythonAutoReload Off
PythonDebug Off
<Location /opts/>
    SetHandler mod_python
    PythonHandler showopts
    PythonOption page one
</Location>
<Location /opts/two/>
    PythonOption page two
</Location>
""",
    "www/index.html": "<html><body>It works</body></html>\n",
    "handlers/startup.py": STARTUP,
    "handlers/showopts.py": SHOWOPTS,
}, requests=(("/opts/", (), 200), ("/opts/two/x", (), 200), ("/index.html", (), 200)))

LOCATION_MATCH = Tree("locationmatch", {
    "etc/httpd/httpd.conf": HEAD + """PythonPath "['@ROOT@/handlers'] + sys.path"
<LocationMatch "^/api/(v1|v2)/">
    SetHandler mod_python
    PythonHandler hello
    PythonOption greeting regex
</LocationMatch>
""",
    "www/index.html": "<html><body>It works</body></html>\n",
    "handlers/hello.py": HELLO,
}, requests=(("/api/v1/items", (), 200), ("/api/v2/items?page=2", (), 200), ("/api/v3/items", (), 404),
             ("/index.html", (), 200)))

OUTPUT_FILTER = Tree("output-filter", {
    "etc/httpd/httpd.conf": HEAD + """PythonPath "['@ROOT@/handlers'] + sys.path"
<Directory "@ROOT@/www">
    PythonOutputFilter upper UPPER
    AddOutputFilter UPPER .txt
</Directory>
""",
    "www/index.html": "<html><body>It works</body></html>\n",
    "handlers/upper.py": "def outputfilter(filter):\n    filter.pass_on()\n",
})

TREES = (DEBIAN, VHOST, HTACCESS, PUBLISHER_PSP_AUTH, SERVER_OPTIONS, LOCATION_MATCH)


def fill(text: str, root: Path, port: int) -> str:
    user, group = apache_user()
    user_lines = f"User {user}\nGroup {group}" if user else ""
    return (text.replace("@ROOT@", str(root)).replace("@PORT@", str(port)).replace("@MODULES@", MODULES_DIR)
            .replace("@USER@", user_lines))


def write(tree: Tree, root: Path, port: int) -> Path:
    """Write the tree under `root` (world-readable: Apache's children read pages and handlers) and return its main
    file. Directories that logs and the pid file need are created."""
    links = {rel: text[2:] for rel, text in tree.files.items() if text.startswith("->")}
    files = {rel: fill(text, root, port).encode() for rel, text in tree.files.items() if rel not in links}
    write_tree(root, files)
    for rel, target in links.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / rel)
    for script in root.rglob("*.cgi"):
        script.chmod(0o755)
    for directory in ("run", "log"):
        (root / directory).mkdir(exist_ok=True)
    return root / tree.main


def environment(root: Path, tree: Tree) -> dict[str, str]:
    """What apache2ctl would put in Apache's environment: Debian's envvars, when the tree has them."""
    from fcgi_handlers.apache.reader import debian_envvars
    envvars: Optional[Path] = (root / tree.main).parent / "envvars"
    return debian_envvars(envvars) if envvars is not None else {}
