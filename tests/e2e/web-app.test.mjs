// The field app's web build (issue 18) on a phone profile — small viewport,
// touch, a mobile user agent — in Debian's Chromium, served by the real sync
// server under /m/ (scripts/web-build.sh must have run). Enroll online, save
// a hazard; with no network (and the server stopped) save another with a
// photo; close the browser, start it again on the same profile still
// offline: the app opens from the service worker and both records are
// there; back online, the app syncs by itself and each reaches the server
// exactly once. Offline again, a household visit (an address picked, the
// house and three residents: the liveview test's flow, from app-harness.mjs)
// waits on the phone; online, each of its four records reaches the server once.
// Then the browser is killed right after a save: the saved record is there
// when it starts again; and no file of the browser's profile (OPFS, caches,
// history, autofill) holds a record's text or the officer's name. Last, the
// device is revoked on the server (`beatbook-server device revoke`): the next
// sync wipes it, says what was lost, and leaves no database of it in OPFS.
// Before that, the local save and the address search are timed in the page
// (into docs/web-start.json with the start-up timings).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, Operator, phone as phoneOn, tmpdir, home as homeOf, residents, findFreeAddress, recordHousehold } from './app-harness.mjs';

// Node 18 (Debian's) has no import.meta.dirname.
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const webDir = path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, 'target'), 'web', 'm');
const shots = path.join(root, 'docs', 'screenshots');
fs.mkdirSync(shots, { recursive: true });

const profile = tmpdir('bb-phone-');
const PIN = '246810';
const online = `网页版在线登记 ${process.pid}`;
const offline = `网页版离线登记 ${process.pid}`;
const photo = path.join(tmpdir('bb-photo-'), 'hazard.jpg');
fs.copyFileSync(path.join(root, 'demo', 'assets', 'hazard.jpg'), photo);

/** The phone (app-harness.mjs) on this test's profile, with its GPS and the worker kept. */
function phone() {
  return phoneOn(profile).then(async (context) => {
    await context.addInitScript(gps);
    await context.addInitScript(keepWorker);
    return context;
  });
}

/**
 * A phone's GPS: Playwright's geolocation override never answers in this
 * headless Chromium, so the page's navigator.geolocation reports a fixed
 * position itself.
 */
function gps() {
  const position = { coords: { latitude: 31.87, longitude: 121.17, accuracy: 12 }, timestamp: Date.now() };
  const fake = { watchPosition: (ok) => { setTimeout(() => ok(position), 10); return 1; }, getCurrentPosition: (ok) => setTimeout(() => ok(position), 10), clearWatch() {} };
  Object.defineProperty(navigator, 'geolocation', { value: fake, configurable: true });
}

/** Keeps the page's worker (the app) as window.bbWorker, for the timings. */
function keepWorker() {
  const Native = window.Worker;
  window.Worker = class extends Native {
    constructor(...args) { super(...args); window.bbWorker = this; }
  };
}

let server, ctx, page;
/** The server's hazards before this phone sent any. */
let hazardsBefore;
/** The household visit's address, and what was typed into the picker for it. */
let visitLabel, visitQuery;
/** Milliseconds in the browser, each save or keystroke (see `measured` below). */
const measured = {};
/** The server's devices before this phone enrolled. */
let devicesBefore;
/** Milliseconds, loopback and unthrottled: what the phone waited for. */
const timings = {};
before(async () => {
  assert.ok(fs.existsSync(path.join(webDir, 'beatbook_web_bg.wasm')), `no web build in ${webDir}: run scripts/web-build.sh`);
  // The demo's 3,000 addresses: the address search is measured over them.
  server = await Server.demo({ addresses: 3000, env: { BEATBOOK_WEB_DIR: webDir } });
  devicesBefore = deviceIds();
});
after(async () => {
  // What the phone showed last, for a failure.
  if (ctx) await page?.screenshot({ path: path.join(profile, 'last.png'), fullPage: true }).catch(() => {});
  await ctx?.close();
  await server?.stop();
  if (Object.keys(timings).length === 4) {
    const build = JSON.parse(fs.readFileSync(path.join(webDir, '..', 'build.json'), 'utf8'));
    const what = 'tests/e2e/web-app.test.mjs: milliseconds in headless Chromium (phone profile), server on loopback, no throttling; the PIN key is the real Argon2 derivation in wasm';
    fs.writeFileSync(path.join(root, 'docs', 'web-start.json'), JSON.stringify({ what, build: { profile: build.profile, hash: build.hash }, ms: timings, ...measured }, null, 2) + '\n');
  }
});


