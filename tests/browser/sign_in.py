"""Signing in to the deployed dashboard: Cognito's hosted page, authorization code with
PKCE, tokens in the page's memory only, refreshed before they expire and after a 401,
a reload signing in again, sign-out ending the hosted session, a forged callback refused.

There is no Cognito here (no AWS access). A stand-in answers the hosted UI's three
endpoints as Cognito documents them (GET /oauth2/authorize, POST /oauth2/token, GET
/logout), through Playwright's request routing, checking what the page sends as Cognito
would (client id, redirect URI, state, the S256 challenge of the verifier, the refresh
token). A second stand-in plays API Gateway's JWT authorizer: a request with a token
the first issued and has not expired goes on to the real functions (served in
development mode, so the tenant goes as X-Tenant-Id), any other is answered 401 with
API Gateway's body. What is not tested here: real Cognito, real API Gateway.

Environment: COGS_WEB_URL (the dashboard served with COGS_COGNITO_DOMAIN=AUTH and
COGS_COGNITO_CLIENT_ID=CLIENT), COGS_API_URL (the functions, development mode),
COGS_AUTH (the stand-in's address), COGS_CLIENT_ID.
"""

import base64
import hashlib
import json
import os
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlparse

from playwright.sync_api import expect, sync_playwright

from common import launch, run, step, watch_network

