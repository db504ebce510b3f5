"""The dashboard as a person uses it, in Debian's Chromium driven by Playwright, against
the real stack: every function under `cargo lambda watch`, PostgreSQL, the local S3
server (scripts/browser-test.sh starts them and runs this).

Signs in (the development tenant picker), downloads a template, uploads lots (through
the bucket) and sales, sees a file with bad rows rejected row by row with nothing
loaded, previews and starts a run and follows its progress while the worker carries
it (the test plays the state machine), opens it, downloads its journal and checks it balances, traces a sale, rolls the
run back through the confirmation (by keyboard), sees the inventory return, moves the
lock date, and sees another tenant's run answer "not found". Takes a screenshot of each
screen into SCREENSHOTS, and runs axe-core's accessibility rules over each.

Environment: COGS_WEB_URL (the dashboard), COGS_API_URL (where the functions are
served, for checks behind the page's back), COGS_S3 and COGS_BUCKET (the local bucket),
COGS_LAMBDA_PORT (for delivering the bucket's object-created events), SCREENSHOTS.
"""

import csv
import io
import json
import os
import re
import subprocess
import tempfile
import threading
import urllib.request
from decimal import Decimal
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

from common import launch, run, step, watch_network

ROOT = Path(__file__).resolve().parents[2]
WEB = os.environ["COGS_WEB_URL"].rstrip("/") + "/"
API = os.environ["COGS_API_URL"].rstrip("/")
S3 = os.environ["COGS_S3"].rstrip("/")
BUCKET = os.environ["COGS_BUCKET"]
PORT = os.environ["COGS_LAMBDA_PORT"]
SHOTS = Path(os.environ["SCREENSHOTS"])
# The database is fresh for each run of the script (scripts/browser-test.sh).
TENANT = os.environ.get("COGS_TENANT", "acme-corp")
OTHER_TENANT = "tenant-b"