/** The ids of the server's devices (`beatbook-server device list`). */
function deviceIds() {
  return server.admin(['device', 'list']).match(/^[0-9a-f]{8}-[0-9a-f-]{27}\b/gm) ?? [];
}

/** A hazard from the home screen, located by the browser, with a photo. */
async function saveHazard(description) {
  await page.click('#hazard'); // the grid's hazards to follow up
  await page.click('#hazard-new');
  await page.selectOption('#f-category', 'ebike_charging');
  await page.fill('#f-description', description);
  await page.click('#f-severity [data-value="high"]');
  // The position comes from the page's navigator.geolocation.
  await page.click('.geo button');
  await page.waitForSelector('.geo span:has-text("31.87000, 121.17000")');
  // The photo goes from the page to the worker (window.beatbookUpload).
  await page.setInputFiles('#f-photos-input', photo);
  await page.waitForSelector('#f-photos .count:has-text("1/")');
  await page.click('#finalize');
  await page.waitForSelector('#sync');
}

/** Back to the home screen. */
const home = () => homeOf(page);

/** How many hazards wait to be sent, from the list of them. */
async function hazardsToSync() {
  await page.click('#lists');
  await page.click('.tab:has-text("待上传")');
  await page.waitForSelector('.tab.on:has-text("待上传")');
  const rows = await page.locator('#records li:has-text("安全隐患")').count();
  await home();
  return rows;
}

test('enroll online on a phone, then a record online and one offline', async () => {
  ctx = await phone();
  page = ctx.pages()[0] ?? (await ctx.newPage());
  let started = Date.now();
  await page.goto(`${server.url}/m/`);
  await page.waitForSelector('#badge', { timeout: 60000 });
  timings.first_visit_to_enrollment_screen = Date.now() - started;
  // Persistent storage was asked for; the officer is told when it was refused.
  const persisted = await page.evaluate(() => navigator.storage.persisted());
  await page.waitForFunction((shown) => !!document.getElementById('storage-refused') === shown, !persisted);
  assert.equal(await page.inputValue('#server'), server.url, 'the server that served the page is offered');
  await page.fill('#badge', '061201');
  await page.fill('#password', 'beatbook-demo');
  await page.click('#next');
  await page.fill('#pin', PIN);
  await page.fill('#pin2', PIN);
  started = Date.now();
  await page.click('#next');
  await page.waitForSelector('#sync', { timeout: 120000 });
  timings.set_pin_and_enroll = Date.now() - started;
  await page.click('#sync');
  await page.waitForSelector('.notice:has-text("同步完成")', { timeout: 120000 });
  // The shell is cached once the service worker is active.
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.screenshot({ path: path.join(shots, 'web-home.png') });
  assert.match(await page.locator('.who').innerText(), /施建军/);

  hazardsBefore = server.count('hazard');
  await saveHazard(online);

  await server.stop();
  await ctx.setOffline(true);
  await saveHazard(offline);
  assert.equal(await hazardsToSync(), 2, 'both wait on the phone');
  await ctx.close();
  ctx = undefined;
});

test('offline, a new browser opens the app from the service worker with both records; online, it syncs by itself and each reaches the server once', async () => {
  ctx = await phone();
  await ctx.setOffline(true);
  page = ctx.pages()[0] ?? (await ctx.newPage());
  let started = Date.now();
  await page.goto(`${server.url}/m/`);
  await page.waitForSelector('#pin', { timeout: 60000 });
  timings.offline_start_to_pin_screen = Date.now() - started;
  assert.ok(await page.evaluate(() => navigator.serviceWorker.controller !== null), 'the page came from the service worker');
  await page.fill('#pin', PIN);
  started = Date.now();
  await page.click('#next');
  await page.waitForSelector('#sync', { timeout: 60000 });
  timings.unlock_with_pin = Date.now() - started;
  assert.equal(Number(await page.locator('#outbox-count').innerText()), 2);
  assert.equal(await hazardsToSync(), 2, 'both wait on the phone');

  await server.start();
  await ctx.setOffline(false);
  // The page's online event: the app syncs by itself, no tap.
  await page.waitForSelector('.notice:has-text("已自动同步")', { timeout: 120000 });
  assert.equal(Number(await page.locator('#outbox-count').innerText()), 0);
  assert.equal(server.count('hazard'), hazardsBefore + 2, 'each record once');
  // A sync by hand sends nothing again.
  await page.click('#sync');
  await page.waitForSelector('.notice:has-text("同步完成")', { timeout: 120000 });
  assert.equal(server.count('hazard'), hazardsBefore + 2, 'still each record once');
});