WEB = os.environ["COGS_WEB_URL"].rstrip("/") + "/"
API = os.environ["COGS_API_URL"].rstrip("/")
AUTH = os.environ["COGS_AUTH"].rstrip("/")
CLIENT = os.environ["COGS_CLIENT_ID"]
TENANT = os.environ.get("COGS_TENANT", "acme-corp")
EMAIL = "ana@acme.example"


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class HostedUi:
    """Cognito's hosted UI and token endpoint, as the page uses them."""

    def __init__(self):
        self.problems = []
        self.pending = {}  # code -> (challenge, redirect_uri)
        self.session = False  # the hosted page's own sign-in session (its cookie)
        self.valid = set()  # ID tokens the authorizer accepts
        self.refresh_tokens = set()
        self.grants = []
        self.authorizations = 0

    def check(self, condition, problem):
        if not condition:
            self.problems.append(problem)

    def token(self):
        claims = {"sub": "u-1", "email": EMAIL, "custom:tenant_id": TENANT, "token_use": "id", "aud": CLIENT,
                  "iss": AUTH, "nonce": secrets.token_hex(4)}
        token = ".".join([b64url(b'{"alg":"none"}'), b64url(json.dumps(claims).encode()), "stand-in"])
        self.valid.add(token)
        return token

    def authorize(self, route, url):
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.authorizations += 1
        self.check(query.get("client_id") == CLIENT, f"authorize: client_id {query.get('client_id')}")
        self.check(query.get("response_type") == "code", f"authorize: response_type {query.get('response_type')}")
        self.check(query.get("redirect_uri") == WEB + "app/callback", f"authorize: redirect_uri {query.get('redirect_uri')}")
        self.check(query.get("code_challenge_method") == "S256", "authorize: no S256 challenge")
        self.check("openid" in query.get("scope", "").split(), "authorize: no openid scope")
        self.check(len(query.get("state", "")) >= 16, "authorize: no state")
        if not self.session:
            # After sign-out the hosted page asks for a password again.
            route.fulfill(status=200, content_type="text/html",
                          body="<!doctype html><title>Sign in</title><h1>Sign in to acme</h1><form>"
                               "<label>Password <input type=password></label></form>")
            return
        code = secrets.token_urlsafe(12)
        self.pending[code] = (query["code_challenge"], query["redirect_uri"])
        route.fulfill(status=302, headers={"Location": f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"})

    def exchange(self, route, request):
        form = {k: v[0] for k, v in parse_qs(request.post_data or "").items()}
        self.grants.append(form.get("grant_type"))
        self.check(form.get("client_id") == CLIENT, f"token: client_id {form.get('client_id')}")
        self.check(request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"),
                   "token: not a form")
        if form.get("grant_type") == "authorization_code":
            challenge, redirect_uri = self.pending.pop(form.get("code"), (None, None))
            verifier = form.get("code_verifier", "")
            if challenge is None or b64url(hashlib.sha256(verifier.encode()).digest()) != challenge \
                    or form.get("redirect_uri") != redirect_uri:
                self.check(False, "token: the code, its verifier or its redirect URI does not match")
                route.fulfill(status=400, content_type="application/json", body='{"error":"invalid_grant"}',
                              headers={"Access-Control-Allow-Origin": "*"})
                return
        elif form.get("grant_type") == "refresh_token":
            self.check(form.get("refresh_token") in self.refresh_tokens, "token: unknown refresh token")
        else:
            self.check(False, f"token: grant {form.get('grant_type')}")
        refresh = secrets.token_urlsafe(16)
        self.refresh_tokens.add(refresh)
        answer = {"id_token": self.token(), "access_token": "access", "token_type": "Bearer", "expires_in": 3600}
        if form.get("grant_type") == "authorization_code":
            answer["refresh_token"] = refresh
        route.fulfill(status=200, content_type="application/json", body=json.dumps(answer),
                      headers={"Access-Control-Allow-Origin": "*"})

    def logout(self, route, url):
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.check(query.get("client_id") == CLIENT, "logout: client_id")
        self.check(query.get("logout_uri") == WEB + "app/", f"logout: logout_uri {query.get('logout_uri')}")
        self.session = False
        self.valid.clear()
        route.fulfill(status=302, headers={"Location": query.get("logout_uri", WEB)})

    def handle(self, route):
        request = route.request
        url = urlparse(request.url)
        if request.method == "OPTIONS":
            route.fulfill(status=204, headers={"Access-Control-Allow-Origin": "*",
                                               "Access-Control-Allow-Headers": "content-type",
                                               "Access-Control-Allow-Methods": "POST"})
        elif url.path == "/oauth2/authorize":
            self.authorize(route, url)
        elif url.path == "/oauth2/token":
            self.exchange(route, request)
        elif url.path == "/logout":
            self.logout(route, url)
        else:
            route.fulfill(status=404)


def main():
    hosted = HostedUi()
    hosted.session = True  # as if the person had signed in on the hosted page before
    calls = []

    def authorizer(route):
        """API Gateway's JWT authorizer: a token the hosted UI issued goes on with its tenant."""
        request = route.request
        token = (request.headers.get("authorization") or "").removeprefix("Bearer ")
        calls.append(token)
        if token not in hosted.valid:
            route.fulfill(status=401, content_type="application/json", body='{"message":"Unauthorized"}')
            return
        path = urlparse(request.url)
        upstream = API + path.path.split("/lambda-url", 1)[1] + (f"?{path.query}" if path.query else "")
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        headers["x-tenant-id"] = TENANT
        route.fulfill(response=route.fetch(url=upstream, headers=headers))

    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        context.route(f"{AUTH}/**", hosted.handle)
        context.route(re.compile(r".*/lambda-url/cogs-(?!web)[a-z-]+/api/.*"), authorizer)
        page = context.new_page()
        watch_network(page)
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.clock.install()

        step("a bookmarked screen sends the person through the hosted sign-in and back to it")
        page.goto(WEB + "app/inventory?as_of=2024-12-31")
        expect(page.get_by_role("heading", name="Inventory")).to_be_visible(timeout=30000)
        assert "as_of=2024-12-31" in page.url and "/app/inventory" in page.url, page.url
        expect(page.get_by_text(f"{EMAIL} ({TENANT})")).to_be_visible()
        expect(page.get_by_text("On hand at the end of 2024-12-31")).to_be_visible()
        expect(page.get_by_text("Development mode.")).to_have_count(0)
        first = calls[-1]
        assert first in hosted.valid, "the API calls carry the ID token"
        stored = page.evaluate("JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])")
        assert first not in stored and "stand-in" not in stored, f"a token in storage: {stored}"
        assert hosted.grants == ["authorization_code"], hosted.grants

        step("two minutes before the tokens expire, the page refreshes them")
        page.clock.run_for("58:30")
        for _ in range(50):
            if len(hosted.grants) > 1:
                break
            page.wait_for_timeout(100)
        assert hosted.grants == ["authorization_code", "refresh_token"], hosted.grants
        page.get_by_role("link", name="Runs", exact=True).click()
        expect(page.get_by_role("heading", name="Runs")).to_be_visible()
        expect(page.get_by_role("table")).to_be_visible(timeout=30000)
        assert calls[-1] != first and calls[-1] in hosted.valid, "the refreshed token is used"

        step("a token the authorizer no longer accepts: refreshed once, the request made again")
        hosted.valid.clear()
        page.get_by_role("link", name="Settings", exact=True).click()
        expect(page.get_by_role("button", name="Save the settings")).to_be_visible(timeout=30000)
        assert hosted.grants[-1] == "refresh_token" and len(hosted.grants) == 3, hosted.grants

        step("a reload forgets the tokens and signs in again without a prompt")
        page.reload()
        expect(page.get_by_role("button", name="Save the settings")).to_be_visible(timeout=30000)
        assert hosted.authorizations == 2, hosted.authorizations

        step("a screen whose script the network drops once is still shown")
        dropped = []

        def drop_once(route):
            if dropped:
                route.continue_()
            else:
                dropped.append(route.request.url)
                route.abort("connectionreset")

        run_script = re.compile(r".*/app/assets/run\.js(\?.*)?$")
        page.route(run_script, drop_once)
        page.get_by_role("link", name="Run", exact=True).click()
        expect(page.get_by_role("heading", name="Run", exact=True)).to_be_visible(timeout=30000)
        assert len(dropped) == 1, dropped
        page.unroute(run_script)

        step("sign out ends the hosted session: the next visit asks for a password")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in to acme")).to_be_visible(timeout=30000)
        assert not hosted.valid, "the tokens outlived the sign-out"

        step("a callback the page did not start is refused, with what to do")
        hosted.session = True
        exchanged = len(hosted.grants)
        page.goto(WEB + "app/callback?code=stolen&state=forged")
        expect(page.get_by_role("heading", name="Sign-in did not complete")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("not started from this page")
        assert len(hosted.grants) == exchanged, f"a forged code was exchanged: {hosted.grants}"

        assert not hosted.problems, hosted.problems
        assert not errors, f"the page threw: {errors}"
        browser.close()
    print("sign-in: every step passed")


if __name__ == "__main__":
    run(main)
