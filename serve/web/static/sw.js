/* Service worker for the grid worker's page (registered from /sw.js with scope /worker).
 *
 * Keeps what the page needs to open without a connection: the page itself, its scripts and
 * styles, and the last answers of /api/v1/me and /api/v1/patrols/today. Every request is
 * network first; when the network fails (or is slower than NETWORK_WAIT_MS and a saved copy
 * exists) the saved copy is served, marked with `X-Risk-From-Cache: 1` and
 * `X-Risk-Saved-At: <ISO time>` so the page can say how old it is.
 *
 * Outcome and event reports (POST) are never touched here: the page queues them itself and
 * sends them again with the same client id. A logout seen here drops the saved API answers, so the
 * next person on this phone never sees the last one's list.
 */
'use strict';

const CACHE = 'risk-worker-v1';
const PAGE = '/worker';
const API_SAVED = ['/api/v1/me', '/api/v1/patrols/today'];
const PRECACHE = [
  PAGE,
  '/static/app.css',
  '/static/common.js',
  '/static/worker.js',
  '/static/worker.css',
  '/static/manifest.webmanifest',
  ...API_SAVED,
];
const NETWORK_WAIT_MS = 6000;

function keyOf(request) {
  const url = new URL(request.url);
  if (request.mode === 'navigate' || url.pathname === PAGE) return PAGE; // ?lang=en is the same page
  if (API_SAVED.includes(url.pathname)) return url.pathname;
  return url.pathname + url.search;
}

function wanted(request) {
  if (request.method !== 'GET') return false;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return false;
  if (request.mode === 'navigate') return url.pathname === PAGE || url.pathname.startsWith(PAGE + '/');
  return url.pathname.startsWith('/static/') || API_SAVED.includes(url.pathname);
}

function storable(response) {
  return response && response.ok && !response.redirected && response.type === 'basic';
}

async function stamped(response) {
  const headers = new Headers(response.headers);
  headers.set('X-Risk-Saved-At', new Date().toISOString());
  const body = await response.blob();
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

async function save(key, response) {
  const cache = await caches.open(CACHE);
  await cache.put(key, await stamped(response));
}

function marked(cached) {
  const headers = new Headers(cached.headers);
  headers.set('X-Risk-From-Cache', '1');
  return new Response(cached.body, { status: cached.status, statusText: cached.statusText, headers });
}

async function networkFirst(event) {
  const request = event.request;
  const key = keyOf(request);
  const cache = await caches.open(CACHE);
  const network = fetch(request).then((response) => {
    if (storable(response)) event.waitUntil(save(key, response.clone()));
    return response;
  });
  const cached = await cache.match(key);
  if (!cached) return network; // nothing saved: the network's answer or its failure
  const slow = new Promise((resolve) => setTimeout(() => resolve(null), NETWORK_WAIT_MS));
  try {
    const first = await Promise.race([network, slow]);
    if (first) return first;
  } catch (err) {
    return marked(cached); // offline
  }
  event.waitUntil(network.catch(() => null)); // slow: let it finish and refresh the copy
  return marked(cached);
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await Promise.all(
        PRECACHE.map(async (url) => {
          try {
            const response = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
            if (storable(response)) await cache.put(url, await stamped(response));
          } catch (err) {
            /* offline while installing: saved at the next visit */
          }
        }),
      );
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('risk-worker-') && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method === 'POST' && url.pathname === '/api/v1/auth/logout') {
    event.waitUntil(
      caches.open(CACHE).then((cache) => Promise.all([PAGE, ...API_SAVED].map((k) => cache.delete(k)))),
    );
    return;
  }
  if (!wanted(request)) return;
  event.respondWith(networkFirst(event));
});