test('offline, a household visit with three residents (the liveview test\'s flow); online, each record reaches the server once', async () => {
  const label = await findFreeAddress(page);
  const [housesBefore, peopleBefore] = [server.count('house'), server.count('person')];
  await server.stop();
  await ctx.setOffline(true);
  [visitLabel, visitQuery] = [label, await recordHousehold(new Operator(page), label)];
  assert.equal(await page.locator('#residents li').count(), 3);
  await home();
  assert.equal(Number(await page.locator('#outbox-count').innerText()), 4, 'the house and three residents wait on the phone');

  await server.start();
  await ctx.setOffline(false);
  await page.waitForSelector('.notice:has-text("已自动同步")', { timeout: 120000 });
  assert.equal(Number(await page.locator('#outbox-count').innerText()), 0);
  assert.deepEqual([server.count('house'), server.count('person')], [housesBefore + 1, peopleBefore + 3], 'each record once');
  await page.click('#sync');
  await page.waitForSelector('.notice:has-text("同步完成")', { timeout: 120000 });
  assert.deepEqual([server.count('house'), server.count('person')], [housesBefore + 1, peopleBefore + 3], 'still each record once');
});

/** The browser process of this test's profile (not its helpers), by its command line. */
function browserPid() {
  const lines = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n');
  const main = lines.filter((l) => l.includes(`--user-data-dir=${profile}`) && !l.includes('--type='));
  assert.equal(main.length, 1, `one browser process on ${profile}: ${main.join(' | ')}`);
  return Number(main[0].trim().split(/\s+/)[0]);
}

test('the browser killed right after a save: the record is there when it starts again (after a wrong PIN is refused)', async () => {
  await saveHazard(`网页版保存后立即断电 ${process.pid}`);
  const waiting = Number(await page.locator('#outbox-count').innerText());
  assert.equal(waiting, 1);
  const closed = new Promise((resolve) => ctx.once('close', resolve));
  process.kill(browserPid(), 'SIGKILL');
  await closed;
  ctx = await phone();
  page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(`${server.url}/m/`);
  await page.waitForSelector('#pin', { timeout: 60000 });
  // A wrong PIN opens nothing and changes nothing.
  await page.fill('#pin', '000000');
  await page.click('#next');
  await page.waitForSelector('.error:has-text("PIN")');
  assert.equal(await page.locator('#sync').count(), 0);
  await page.fill('#pin', PIN);
  await page.click('#next');
  await page.waitForSelector('#sync', { timeout: 60000 });
  assert.equal(Number(await page.locator('#outbox-count').innerText()), 1, 'the acknowledged save survived');
  assert.equal(await hazardsToSync(), 1);
});

/** Every file under `dir`. */
function filesUnder(dir) {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? e.path, e.name));
}

test('the browser\'s storage on disk holds no readable record or name', async () => {
  await ctx.close();
  ctx = undefined;
  const secrets = [online, offline, '施建军', ...residents.flatMap((r) => [r.name, r.id, r.phone].filter(Boolean))].map((t) => Buffer.from(t, 'utf8'));
  const found = [];
  let opfsBytes = 0;
  let shellSeen = false;
  for (const file of filesUnder(profile)) {
    let data;
    try { data = fs.readFileSync(file); } catch { continue; }
    if (file.includes(`${path.sep}File System${path.sep}`)) opfsBytes += data.length;
    // The scan reads the service worker's cache too: the shell is there in plain text.
    shellSeen ||= data.includes(Buffer.from('beatbookUpload'));
    for (const secret of secrets) if (data.includes(secret)) found.push(`${path.relative(profile, file)}: ${secret}`);
  }
  assert.ok(opfsBytes > 64 * 1024, `the OPFS pool is on disk (${opfsBytes} bytes)`);
  assert.ok(shellSeen, 'the scan reaches the cached app shell');
  assert.deepEqual(found, [], 'plain text on disk');
});

