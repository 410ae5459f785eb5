// The app shell for use with no network: cached on install under a name
// carrying the build's hash (scripts/web-build.sh stamps it), served
// cache-first for this origin's /m/ GETs. The sync API (/v1/) never passes
// through the cache.
'use strict';
const BUILD = '__BUILD_HASH__';
const CACHE = `beatbook-shell-${BUILD}`;
// Every file of the build, listed by scripts/web-build.sh.
const SHELL = ['__SHELL__'];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith('beatbook-shell-') && n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith('/m/') || url.pathname.startsWith('/v1/')) return;
  const key = url.pathname === '/m/index.html' ? './' : e.request;
  e.respondWith(caches.open(CACHE)
    .then((c) => c.match(key, { ignoreSearch: true }))
    .then((hit) => hit ?? fetch(e.request)));
});
