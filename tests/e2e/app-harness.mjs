// Harness for browser-driven tests of the field app: the real sync server
// (demo district) and the real field app served over liveview, both on
// loopback, driven from headless Chromium with Playwright.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';

// Node 18 (Debian's) has no import.meta.dirname.
const here = path.dirname(fileURLToPath(import.meta.url));

const root = path.resolve(here, '../..');
const target = process.env.CARGO_TARGET_DIR ?? path.join(root, 'target');
export const bin = (name) => path.join(target, 'debug', name);

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export function tmpdir(prefix) {
  return fs.mkdtempSync(path.join(process.env.E2E_TMP ?? os.tmpdir(), prefix));
}

async function waitForHttp(url, timeoutMs = 30000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

// With E2E_POSTGRES=<base url> (e.g. postgres://postgres@127.0.0.1:5433, a
// throwaway cluster: scripts/postgres.sh ensure) every server gets a new
// database there; without it, the SQLite file in its data directory.
const postgresBase = process.env.E2E_POSTGRES?.replace(/\/+$/, '');
let databases = 0;
console.error(postgresBase ? `e2e: servers run on PostgreSQL (${postgresBase})` : 'e2e: servers run on SQLite');

/**
 * A new empty database in the E2E_POSTGRES cluster, or undefined without
 * one. Named like the Rust tests' (beatbook_test_<pid>_…), so a later test
 * run drops it once this process has ended.
 */
function newDatabase() {
  if (!postgresBase) return undefined;
  databases += 1;
  const name = `beatbook_test_${process.pid}_e2e${databases}`;
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', `${postgresBase}/postgres`, '-c', `CREATE DATABASE ${name}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  return `${postgresBase}/${name}`;
}

/** The sync server over a demo district, restartable on the same port. */
export class Server {
  /** `env`: more environment for `serve` (e.g. BEATBOOK_WEB_DIR). */
  static async demo({ addresses = 300, households = 30, env = {} } = {}) {
    const s = new Server(tmpdir('bb-server-'), await freePort(), newDatabase());
    s.env = env;
    execFileSync(bin('beatbook-server'), [...s.args(), 'demo', '--addresses', String(addresses), '--households', String(households)], { stdio: 'ignore' });
    await s.start();
    return s;
  }
  constructor(dir, port, database) {
    this.dir = dir; this.port = port; this.database = database; this.url = `http://127.0.0.1:${port}`;
  }
  /** The arguments every beatbook-server invocation on this server's data starts with. */
  args() {
    return ['--data-dir', this.dir, ...(this.database ? ['--database', this.database] : [])];
  }
  async start() {
    this.proc = spawn(bin('beatbook-server'), [...this.args(), 'serve', '--listen', `127.0.0.1:${this.port}`], { stdio: 'ignore', env: { ...process.env, ...this.env } });
    await waitForHttp(`${this.url}/healthz`);
  }
  async stop() {
    if (!this.proc) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
    this.proc = undefined;
  }
  /** Runs an admin command against the data directory. */
  admin(args) {
    return execFileSync(bin('beatbook-server'), [...this.args(), ...args], { encoding: 'utf8' });
  }
  /** The count of records of a form on the server (`beatbook-server status`). */
  count(form) {
    return this.counts()[form] ?? 0;
  }
  /** Records per form on the server (`beatbook-server status`). */
  counts() {
    const counts = {};
    for (const m of this.admin(['status']).matchAll(/^\s*(\w+)\s+\S+\s+(\d+)\s*$/gm)) counts[m[1]] = Number(m[2]);
    return counts;
  }
}

/** The first line a child process prints, within `timeoutMs`. */
function firstLine(proc, timeoutMs = 60000) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error('no output in time')), timeoutMs);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk) => {
      seen += chunk;
      const end = seen.indexOf('\n');
      if (end >= 0) { clearTimeout(timer); resolve(seen.slice(0, end)); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}`)); });
  });
}

/**
 * The field app over liveview, on a fresh device directory unless given
 * one, on a free port. Its address holds a key made for this launch: the
 * app prints it.
 */
export class FieldApp {
  static async start(serverUrl, dir = tmpdir('bb-device-'), { env = {} } = {}) {
    const proc = spawn(bin('beatbook-app'), ['--dir', dir, '--insecure-fast-keys', '--fix', '31.8700,121.1700', 'liveview', '--listen', '127.0.0.1:0', '--server', serverUrl], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ...env } });
    const line = await firstLine(proc);
    const url = line.match(/(http:\/\/127\.0\.0\.1:\d+\/app\/[0-9a-f]+\/)/)?.[1];
    if (!url) throw new Error(`beatbook-app liveview printed no address: ${line}`);
    await waitForHttp(url);
    return Object.assign(new FieldApp(), { dir, proc, url });
  }
  async stop() { this.proc.kill('SIGKILL'); }
}

/**
 * The usual setup of a browser test: a demo server (`demo`: its sizes), the
 * field app over liveview (`env`: more environment for it) and a browser on
 * its page. `close()` ends all three.
 */
export async function fieldApp({ demo = {}, env = {} } = {}) {
  const server = await Server.demo(demo);
  const app = await FieldApp.start(server.url, undefined, { env });
  const ctx = await browser();
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(app.url);
  const close = async () => {
    await ctx.close();
    await app.stop();
    await server.stop();
  };
  return { server, app, ctx, page, close };
}

/**
 * Chromium as a phone — small viewport, touch, a mobile user agent — on one
 * profile directory (its OPFS, caches and service worker) across launches.
 */
export function phone(profile) {
  return chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 412, height: 915 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
    locale: 'zh-CN',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function browser(options = {}) {
  const profile = tmpdir('bb-chromium-');
  return chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 412, height: 915 },
    deviceScaleFactor: 1,
    locale: 'zh-CN',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    ...options,
  });
}

/**
 * Waits until `check()` holds, or fails saying `what` and what the page
 * shows.
 */
export async function until(page, what, check, timeoutMs = 90000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await page.waitForTimeout(300);
  }
  const shown = await page.locator('main, body').first().innerText().catch(() => '');
  throw new Error(`timed out waiting for ${what}; the page shows:\n${shown.slice(0, 2000)}`);
}

/**
 * Phones of one test file: each its own field app (syncing by itself every
 * 3 s) and page in `ctx`, enrolled as a badge on `server`.
 */
export class Phones {
  constructor(server, ctx) { this.server = server; this.ctx = ctx; this.apps = []; }
  async enrolled(badge) {
    const app = await FieldApp.start(this.server.url, undefined, { env: { BEATBOOK_SYNC_EVERY: '3' } });
    this.apps.push(app);
    const page = await this.ctx.newPage();
    await page.goto(app.url);
    await enroll(page, this.server.url, { badge });
    return page;
  }
  async stop() { for (const app of this.apps) await app.stop(); }
}

/** A browser at the station PC's size, for the review and admin pages. */
export const desktop = (options = {}) =>
  browser({ viewport: { width: 1360, height: 900 }, timezoneId: 'Asia/Shanghai', ...options });

/**
 * Counts what an officer does: every tap, and every character typed. The
 * measure of "less time typing" (DOMAIN.md): operator actions for a scripted visit.
 */
export class Operator {
  constructor(page) { this.page = page; this.taps = 0; this.chars = 0; }
  get actions() { return this.taps + this.chars; }
  async tap(selector) { await this.page.click(selector); this.taps += 1; }
  async type(selector, text) {
    await this.page.click(selector); this.taps += 1;
    await this.page.fill(selector, text); this.chars += [...text].length;
  }
  async choose(selector, value) { await this.page.selectOption(selector, value); this.taps += 2; }
  async files(selector, file) { await this.page.setInputFiles(selector, file); this.taps += 2; }
}

/**
 * Enrolls a fresh field app as `badge` (the demo's community officer 061201
 * unless told) with its `password` (the demo's unless told), with `pin`;
 * ends on the home screen.
 */
export async function enroll(page, serverUrl, { badge = '061201', password = 'beatbook-demo', pin = '246810' } = {}) {
  await page.waitForSelector('#badge', { timeout: 60000 });
  await page.fill('#server', serverUrl);
  await page.fill('#badge', badge);
  await page.fill('#password', password);
  await page.click('#next');
  await page.fill('#pin', pin);
  await page.fill('#pin2', pin);
  await page.click('#next');
  await page.waitForSelector('#sync', { timeout: 120000 });
}

/** Back to the field app's home screen, from wherever it is. */
export async function home(page) {
  for (let i = 0; i < 10 && (await page.locator('#back').count()); i++) {
    await page.locator('#back').click({ timeout: 2000 }).catch(() => {});
    await page.waitForTimeout(150); // let the app apply the update
  }
  await page.waitForSelector('#sync');
}

/** A valid GB 11643 ID number from its first 17 digits. */
export function citizenId(first17) {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...first17].reduce((s, d, i) => s + Number(d) * w[i], 0);
  return first17 + '10X98765432'[sum % 11];
}

/** The household a visit records: head, spouse and child. */
export const residents = [
  { name: '陆建华', id: citizenId('32061419780312031'), relation: 'head', phone: '13962870011' },
  { name: '施美琴', id: citizenId('32061419800725042'), relation: 'spouse', phone: '13962870012' },
  { name: '陆晨阳', id: citizenId('32061420080916053'), relation: 'child', phone: '' },
];

/**
 * A standard address of the demo district with no house recorded yet, as its
 * label in the address picker; the app is left on the home screen.
 */
export async function findFreeAddress(page) {
  for (const q of ['1号', '2号', '3号', '5号', '6号', '8号', '9号']) {
    await page.click('#visit');
    await page.fill('#address-search', q);
    const labels = await page.locator('#address-results li').allInnerTexts();
    for (const label of labels) {
      await page.fill('#address-search', label);
      await page.locator('#address-results li', { hasText: label }).first().click();
      await page.waitForSelector('#visit-address');
      if (await page.locator('#new-house').count()) {
        await home(page);
        return label;
      }
      await page.click('#back');
    }
    await home(page);
  }
  throw new Error('no free address in the demo district');
}

/**
 * A household visit from the home screen at the address `label` (from
 * findFreeAddress), by `op` (an Operator, so the actions are counted): the
 * road and door number typed into the address picker as an officer would,
 * a new house (owner-occupied, the head as owner) and each of `people` as a
 * resident — names and ID numbers typed, or with `cards` (ID number → photo
 * of the card) read off the card. Ends on the visit screen with the residents listed; returns what
 * was typed into the picker. `shot(name, fullPage)` is called at the screens
 * worth a screenshot.
 */
export async function recordHousehold(op, label, { people = residents, cards, shot = async () => {} } = {}) {
  const page = op.page;
  const query = label.replace(/^.*?社区/, '');
  await op.tap('#visit');
  await op.type('#address-search', query);
  await shot('address-search');
  await op.tap('#address-results li >> nth=0');
  const picked = await page.locator('#visit-address').innerText();
  if (picked !== label) throw new Error(`the picker's first address for "${query}" is ${picked}, not ${label}`);
  await op.tap('#new-house');
  await op.tap('#f-use [data-value="owner_occupied"]');
  await op.type('#f-owner_name', people[0].name);
  await op.type('#f-owner_phone', people[0].phone);
  await shot('house', true);
  await op.tap('#finalize');
  await page.waitForSelector('#add-resident');
  for (const r of people) {
    await op.tap('#add-resident');
    await op.tap(`#f-relation [data-value="${r.relation}"]`);
    await op.tap('#f-category [data-value="registered"]');
    if (cards) {
      // The card photographed instead of typing its name and number.
      await op.files('#scan-card-input', cards.get(r.id));
      await page.waitForSelector('#scan-result', { timeout: 60000 });
      const [name, id] = [await page.inputValue('#f-name'), await page.inputValue('#f-id_number')];
      if (name !== r.name || id !== r.id) throw new Error(`the card read ${name} ${id}, not ${r.name} ${r.id}`);
    } else {
      await op.type('#f-name', r.name);
      await op.type('#f-id_number', r.id);
    }
    if (r.phone) await op.type('#f-phone', r.phone);
    // Derived at once, never typed.
    await page.waitForSelector('#f-gender:not(:has-text("—"))');
    if (r === people[0]) await shot('person', true);
    await op.tap('#finalize');
    await page.waitForSelector('#residents');
  }
  return query;
}