/**
 * The files of SQLite's OPFS pool in the profile, by the path each holds: a
 * pool file starts with a header that names the database file it holds
 * (sqlite-wasm-vfs's sahpool: the path, NUL-terminated, in its first 512
 * bytes); a free one names none.
 */
function opfsPool() {
  const held = new Map();
  for (const file of filesUnder(profile).filter((f) => f.includes(`${path.sep}File System${path.sep}`))) {
    const data = fs.readFileSync(file);
    if (data.length < 4096) continue;
    const name = data.subarray(0, 512).toString('utf8').split('\0')[0];
    if (name.startsWith('/')) held.set(name, data);
  }
  return held;
}

/** The p50, p95 and p99 of `ms` (nearest rank), rounded to 0.1 ms. */
function percentiles(ms) {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (p) => +sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)].toFixed(1);
  return { n: ms.length, p50: at(50), p95: at(95), p99: at(99), max: at(100) };
}

/**
 * In the page: until `selector` matches (or, with `gone`, no longer does),
 * watched by a MutationObserver; false after `timeoutMs`.
 */
const PAGE_HELPERS = `
  window.bbUntil = (test, timeoutMs) => new Promise((done) => {
    if (test()) return done(true);
    const o = new MutationObserver(() => { if (test()) { o.disconnect(); clearTimeout(t); done(true); } });
    const t = setTimeout(() => { o.disconnect(); done(false); }, timeoutMs);
    o.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });`;

/** Revisits saved for the local-save figure. */
const SAVES = 200;

