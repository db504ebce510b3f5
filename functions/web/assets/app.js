// The dashboard's shell: which screen an address names, signing in before any screen,
// links that change screens without reloading, and the header's who-is-signed-in.

import { completeSignIn, development, identity, pickTenant, settings, signIn, signOut, signedIn } from './auth.js';
import { field, h, info, problem, screen } from './ui.js';

// Pattern, the header link it belongs to, the module that draws it.
const SCREENS = [
  [/^(app)?$/, 'home', 'home'],
  [/^app\/upload$/, 'upload', 'upload'],
  [/^app\/run$/, 'run', 'run'],
  [/^app\/runs\/([^/]+)$/, 'home', 'detail'],
  [/^app\/inventory$/, 'inventory', 'inventory'],
  [/^app\/settings$/, 'settings', 'settings'],
];

/** A screen's module. A fetch the network dropped is asked once more under another
 * address, as the browser keeps a module that failed to load as failed. */
async function load(module) {
  try {
    return await import(`./${module}.js`);
  } catch {
    return import(`./${module}.js?again`);
  }
}

/** The address below the dashboard's base, without slashes at either end. */
function route() {
  const base = new URL(settings.base, location.origin).pathname;
  const path = location.pathname.startsWith(base) ? location.pathname.slice(base.length) : location.pathname;
  return decodeURIComponent(path.replace(/^\/+|\/+$/g, ''));
}

async function render() {
  const path = route();
  if (path === 'app/callback') return callback();
  if (!signedIn()) {
    if (development) return tenantPicker();
    return signIn();
  }
  header();
  const found = SCREENS.find(([pattern]) => pattern.test(path));
  for (const link of document.querySelectorAll('[data-nav]')) {
    link.toggleAttribute('aria-current', false);
    if (found && link.dataset.nav === found[1]) link.setAttribute('aria-current', 'page');
  }
  if (!found) {
    screen('No such page', info('This address is not a screen of the dashboard.'), h('p', {}, h('a', { href: 'app' }, 'Go to the runs')));
    return;
  }
  const [pattern, , module] = found;
  try {
    const page = await load(module);
    await page.render({ params: pattern.exec(path).slice(1), query: new URLSearchParams(location.search) });
  } catch (error) {
    screen('This screen could not be shown', problem(error));
  }
}

async function callback() {
  try {
    const next = await completeSignIn();
    history.replaceState(null, '', next);
    render();
  } catch (error) {
    screen('Sign-in did not complete', problem(error), h('p', {}, h('button', { class: 'primary', onclick: () => signIn('/') }, 'Sign in again')));
  }
}

function header() {
  const who = identity() || {};
  const banner = document.getElementById('banner');
  const slot = document.getElementById('who');
  if (development) {
    banner.replaceChildren(h('div', { class: 'dev', role: 'note' },
      h('strong', {}, 'Development mode.'),
      'There is no sign-in here: you act for the tenant you picked, sent in the X-Tenant-Id header that only a local stack trusts. A deployed dashboard signs in through Cognito.'));
    slot.replaceChildren(h('span', {}, `Tenant: ${who.tenant}`), h('button', { onclick: signOut }, 'Change tenant'));
  } else {
    slot.replaceChildren(h('span', {}, [who.email, who.tenant && `(${who.tenant})`].filter(Boolean).join(' ')),
      h('button', { onclick: signOut }, 'Sign out'));
  }
}

function tenantPicker() {
  const input = h('input', { name: 'tenant', required: true, autocomplete: 'off', pattern: '[A-Za-z0-9][A-Za-z0-9_.\\-]*' });
  const form = h('form', {
    onsubmit: (event) => { event.preventDefault(); pickTenant(input.value); render(); },
  }, field('Tenant id', input, 'The organisation whose books you will see, as the API names it (for example acme-corp).'),
  h('div', { class: 'actions' }, h('button', { class: 'primary' }, 'Open the dashboard')));
  document.getElementById('banner').replaceChildren(h('div', { class: 'dev', role: 'note' },
    h('strong', {}, 'Development mode.'), 'Pick any tenant: nothing checks who you are. Only a local stack allows this.'));
  document.getElementById('who').replaceChildren();
  screen('Choose a tenant', h('section', {}, form));
}

/** Changes screen without reloading the page. */
export function navigate(path) {
  history.pushState(null, '', new URL(path, document.baseURI));
  render();
}

document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href]');
  // With a <base>, "#main" would resolve against it: move the focus instead.
  if (link?.getAttribute('href').startsWith('#')) {
    event.preventDefault();
    document.getElementById(link.getAttribute('href').slice(1))?.focus();
    return;
  }
  if (!link || link.target || link.hasAttribute('download') || event.defaultPrevented || event.button !== 0
    || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href);
  const base = new URL(settings.base, location.origin).pathname;
  if (url.origin !== location.origin || !url.pathname.startsWith(base)) return;
  event.preventDefault();
  navigate(url.href);
});
window.addEventListener('popstate', render);
window.addEventListener('cogs:navigate', (event) => navigate(event.detail));
render();
