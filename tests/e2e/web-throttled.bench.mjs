// A benchmark, not a test (`scripts/bench.sh web`; not run in CI): the
// field app's web build on a slow mobile network. The phone reaches the
// real sync server through a throttling proxy on loopback that behaves like
// DevTools' "Slow 4G" profile (150 ms round trip, 1.6 Mbit/s down, 750 kbit/s
// up, one link shared by all the browser's connections). DevTools' own
// throttling does not reach the dedicated worker's download of the app, so
// the network itself is slowed. Timed: the first visit (the whole download)
// to the enrollment screen, and a later start on the same profile, when the
// service worker answers from its cache (into docs/web-throttled.json).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, phone, tmpdir } from './app-harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const webDir = path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, 'target'), 'web', 'm');

const SLOW_4G = { rtt_ms: 150, down_bits_per_s: 1.6e6, up_bits_per_s: 750e3 };

/** One direction of the slow network: a link that sends one chunk at a time at `bitsPerSecond`. */
class Link {
  constructor(bitsPerSecond, delayMs) { this.rate = bitsPerSecond; this.delay = delayMs; this.free = 0; }
  /** Calls `deliver` once `bytes` have crossed the link after those queued before them. */
  carry(bytes, deliver) {
    const now = performance.now();
    const start = Math.max(now, this.free);
    this.free = start + (bytes * 8 * 1000) / this.rate;
    setTimeout(deliver, this.free + this.delay - now);
  }
}

/** A TCP proxy in front of `port` whose connections share one slow link each way. */
function slowNetwork(port, { rtt_ms, down_bits_per_s, up_bits_per_s }) {
  const down = new Link(down_bits_per_s, rtt_ms / 2);
  const up = new Link(up_bits_per_s, rtt_ms / 2);
  const relay = (from, to, link) => {
    from.on('data', (chunk) => link.carry(chunk.length, () => to.write(chunk)));
    from.on('end', () => link.carry(0, () => to.end()));
  };
  const proxy = net.createServer((phoneSide) => {
    const serverSide = net.connect(port, '127.0.0.1');
    relay(phoneSide, serverSide, up);
    relay(serverSide, phoneSide, down);
    const close = () => { phoneSide.destroy(); serverSide.destroy(); };
    phoneSide.on('error', close);
    serverSide.on('error', close);
  });
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve(proxy)));
}

let server, proxy, ctx;
const ms = {};
before(async () => {
  assert.ok(fs.existsSync(path.join(webDir, 'beatbook_web_bg.wasm')), `no web build in ${webDir}: run scripts/web-build.sh`);
  server = await Server.demo({ env: { BEATBOOK_WEB_DIR: webDir } });
  proxy = await slowNetwork(server.port, SLOW_4G);
});
after(async () => {
  await ctx?.close();
  proxy?.close();
  await server?.stop();
  if (Object.keys(ms).length === 2) {
    const build = JSON.parse(fs.readFileSync(path.join(webDir, '..', 'build.json'), 'utf8'));
    const what = 'scripts/bench.sh web (tests/e2e/web-throttled.bench.mjs): milliseconds in headless Chromium (phone profile) through a loopback proxy paced like DevTools\' Slow 4G; the server compresses what it sends';
    fs.writeFileSync(path.join(root, 'docs', 'web-throttled.json'), JSON.stringify({ what, network: SLOW_4G, build: { profile: build.profile, hash: build.hash, download_gzip_bytes: build.bytes?.total_gzip }, ms }, null, 2) + '\n');
  }
});

test('on Slow 4G: the first visit downloads the app once; a later start comes from the service worker', async () => {
  const profile = tmpdir('bb-slow-phone-');
  const url = `http://127.0.0.1:${proxy.address().port}/m/`;
  ctx = await phone(profile);
  let page = ctx.pages()[0] ?? (await ctx.newPage());
  let started = Date.now();
  await page.goto(url, { timeout: 180000 });
  await page.waitForSelector('#badge', { timeout: 180000 });
  ms.first_visit_to_enrollment_screen = Date.now() - started;
  // The shell is in the cache once the service worker has installed.
  await page.waitForFunction(async () => {
    await navigator.serviceWorker.ready;
    return !!(await caches.match('beatbook_web_bg.wasm'));
  }, null, { timeout: 180000, polling: 500 });
  await ctx.close();

  ctx = await phone(profile);
  page = ctx.pages()[0] ?? (await ctx.newPage());
  started = Date.now();
  await page.goto(url, { timeout: 180000 });
  await page.waitForSelector('#badge', { timeout: 180000 });
  ms.start_from_the_service_worker = Date.now() - started;
  assert.ok(await page.evaluate(() => navigator.serviceWorker.controller !== null), 'the page came from the service worker');
});
