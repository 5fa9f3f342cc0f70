"""The Prefect UI of `bid server`, used as a bid manager would, in headless Chromium.

`bid server` runs on a free, non-default port. In the browser: the bid's run is found on
the Runs page by its `opp:` tag, the *Deployments* page lists the forms, and *advance-bid*
is started from its form; the bid then moves (checked through `bid status`).
"""

from __future__ import annotations

import base64
import json
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.bid.progress import services
from orchestrator.runtime import service
from orchestrator.wiring import open_context
from tests.support.prefect_server import BidProject, free_port, wait_for

pytestmark = [pytest.mark.prefect_server, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FIXTURES = Path(__file__).resolve().parent / "scenarios" / "service"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _state(project: BidProject, ref: str) -> str:
    done = project.bid("status", ref, "--json", BID_THIN="0")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["state"])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BidProject]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed (apt-get install chromium); .ci/run installs it")
    project = BidProject(tmp_path_factory.mktemp("bid-browser"), free_port())
    process = project.start("server", "--port", str(project.ui_port))
    wait_for(lambda: service.status(project.settings()) is not None, 180, "bid server to answer")
    yield project
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)


def test_a_bid_manager_finds_the_run_and_advances_the_bid_from_the_ui(
    project: BidProject,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    made = project.bid(
        "opportunity",
        "create",
        str(FIXTURES / "opportunity.yaml"),
        BID_THIN="0",
        BID_FLOW_RUNNER="inline",
    )
    assert made.returncode == 0, made.stderr
    ref = made.stdout.strip()
    assert (
        project.bid(
            "sites",
            "import",
            ref,
            str(FIXTURES / "sites.csv"),
            BID_THIN="0",
            BID_FLOW_RUNNER="inline",
        ).returncode
        == 0
    )
    first = project.bid("advance", ref, BID_THIN="0")  # one step as a flow run on the service
    assert first.returncode == 0, first.stderr
    assert _state(project, ref) == "qualification"
    ctx = open_context(project.settings())
    try:  # decided in-process: the service does not carry the bid on by itself
        services.decide(ctx, ref, outcome="bid", by="bm@example.com", reason="fits")
    finally:
        ctx.engine.dispose()
    assert _state(project, ref) == "kick_off"

    url = f"http://127.0.0.1:{project.ui_port}"
    auth = project.prefect_auth()
    assert auth is not None  # the folder's Prefect is behind its password
    password = base64.b64encode(":".join(auth).encode()).decode()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # signed in as a person who typed the password on the UI's login page
        page.add_init_script(f"localStorage.setItem('prefect-password', '{password}')")
        try:
            # Runs: the bid's runs by its tag
            page.goto(f"{url}/runs", wait_until="networkidle")
            page.get_by_text("All tags").first.click()
            page.keyboard.type(f"opp:{ref}")
            page.keyboard.press("Enter")
            page.keyboard.press("Escape")
            run = page.get_by_text(f"{ref} · qualification").first
            expect(run).to_be_visible(timeout=30_000)
            run.click()
            expect(page.get_by_text(f"opp:{ref}").first).to_be_visible(timeout=30_000)

            # Deployments: the forms, and advance-bid started from its form
            page.goto(f"{url}/deployments", wait_until="networkidle")
            row = page.locator("tr", has_text="advance-bid")
            expect(row).to_have_count(1, timeout=30_000)
            row.get_by_role("link").first.click()
            page.wait_for_url("**/deployments/deployment/**")
            page.goto(page.url.split("?")[0] + "/run", wait_until="networkidle")
            expect(page.get_by_text("Opportunity").first).to_be_visible(timeout=30_000)
            page.locator("textarea").first.fill(ref)
            page.get_by_role("button", name="Submit").click()
            # the form closes onto the deployment's runs once the run is created
            page.wait_for_url(lambda address: not address.endswith("/run"), timeout=30_000)
        finally:
            page.screenshot(path=str(project.root / "last-page.png"))
            browser.close()

    # kick-off plans the bid, then bid production waits for its QRFs, quotes and freeze
    wait_for(lambda: _state(project, ref) == "bid_production", 180, "the bid to move on")


EVIL_PAGE = """<!doctype html><html><body><script>
window.attempts = (async () => {
  const api = "%(api)s";
  const out = [];
  for (const [path, body] of [["/flows/filter", "{}"],
                              ["/deployments/%(deployment)s/create_flow_run",
                               JSON.stringify({parameters: {request: {opportunity: "1"}}})]]) {
    try {
      const reply = await fetch(api + path, {method: "POST", body,
                                             headers: {"Content-Type": "application/json"}});
      out.push(reply.status);
    } catch (e) { out.push("blocked"); }
    try {  // a "simple" request: no preflight, so it reaches the server, without credentials
      const reply = await fetch(api + path, {method: "POST", body, mode: "no-cors",
                                             headers: {"Content-Type": "text/plain"}});
      out.push(reply.type);
    } catch (e) { out.push("blocked"); }
  }
  return out;
})();
</script></body></html>"""


def test_a_page_of_another_origin_cannot_start_a_run(project: BidProject) -> None:
    """Issue 23: a page from another origin created an `advance-bid` run (201)."""
    import http.server
    import threading

    from playwright.sync_api import sync_playwright

    from tests.support.prefect_server import api

    base = f"http://127.0.0.1:{project.ui_port}/api"
    flows = api("POST", f"{base}/flows/filter", json={}).json()
    advance = next(f for f in flows if f["name"] == "advance-bid")
    deployments = api(
        "POST", f"{base}/deployments/filter", json={"flows": {"id": {"any_": [advance["id"]]}}}
    ).json()
    target = deployments[0]["id"]

    def advance_runs() -> int:
        """Runs of the advance-bid deployment (the schedules of the others add runs freely)."""
        body = {"deployments": {"id": {"any_": [target]}}, "limit": 200}
        reply = api("POST", f"{base}/flow_runs/filter", json=body)
        reply.raise_for_status()
        return len(reply.json())

    before = advance_runs()
    page_html = EVIL_PAGE % {"api": base, "deployment": deployments[0]["id"]}

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = page_html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    evil = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
                attempts = page.evaluate("window.attempts")
            finally:
                browser.close()
    finally:
        evil.shutdown()
    # the JSON calls are stopped by the browser (no CORS grant for that origin); the simple
    # ones reach the server without the password and are refused there (opaque to the page)
    assert attempts == ["blocked", "opaque", "blocked", "opaque"], attempts
    assert advance_runs() == before
