"""Shows what the request object carries: a quick way to see the params Apache sent, as mod_python names them."""
from mod_python import apache


def handler(req):
    req.content_type = "text/plain; charset=utf-8"
    lines = [
        f"method: {req.method}",
        f"uri: {req.uri}",
        f"unparsed_uri: {req.unparsed_uri}",
        f"args: {req.args}",
        f"filename: {req.filename}",
        f"path_info: {req.path_info}",
        f"protocol: {req.protocol}",
        f"hostname: {req.hostname}",
        f"client: {req.connection.client_ip}",
        f"options: {dict(req.get_options())}",
        "",
        "headers_in:",
    ]
    lines += [f"  {k}: {v}" for k, v in req.headers_in.items()]
    body = req.read()
    lines += ["", f"body: {len(body)} bytes"]
    req.write("\n".join(lines) + "\n")
    return apache.OK
