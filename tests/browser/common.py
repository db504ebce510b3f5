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


def run(main):
    try:
        main()
    except AssertionError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        raise