def api(method, path, tenant=TENANT, body=None):
    function = "cogs-run" if path == "/api/v1/runs" and method == "POST" else "cogs-list"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{API}/{function}{path}", data=data, method=method,
                                 headers={"X-Tenant-Id": tenant, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as response:
        return json.load(response)


class BucketEvents(threading.Thread):
    """Plays S3's object-created notification: each new object in the bucket is handed
    to the upload-events function, as the bucket's notification does in AWS."""

    def __init__(self):
        super().__init__(daemon=True)
        self.seen = set(self.keys())
        self.stop = threading.Event()
        self.failures = []

    @staticmethod
    def keys():
        with urllib.request.urlopen(f"{S3}/{BUCKET}?list-type=2") as response:
            return set(re.findall(r"<Key>([^<]+)</Key>", response.read().decode()))

    def run(self):
        template = json.loads((ROOT / "tests/fixtures/events/s3-put.json").read_text())
        while not self.stop.wait(0.3):
            for key in sorted(self.keys() - self.seen):
                self.seen.add(key)
                event = json.loads(json.dumps(template))
                event["Records"][0]["s3"]["bucket"]["name"] = BUCKET
                event["Records"][0]["s3"]["object"]["key"] = key
                done = subprocess.run(["cargo", "lambda", "invoke", "cogs-upload-events", "--invoke-address",
                                       "127.0.0.1", "--invoke-port", PORT, "--data-ascii", json.dumps(event)],
                                      capture_output=True, text=True, cwd=ROOT)
                if done.returncode != 0:
                    self.failures.append(done.stderr)


def carry_on(run_id):
    """Plays the state machine: invokes the run worker until the run is done."""
    for _ in range(30):
        done = subprocess.run(["cargo", "lambda", "invoke", "cogs-worker", "--invoke-address", "127.0.0.1",
                               "--invoke-port", PORT, "--data-ascii",
                               json.dumps({"tenant_id": TENANT, "run_id": run_id})],
                              capture_output=True, text=True, cwd=ROOT, check=True)
        if '"done":true' in done.stdout:
            return
    raise AssertionError(f"the worker did not finish run {run_id}")


def start_run(page):
    """Starts a run on the Run screen, sees its live progress, carries it on as the
    state machine would, and sees it complete; returns its id."""
    page.get_by_role("button", name="Start the run").click()
    expect(page.get_by_role("progressbar", name="Run progress")).to_be_visible(timeout=60000)
    # The request costs one chunk before it answers; the rest waits for the worker.
    expect(page.locator("main")).to_contain_text(re.compile(r"Running: 2 of \d+ sales costed"))
    run_id = page.get_by_role("link", name="Open the run").get_attribute("href").rsplit("/", 1)[1]
    carry_on(run_id)
    expect(page.get_by_text("The run is complete")).to_be_visible(timeout=60000)
    return run_id


AXE = Axe()
FINDINGS = []


def shot(page, name):
    """A screenshot of the screen, and axe-core's accessibility rules run over it: a
    serious or critical finding fails the test at the end."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    accessible(page, name)


def accessible(page, name):
    """axe-core's accessibility rules over the screen as it is: a serious or critical
    finding fails the test at the end."""
    for violation in AXE.run(page).response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [node["target"] for node in violation["nodes"]]
            FINDINGS.append(f"{name}: {violation['id']} ({violation['help']}) at {targets}")


def main():
    bad_sales = Path(tempfile.mkdtemp()) / "sales-with-bad-rows.csv"
    rows = (ROOT / "examples/sales.csv").read_text().splitlines()
    rows[2] = rows[2].replace(",30", ",thirty")          # data row 2: quantity_sold
    rows.append("SALE-900,WIDGET-A,2024-13-45T00:00:00Z,1")  # data row 8: sale_date
    bad_sales.write_text("\n".join(rows) + "\n")
    bad_returns = bad_sales.parent / "returns-with-a-bad-row.csv"
    returns = (ROOT / "examples/returns.csv").read_text().splitlines()
    returns[1] = returns[1].split(",", 1)[0] + ",,"  # data row 1: everything after the id missing
    bad_returns.write_text("\n".join(returns) + "\n")

    events = BucketEvents()
    events.start()
    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
        page = context.new_page()
        watch_network(page)
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # The browser logs each 4xx it was answered; the steps expect those.
        page.on("console", lambda message: errors.append(message.text)
                if message.type == "error" and not message.text.startswith("Failed to load resource") else None)

        step(f"sign in as {TENANT} with the development tenant picker")
        page.goto(WEB + "app")
        expect(page.get_by_text("Development mode.")).to_be_visible()
        page.get_by_label("Tenant id").fill(TENANT)
        page.get_by_role("button", name="Open the dashboard").click()
        expect(page.get_by_role("heading", name="Runs")).to_be_visible()
        expect(page.get_by_text("No runs yet.")).to_be_visible(timeout=60000)

        step("upload a sales file with bad rows: every bad row named, nothing loaded")
        page.get_by_role("link", name="Upload", exact=True).first.click()
        expect(page.get_by_role("heading", name="Upload files")).to_be_visible()
        page.get_by_label("Kind of file").select_option("sales")
        page.locator("input[type=file]").set_input_files(str(bad_sales))
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("The file was rejected, and nothing in it was loaded.", timeout=60000)
        expect(alert.get_by_role("row").filter(has_text="quantity_sold")).to_contain_text("3")
        expect(alert.get_by_role("row").filter(has_text="sale_date")).to_contain_text("9")
        assert "{" not in alert.inner_text(), "an API error shown as JSON"
        shot(page, "upload")
        preview = api("POST", "/api/v1/runs", body={"dry_run": True})
        assert preview["sales"] == [], f"a rejected file loaded sales: {preview['sales']}"

        with page.expect_download() as template:
            page.get_by_role("button", name="Download the template").click()
        header = Path(template.value.path()).read_text().splitlines()[0]
        assert header.startswith("sale_id,sku,sale_date,quantity"), header

        step("a returns file with a bad row, sent directly: rejected the same way")
        page.get_by_label("Kind of file").select_option("returns")
        page.locator("input[type=file]").set_input_files(str(bad_returns))
        expect(page.get_by_role("alert")).to_contain_text("Row", timeout=30000)
        expect(page.get_by_role("alert")).to_contain_text("nothing in it was loaded")

        step("upload the lots (large: through the bucket, with progress) and the sales")
        page.get_by_label("Kind of file").select_option("lots")
        page.locator("input[type=file]").set_input_files(str(ROOT / "examples/lots.csv"))
        expect(page.get_by_role("status").filter(has_text="loaded as lots")).to_be_visible(timeout=60000)
        expect(page.get_by_text("5 new rows")).to_be_visible()
        page.get_by_label("Kind of file").select_option("sales")
        page.locator("input[type=file]").set_input_files(str(ROOT / "examples/sales.csv"))
        expect(page.get_by_role("status").filter(has_text="loaded as sales")).to_be_visible(timeout=30000)
        before = api("GET", "/api/v1/reports/valuation?as_of=2024-12-31")["total_value"]

        step("preview the run, then start it and follow its progress while the worker carries it")
        page.get_by_role("link", name="Go to Run").click()
        expect(page.get_by_role("heading", name="Run", exact=True)).to_be_visible()
        page.get_by_role("button", name="Preview (dry run)").click()
        expect(page.get_by_role("heading", name="Preview")).to_be_visible(timeout=60000)
        expect(page.locator("dl.totals")).to_contain_text("2,310.94")
        shot(page, "run")
        start_run(page)
        expect(page.get_by_role("heading", name="Preview")).to_have_count(0)

        step("open the run: its totals, its journal (balanced), a sale's trace")
        page.get_by_role("link", name="Open the run").click()
        expect(page.get_by_role("heading", name=re.compile(r"^Run [0-9a-f]{8}$"))).to_be_visible()
        run_id = page.url.rstrip("/").rsplit("/", 1)[1]
        expect(page.locator("dl.totals")).to_contain_text("2,310.94")
        page.get_by_label("Format").select_option("xero")
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the journal").click()
        journal = Path(download.value.path()).read_text()
        lines = list(csv.DictReader(io.StringIO(journal)))
        amount = next(column for column in lines[0] if column.lstrip("*") == "Amount")
        assert sum(Decimal(line[amount]) for line in lines) == 0, journal
        debits = [Decimal(line[amount]) for line in lines if Decimal(line[amount]) > 0]
        # Each line is rounded to the cent once: the debits are the run's COGS within that.
        assert abs(sum(debits) - Decimal("2310.9375")) <= Decimal("0.005") * len(debits), journal
        page.get_by_label("Sale id").fill("SALE-001")
        page.get_by_role("button", name="Trace the sale").click()
        expect(page.get_by_role("table").filter(has_text="LOT-001")).to_be_visible()
        shot(page, "run-detail")

        step("inventory: the valuation after the run")
        page.get_by_role("link", name="Inventory", exact=True).click()
        page.get_by_label("As of").fill("2024-12-31")
        page.get_by_role("button", name="Show the valuation").click()
        expect(page.get_by_text("On hand at the end of 2024-12-31")).to_be_visible()
        after = api("GET", "/api/v1/reports/valuation?as_of=2024-12-31")["total_value"]
        assert Decimal(before) - Decimal(after) == Decimal("2310.9375"), (before, after)
        page.get_by_label("From", exact=True).fill("2024-06-01")
        page.get_by_label("To", exact=True).fill("2024-12-31")
        page.get_by_role("button", name="Show the roll-forward").click()
        expect(page.get_by_role("figure")).to_be_visible()
        expect(page.get_by_role("table").filter(has_text="Opening")).to_contain_text("2,310.94")
        shot(page, "inventory")

        step("a late sale, backdated into the first run's SKUs: a second run re-costs it")
        page.get_by_role("link", name="Upload", exact=True).first.click()
        page.get_by_label("Kind of file").select_option("sales")
        page.locator("input[type=file]").set_input_files(str(ROOT / "examples/late-sales.csv"))
        expect(page.get_by_role("status").filter(has_text="loaded as sales")).to_be_visible(timeout=30000)
        page.get_by_role("link", name="Go to Run").click()
        later_id = start_run(page)
        expect(page.get_by_text("The run is complete")).to_contain_text("1 SKUs re-costed")

        step("roll the first run back: the confirmation names it and the later run a cascade takes; "
             "Escape cancels, Enter confirms")
        page.get_by_role("link", name="Runs", exact=True).click()
        expect(page.get_by_role("row").filter(has_text=later_id[-8:])).to_contain_text("completed", timeout=30000)
        expect(page.get_by_role("row").filter(has_text=later_id[-8:]).get_by_role("cell").nth(5)).to_have_text("1")
        shot(page, "home")
        page.get_by_role("button", name=f"Rollback run {run_id[-8:]}").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text(f"Roll back run {run_id[-8:]}?")
        expect(dialog).to_contain_text("1 later run costed the same SKUs and will be rolled back with it")
        expect(dialog).to_contain_text(later_id)
        shot(page, "rollback")
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        assert api("GET", f"/api/v1/runs/{run_id}")["status"] == "completed", "cancelling rolled back"
        page.get_by_role("button", name=f"Rollback run {run_id[-8:]}").click()
        page.get_by_role("dialog").get_by_role("button", name="Roll back 2 runs").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("status").filter(has_text="Rolled back")).to_be_visible(timeout=30000)
        expect(page.get_by_role("row").filter(has_text=run_id[-8:])).to_contain_text("rolled back")
        for rolled_back in (run_id, later_id):
            assert api("GET", f"/api/v1/runs/{rolled_back}")["status"] == "rolled_back"

        step("the inventory returns to what it was before the run")
        page.goto(WEB + "app/inventory?as_of=2024-12-31&from=2024-06-01&to=2024-12-31")
        expect(page.get_by_text("On hand at the end of 2024-12-31")).to_be_visible(timeout=30000)
        restored = api("GET", "/api/v1/reports/valuation?as_of=2024-12-31")["total_value"]
        assert Decimal(restored) == Decimal(before), (before, restored)

        step("settings: move the lock date")
        page.get_by_role("link", name="Settings", exact=True).click()
        page.get_by_label("Lock date", exact=True).fill("2024-06-30")
        page.get_by_label("Refuse the run").check()
        page.get_by_label("Xero tracking category").fill("Region")
        page.get_by_role("button", name="Save the settings").click()
        expect(page.get_by_role("alert")).to_contain_text("needs both a name and an option")
        page.get_by_label("Xero tracking option").fill("North")
        page.get_by_label("Cost of goods sold account code").fill("5010")
        page.get_by_label("Cost of goods sold account name").fill("Cost of sales")
        page.get_by_label("Location accounts").fill('{"SHOP-1": {"code": "1420", "name": "Inventory Shop"}}')
        page.get_by_role("button", name="Save the settings").click()
        expect(page.get_by_role("status").filter(has_text="Saved.")).to_contain_text("The lock date is now 2024-06-30")
        settings = api("GET", "/api/v1/settings")
        assert (settings["lock_date"], settings["lock_policy"]) == ("2024-06-30", "refuse"), settings
        assert settings["xero_tracking"] == {"name": "Region", "option": "North"}, settings
        assert settings["accounts"]["cogs"] == {"code": "5010", "name": "Cost of sales"}, settings
        assert settings["location_accounts"] == {"SHOP-1": {"code": "1420", "name": "Inventory Shop"}}, settings
        shot(page, "settings")
        page.get_by_label("Lock date", exact=True).fill("2999-01-01")
        page.get_by_role("button", name="Save the settings").click()
        expect(page.get_by_role("alert")).to_be_visible()
        assert "{" not in page.get_by_role("alert").inner_text()
        assert api("GET", "/api/v1/settings")["lock_date"] == "2024-06-30", "a refused change changed nothing"
        expect(page.get_by_role("alert")).to_contain_text("lock_date 2999-01-01 is after today")

        step("settings: the default location stays once files are loaded")
        page.get_by_label("Lock date", exact=True).fill("2024-06-30")
        page.get_by_label("Default location").fill("HQ")
        page.get_by_role("button", name="Save the settings").click()
        expect(page.get_by_role("alert")).to_contain_text("before the first upload")
        assert api("GET", "/api/v1/settings")["default_location"] == "main", "a refused change changed nothing"
        page.get_by_label("Default location").fill("main")

        step("settings: the costing method from a day on")
        page.get_by_label("Lock date", exact=True).fill("2024-06-30")
        page.get_by_label("Method", exact=True).select_option(label="Specific identification")
        page.get_by_label("From", exact=True).fill("2024-07-01")
        page.get_by_role("button", name="Save the settings").click()
        expect(page.get_by_role("status").filter(has_text="Saved.")).to_contain_text(
            "Costing method: FIFO; from 2024-07-01, Specific identification")
        methods = api("GET", "/api/v1/settings")["methods"]
        assert methods["initial"] == "fifo" and [(c["from"], c["method"]) for c in methods["changes"]] == [
            ("2024-07-01", "specific_identification")], methods

        step("stock moved to a shop and sold there: the valuation and the roll-forward by location")
        page.get_by_role("link", name="Upload", exact=True).first.click()
        page.get_by_label("Kind of file").select_option("transfers")
        page.locator("input[type=file]").set_input_files(str(ROOT / "examples/transfers.csv"))
        expect(page.get_by_role("status").filter(has_text="loaded as transfers")).to_be_visible(timeout=30000)
        page.get_by_label("Kind of file").select_option("sales")
        page.locator("input[type=file]").set_input_files(str(ROOT / "examples/shop-sales.csv"))
        expect(page.get_by_role("status").filter(has_text="loaded as sales")).to_be_visible(timeout=30000)
        page.get_by_role("link", name="Go to Run").click()
        page.get_by_role("button", name="Start the run").click()
        carry_on(page.get_by_role("link", name="Open the run").get_attribute("href").rsplit("/", 1)[1])
        page.goto(WEB + "app/inventory?as_of=2024-12-31&from=2024-06-01&to=2024-12-31")
        # TR-001 moved 10 GADGET-B at 4.375 to SHOP-1, where SALE-102 sold 4: 26.25 left.
        valued = page.get_by_role("region", name="Valuation by location")
        expect(valued.get_by_role("row").filter(has_text="SHOP-1")).to_contain_text("26.25", timeout=30000)
        rolled = page.get_by_role("region", name="Roll-forward by location").get_by_role("row").filter(has_text="SHOP-1")
        for figure in ("43.75", "17.50", "26.25"):
            expect(rolled).to_contain_text(figure)
        accessible(page, "inventory by location")

        step("another tenant: the run's address answers not found")
        page.get_by_role("button", name="Change tenant").click()
        page.get_by_label("Tenant id").fill(OTHER_TENANT)
        page.get_by_role("button", name="Open the dashboard").click()
        page.goto(WEB + f"app/runs/{run_id}")
        expect(page.get_by_role("heading", name="Run not found")).to_be_visible(timeout=30000)
        expect(page.get_by_role("alert")).to_contain_text("There is no run")

        events.stop.set()
        assert not events.failures, events.failures
        assert not errors, f"the page logged errors: {errors}"
        assert not FINDINGS, "accessibility:\n" + "\n".join(FINDINGS)
        browser.close()
    print("dashboard: every step passed")


if __name__ == "__main__":
    run(main)
