"""What the browser tests share: naming each step, launching Debian's Chromium, and
running a test so that a failed check says so on standard error."""

import os
import sys


def step(text):
    print(f"--- {text}", flush=True)


def launch(playwright):
    """Debian's Chromium (CHROMIUM, else /usr/bin/chromium), headless; no sandbox, as
    the tests may run as root."""
    return playwright.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                      args=["--no-sandbox"])


# What the network dropped or the server failed, for the failure report.
NETWORK_FAILURES = []


def watch_network(page):
    page.on("requestfailed", lambda request: NETWORK_FAILURES.append(
        f"{request.method} {request.url}: {request.failure}"))
    page.on("response", lambda response: response.status >= 500 and NETWORK_FAILURES.append(
        f"{response.request.method} {response.url}: {response.status}"))


def run(main):
    try:
        main()
    except AssertionError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        for failure in NETWORK_FAILURES:
            print(f"network: {failure}", file=sys.stderr)
        raise
