"""The embed page in a real browser (Debian's chromium through Playwright): a partner page on an
allowed origin shows it in an iframe; a page on another origin gets it refused by the browser
(CSP frame-ancestors), as does a page framing any other page of the service."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from werkzeug.serving import make_server

from tests.helpers import free_port

pytestmark = pytest.mark.browser


def partner_site(pages: dict[str, str], port: int | None = None) -> ThreadingHTTPServer:
    """A partner's web site (its own origin): for each path a page with the given URL of the
    service in an iframe."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            src = pages.get(self.path)
            if src is None:
                self.send_error(404)
                return
            body = (
                "<!doctype html><html><head><title>Partner</title></head><body><h1>Partner</h1>"
                f'<iframe id="f" src="{src}" width="380" height="600"></iframe></body></html>'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def frame_text(page) -> str:
    child = next(f for f in page.frames if f != page.main_frame)
    try:
        return child.evaluate("document.body ? document.body.innerText : ''")
    except Exception:  # the browser's error page for a refused frame is not scriptable
        return ""


def test_embed_framed_from_allowed_origin_only(browser, make_app, make_round):  # noqa: F811
    rnd = make_round(title="Staffel 2027")
    allowed_port = free_port()
    app = make_app(EMBED_ORIGINS=[f"http://127.0.0.1:{allowed_port}"])
    service = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{service.server_port}"
    embed = f"{base}/embed/forums/{rnd.forum.slug}"

    pages = {"/embed": embed, "/apply": f"{base}/rounds/{rnd.slug}/apply"}
    allowed = partner_site(pages, port=allowed_port)  # the origin in EMBED_ORIGINS
    other = partner_site(pages)  # another origin (another port)
    try:
        context = browser.new_context(locale="de-DE", viewport={"width": 390, "height": 844})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{allowed_port}/embed")  # waits for the iframe's load too
        text = frame_text(page)
        assert "Staffel 2027" in text and "Jetzt bewerben" in text

        page.goto(f"http://127.0.0.1:{other.server_port}/embed")
        assert "Staffel 2027" not in frame_text(page)

        # Every other page of the service stays unframeable, also for the allowed origin.
        page.goto(f"http://127.0.0.1:{allowed_port}/apply")
        assert "Bewerbung" not in frame_text(page)
        context.close()
    finally:
        for server in (allowed, other, service):
            server.shutdown()