test('measured in the browser: local save and address search, each from the page around the round trip to the worker', async () => {
  ctx = await phone();
  page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(`${server.url}/m/`);
  await page.waitForSelector('#pin', { timeout: 60000 });
  await page.fill('#pin', PIN);
  await page.click('#next');
  await page.waitForSelector('#sync', { timeout: 60000 });
  assert.equal(Number(await page.locator('#outbox-count').innerText()), 1);
  await page.evaluate(PAGE_HELPERS);

  // A local save: the visit house's "nothing changed" (a visit record
  // validated, stored and queued in one transaction), timed from the tap to
  // its notice on screen: page → worker → core → the worker's DOM edits
  // applied by the page. Opening the house and dismissing the last notice
  // are not timed.
  await page.click('#visit');
  const saves = await page.evaluate(async ({ n, query, label }) => {
    const times = [];
    for (let i = 0; i < n; i++) {
      // The house once; after a visit is recorded the app stays on it.
      if (!document.getElementById('unchanged')) {
        if (!(await window.bbUntil(() => document.getElementById('address-search'), 5000))) throw new Error('no address picker');
        const search = document.getElementById('address-search');
        search.value = query;
        search.dispatchEvent(new Event('input', { bubbles: true }));
        const first = () => document.querySelector('#address-results li');
        if (!(await window.bbUntil(() => first()?.textContent === label, 5000))) throw new Error(`${label} is not the first address for ${query}`);
        document.querySelector('#address-results li').click();
        if (!(await window.bbUntil(() => document.getElementById('unchanged'), 5000))) throw new Error('the house did not open');
      }
      const notice = document.querySelector('.notice');
      if (notice) {
        notice.click();
        if (!(await window.bbUntil(() => !document.querySelector('.notice'), 5000))) throw new Error('the notice stayed');
      }
      const started = performance.now();
      document.getElementById('unchanged').click();
      if (!(await window.bbUntil(() => document.querySelector('.notice')?.textContent.includes('信息无变化'), 5000))) throw new Error(`save ${i} was not confirmed`);
      times.push(performance.now() - started);
    }
    return times;
  }, { n: SAVES, query: visitQuery, label: visitLabel });
  await home();
  assert.equal(Number(await page.locator('#outbox-count').innerText()), 1 + SAVES, 'every save is queued');

  // The address search: road and door number of real addresses typed one
  // character at a time; each keystroke timed from the input event to the
  // worker's answer (its DOM edits, the picker's list among them) applied by
  // the page. A keystroke not answered within 1 s is counted apart.
  await page.click('#visit');
  const labels = new Set();
  for (const door of ['11号', '23号', '35号', '47号', '59号', '62号', '74号', '86号']) {
    await page.fill('#address-search', door);
    await page.waitForFunction((d) => [...document.querySelectorAll('#address-results li')].some((li) => li.textContent.endsWith(d)), door);
    for (const l of (await page.locator('#address-results li').allInnerTexts()).slice(0, 5)) labels.add(l);
  }
  assert.ok(labels.size >= 30, `addresses to type: ${[...labels]}`);
  const queries = [...labels].map((l) => l.replace(/^.*?社区/, ''));
  await page.fill('#address-search', '');
  const keys = await page.evaluate(async (queries) => {
    const input = document.getElementById('address-search');
    const native = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value');
    const times = [];
    let unseen = 0;
    // Every answer the worker sends: one a keystroke, or the figure is off.
    let frames = 0;
    await new Promise((r) => setTimeout(r, 100)); // the answer to clearing the box lands first
    window.bbWorker.addEventListener('message', (e) => { if (e.data?.lv !== undefined) frames += 1; });
    for (const q of queries) {
      for (let i = 1; i <= [...q].length; i++) {
        // The page's own handler (shim.js's onmessage) applies the edits first.
        const answered = new Promise((done) => {
          const timer = setTimeout(() => { window.bbWorker.removeEventListener('message', on); done(false); }, 1000);
          function on(e) {
            if (e.data?.lv === undefined) return;
            clearTimeout(timer);
            window.bbWorker.removeEventListener('message', on);
            done(true);
          }
          window.bbWorker.addEventListener('message', on);
        });
        const started = performance.now();
        native.set.call(input, [...q].slice(0, i).join(''));
        input.dispatchEvent(new Event('input', { bubbles: true }));
        if (await answered) times.push(performance.now() - started);
        else unseen += 1;
        // Room for a second answer to the same keystroke, to be counted.
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    return { times, unseen, frames };
  }, queries);
  await home();
  assert.equal(keys.frames, keys.times.length, 'one answer from the worker a keystroke');
  assert.ok(keys.times.length >= 200 && keys.unseen <= keys.times.length / 20, `keystrokes answered: ${keys.times.length}, unseen ${keys.unseen}`);

  const addresses = Number(server.admin(['status']).split('\n').find((l) => /^\s*address\b/.test(l))?.match(/(\d+)\s*$/)?.[1]);
  measured.local_save = { how: 'from the page: the tap on "nothing changed" (a visit record finalized: validated, stored, queued) to its notice on screen, through the worker', ms: percentiles(saves) };
  measured.address_search = { how: `from the page: each keystroke of ${queries.length} addresses' road and door number into the picker (${addresses} addresses), input event to the worker's answer (its DOM edits) applied by the page; ${keys.unseen} keystrokes unanswered within 1 s, not timed`, addresses, ms: percentiles(keys.times) };
  console.error(JSON.stringify(measured));
});

test('a revoked phone wipes itself on next contact, says what it lost, and its OPFS holds no database of the device', async () => {
  const [device, ...others] = deviceIds().filter((id) => !devicesBefore.includes(id));
  assert.ok(device && others.length === 0, `the phone is one new device on the server: ${device} ${others}`);
  const before = opfsPool();
  assert.ok(before.has('/device/beatbook.db'), `the device's database is in the pool: ${[...before.keys()]}`);
  assert.ok([...before.values()].some((d) => d.includes(Buffer.from(device))), 'the device id is in the pool before');

  // The hazard saved before the kill and the measured revisits were never sent.
  const unsent = Number(await page.locator('#outbox-count').innerText());
  assert.equal(unsent, 1 + SAVES);
  server.admin(['device', 'revoke', device]);
  await page.click('#sync');
  const lost = page.locator('text=此设备已被注销');
  await lost.waitFor({ timeout: 60000 });
  assert.match(await lost.innerText(), /1 条尚未上传的记录和 \d+ 张尚未上传的照片已被销毁/);
  // Closed, with nothing of the device left: the enrollment screen, as on a new phone.
  await page.waitForSelector('#badge');
  await page.screenshot({ path: path.join(profile, 'revoked.png'), fullPage: true });
  await ctx.close();
  ctx = undefined;

  const after = opfsPool();
  assert.deepEqual([...after.keys()].filter((p) => p.startsWith('/device/')), [], 'no database of the device in the pool');
  const named = [...after.entries()].filter(([, d]) => d.includes(Buffer.from(device))).map(([p]) => p);
  assert.deepEqual(named, [], 'no pool file names the device');
});
