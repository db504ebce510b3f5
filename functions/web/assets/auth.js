// Signing in. Deployed: Cognito's hosted page, authorization code with PKCE for a
// public client; the tokens live in this page's memory only (never in storage), are
// refreshed before they expire, and a reload signs in again through the hosted page
// (silently while its session lasts). Locally (development mode): a tenant picker,
// whose choice goes in the X-Tenant-Id header the functions trust only locally.

export const settings = JSON.parse(document.getElementById('settings').textContent);
export const development = settings.sign_in.mode === 'development';

const TENANT_KEY = 'cogs.dev-tenant';
const PKCE_KEY = 'cogs.sign-in';
let tokens = null;
let refreshTimer = null;

/** An absolute address of a path under the dashboard. */
export function pageUrl(path) { return new URL(path, document.baseURI).href; }

export function devTenant() { return development ? sessionStorage.getItem(TENANT_KEY) : null; }
export function pickTenant(tenant) { sessionStorage.setItem(TENANT_KEY, tenant.trim()); }

export function signedIn() { return development ? Boolean(devTenant()) : Boolean(tokens); }

/** The headers that say who is asking. */
export function credentials() {
  if (development) return devTenant() ? { 'X-Tenant-Id': devTenant() } : {};
  return tokens ? { Authorization: `Bearer ${tokens.id}` } : {};
}

/** Who is signed in, for the header: the token's e-mail and tenant, or the picked tenant. */
export function identity() {
  if (development) return { tenant: devTenant() };
  if (!tokens) return null;
  try {
    const part = tokens.id.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0))));
    return { email: claims.email || claims['cognito:username'], tenant: claims['custom:tenant_id'] };
  } catch {
    return {};
  }
}

const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const redirectUri = () => pageUrl('app/callback');
const cognito = (path) => new URL(path, settings.sign_in.domain);

/** Goes to the hosted sign-in page; `returnTo` is where the person lands afterwards. */
export async function signIn(returnTo = location.pathname + location.search) {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, returnTo }));
  const url = cognito('/oauth2/authorize');
  url.search = new URLSearchParams({
    response_type: 'code', client_id: settings.sign_in.client_id, redirect_uri: redirectUri(),
    scope: 'openid email profile', state, code_challenge: challenge, code_challenge_method: 'S256',
  });
  location.assign(url);
}

/** On app/callback: trades the code for tokens; returns where to go next. */
export async function completeSignIn() {
  const params = new URLSearchParams(location.search);
  const started = JSON.parse(sessionStorage.getItem(PKCE_KEY) || 'null');
  sessionStorage.removeItem(PKCE_KEY);
  if (params.get('error')) {
    throw new Error(`The sign-in page did not sign you in (${params.get('error_description') || params.get('error')}). Sign in again.`);
  }
  if (!started || params.get('state') !== started.state) {
    throw new Error('This sign-in was not started from this page, or was already used. Sign in again.');
  }
  await exchange({
    grant_type: 'authorization_code', code: params.get('code'), redirect_uri: redirectUri(), code_verifier: started.verifier,
  });
  return started.returnTo && started.returnTo.startsWith('/') ? started.returnTo : pageUrl('app');
}

async function exchange(form) {
  const response = await fetch(cognito('/oauth2/token'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: settings.sign_in.client_id, ...form }),
  });
  if (!response.ok) throw new Error('The sign-in service did not accept the sign-in. Sign in again.');
  const answer = await response.json();
  tokens = {
    id: answer.id_token,
    refresh: answer.refresh_token || tokens?.refresh,
    expiresAt: Date.now() + Number(answer.expires_in || 3600) * 1000,
  };
  clearTimeout(refreshTimer);
  // Two minutes before they expire, quietly get new ones.
  refreshTimer = setTimeout(() => refresh().catch(() => { tokens = null; }),
    Math.max(10000, tokens.expiresAt - Date.now() - 120000));
}

/** New tokens from the refresh token; false when there is none. */
export async function refresh() {
  if (development || !tokens?.refresh) return false;
  await exchange({ grant_type: 'refresh_token', refresh_token: tokens.refresh });
  return true;
}

export function signOut() {
  tokens = null;
  clearTimeout(refreshTimer);
  if (development) {
    sessionStorage.removeItem(TENANT_KEY);
    location.assign(pageUrl('app'));
    return;
  }
  const url = cognito('/logout');
  url.search = new URLSearchParams({ client_id: settings.sign_in.client_id, logout_uri: pageUrl('app/') });
  location.assign(url);
}
