"""Serve the web chat page locally: `python -m channels.webchat [--port 8080]`.

A plain static file server (standard library) on loopback by default. In
production the files go to any web server or CDN of the company's own; Rasa
only needs to be reachable from the browser (WebSocket to /socket.io/).
"""

from __future__ import annotations

import argparse
import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from channels.webchat import STATIC_DIR
from nps.settings import SettingError, load_settings


class Handler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript; charset=utf-8",
        ".html": "text/html; charset=utf-8",
    }

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        # Scripts only from this folder; connections to any Rasa server
        # (the demo lets ?server= choose one).
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' https: data:; connect-src 'self' http: https: ws: wss:",
        )
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    # Only the page's own files: not the Python next to them, no listings.
    SERVED = (".html", ".js", ".css", ".svg", ".png", ".ico", ".md", ".LICENSE")

    def send_head(self):  # type: ignore[override]
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path == "/":
            self.send_response(302)
            self.send_header("Location", "/index.html")
            self.end_headers()
            return None
        if not path.endswith(self.SERVED) or "__" in path:
            self.send_error(404)
            return None
        return super().send_head()


def make_server(host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    handler = functools.partial(Handler, directory=str(STATIC_DIR))
    return ThreadingHTTPServer((host, port), handler)


def main() -> None:
    try:
        settings = load_settings()
    except SettingError as error:
        raise SystemExit(f"The web chat page cannot start: {error}") from None
    parser = argparse.ArgumentParser(prog="python -m channels.webchat")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.webchat_port)
    args = parser.parse_args()
    server = make_server(args.host, args.port)
    print(
        f"web chat on http://{args.host}:{server.server_address[1]}/index.html "
        f"(?server={settings.bot_url}&touchpoint=store)"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
