// The map (issue 12) in a real browser, against the real sync server over
// the demo district: the field app (liveview, in English) draws its grid
// from the records on the device — addresses, houses and open hazards as
// features the test reads back from MapLibre, the officer's position — a
// tap on a hazard opens that hazard, and "near me" lists hazards nearest
// first; the supervisor's station map draws hazards and a click leads to
// the record's page. Screenshots: docs/screenshots/map-phone.png and
// map-review.png (or $BEATBOOK_SCREENSHOTS).
//
// MapLibre draws with WebGL: headless Chromium falls back to its software
// renderer (SwiftShader) with the harness's flags, no GPU needed.
// Run by scripts/e2e.sh, which installs the renderer (scripts/map-assets.sh).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import zlib from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fieldApp, FieldApp, enroll, home, tmpdir, desktop } from './app-harness.mjs';

// Node 18 (Debian's) has no import.meta.dirname.
const here = path.dirname(fileURLToPath(import.meta.url));
const shots = path.resolve(process.env.BEATBOOK_SCREENSHOTS ?? path.join(here, '../../docs/screenshots'));
fs.mkdirSync(shots, { recursive: true });

/** CRC-32 of PNG chunks (Node 18 has no zlib.crc32). */
function crc32(bytes) {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A 256×256 PNG of one colour. */
function png([r, g, b]) {
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])));
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(256, 0); ihdr.writeUInt32BE(256, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: 256 }, () => [r, g, b]).flat())]);
  const idat = zlib.deflateSync(Buffer.concat(Array(256).fill(row)));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * The smallest raster PMTiles v3 basemap: one PNG tile at zoom 0 (the whole
 * world), no compression — what an admin's real basemap is, in miniature.
 */
function tinyPmtiles(tile) {
  const dir = Buffer.from([1, 0, 1, ...varint(tile.length), 1]); // one entry: tile 0, run 1, length, offset 0 (+1)
  const meta = Buffer.from('{}');
  const h = Buffer.alloc(127);
  h.write('PMTiles', 0, 'latin1'); h[7] = 3;
  const at = [127, dir.length, 127 + dir.length, meta.length, 127 + dir.length + meta.length, 0,
    127 + dir.length + meta.length, tile.length, 1, 1, 1];
  at.forEach((v, i) => h.writeBigUInt64LE(BigInt(v), 8 + i * 8));
  h.set([1, 1, 1, 2, 0, 0], 96); // clustered; no compression inside or of tiles; PNG; zoom 0..0
  [-1800000000, -850000000, 1800000000, 850000000].forEach((v, i) => h.writeInt32LE(v, 102 + i * 4));
  return Buffer.concat([h, dir, meta, tile]);
}

function varint(n) {
  const out = [];
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
  out.push(n);
  return out;
}

const basemap = path.join(tmpdir('bb-basemap-'), 'basemap.pmtiles');
fs.writeFileSync(basemap, tinyPmtiles(png([242, 239, 233])));

let server, ctx, page, close;
before(async () => {
  ({ server, ctx, page, close } = await fieldApp({ env: { BEATBOOK_BASEMAP: basemap } }));
});
after(async () => {
  await close?.();
});

/** The distinct features of each layer, as the map holds them. */
function features(p, layers) {
  return p.evaluate((layers) => {
    const m = window.beatbookMap;
    const out = {};
    for (const id of layers) {
      const seen = new Map();
      for (const f of m.querySourceFeatures(id)) seen.set(f.properties.id, { id: f.properties.id, status: f.properties.status, coordinates: f.geometry.coordinates });
      out[id] = [...seen.values()];
    }
    return out;
  }, layers);
}

/** The distances ("420 m", "1.2 km") listed at `selector`, in metres. */
async function metres(p, selector) {
  return (await p.locator(selector).allInnerTexts()).map((t) => {
    const [, n, unit] = t.match(/([\d.]+) (m|km)/);
    return Number(n) * (unit === 'km' ? 1000 : 1);
  });
}

/**
 * Centres the map on the first of `candidates` ({id, coordinates}) that no
 * other feature covers where it is drawn, and clicks it; returns it.
 */
async function clickFeature(p, candidates) {
  for (const c of candidates) {
    const at = await p.evaluate(async (c) => {
      const m = window.beatbookMap;
      await new Promise((r) => { m.once('idle', r); m.jumpTo({ center: c, zoom: 17 }); });
      const pt = m.project(c);
      const top = m.queryRenderedFeatures([[pt.x - 12, pt.y - 12], [pt.x + 12, pt.y + 12]]).find((f) => f.properties.id);
      const r = m.getCanvas().getBoundingClientRect();
      return { x: r.left + pt.x, y: r.top + pt.y, top: top?.properties.id };
    }, c.coordinates);
    if (at.top !== c.id) continue;
    await p.mouse.click(at.x, at.y);
    return c;
  }
  throw new Error('every feature is covered by another');
}

test('the phone map draws the grid from the device and a tap opens the hazard', { timeout: 5 * 60 * 1000 }, async () => {
  await enroll(page, server.url);
  await page.click('#sync');
  await page.waitForSelector('.notice:not(:has-text("正在同步"))', { timeout: 60000 });
  assert.match(await page.locator('.notice').innerText(), /同步完成/);
  await page.click('#lang');
  await page.waitForSelector('#sync:has-text("Sync")');

  await page.click('#map');
  await page.waitForSelector('#map[data-ready="true"]', { timeout: 60000 });
  const drawn = await features(page, ['addresses', 'houses', 'hazards', 'outline']);
  // The legend's counts come from the core's layers; the map holds the same.
  for (const [layer, label] of [['addresses', 'Addresses'], ['houses', 'Houses'], ['hazards', 'Open hazards']]) {
    const legend = await page.locator('.legend li', { hasText: label }).innerText();
    const n = Number(legend.match(/(\d+)/)?.[1]);
    assert.ok(n > 0, `the grid has ${label.toLowerCase()}: ${legend}`);
    assert.equal(drawn[layer].length, n, `${layer} on the map`);
  }
  assert.ok(drawn.hazards.every((h) => ['open', 'rectifying'].includes(h.status)), 'only unfinished hazards');
  assert.ok(drawn.outline.length + (await page.evaluate(() => window.beatbookMap.querySourceFeatures('outline').length)) >= 1, "the grid's outline is drawn");
  const me = await page.evaluate(() => window.beatbookMap.querySourceFeatures('me').map((f) => f.geometry.coordinates));
  // Source features come back from vector tiles: within a few centimetres.
  assert.ok(Math.abs(me[0][0] - 121.17) < 1e-5 && Math.abs(me[0][1] - 31.87) < 1e-5, `the officer's position (the app's --fix): ${me[0]}`);
  // The admin's basemap is drawn under the data: its header read through
  // the PMTiles reader (zoom 0 only), its tile loaded.
  const base = await page.evaluate(() => ({ maxzoom: window.beatbookMap.getSource('basemap')?.maxzoom, loaded: window.beatbookMap.isSourceLoaded('basemap') }));
  assert.deepEqual(base, { maxzoom: 0, loaded: true });
  await page.screenshot({ path: path.join(shots, 'map-phone.png') });

  // Near me: hazards, nearest first.
  const distances = await metres(page, '#near li .note');
  assert.ok(distances.length > 0, 'near me lists hazards');
  assert.deepEqual(distances, [...distances].sort((a, b) => a - b), 'nearest first');
  await page.click('#near-houses');
  await page.waitForSelector('#near-houses.on');
  assert.ok((await page.locator('#near li').count()) > 0, 'near me lists houses');

  // A tap on a hazard opens that hazard.
  const hazard = await clickFeature(page, drawn.hazards);
  await page.waitForSelector(`.form-head[data-record="${hazard.id}"]`, { timeout: 15000 });
  assert.equal(await page.locator('#form-title').innerText(), 'Safety hazard');

  // Finding a house starts from the houses nearest the officer.
  await home(page);
  await page.click('#search');
  await page.waitForSelector('#near-houses-title');
  const houses = await metres(page, '#search-results li .note');
  assert.ok(houses.length > 0, 'houses near the officer');
  assert.deepEqual(houses, [...houses].sort((a, b) => a - b), 'nearest first');

  // The map is reachable from the lists too.
  await home(page);
  await page.click('#lists');
  await page.click('#list-map');
  await page.waitForSelector('#map[data-ready="true"]', { timeout: 60000 });
});

test('without the renderer the map says what to run, and the app works', { timeout: 5 * 60 * 1000 }, async () => {
  const app = await FieldApp.start(server.url, undefined, { env: { BEATBOOK_MAP_ASSETS: tmpdir('bb-no-map-') } });
  const p = await ctx.newPage();
  try {
    await p.goto(app.url);
    await enroll(p, server.url);
    await p.click('#map');
    const missing = await p.locator('#map-missing').innerText();
    assert.match(missing, /scripts\/map-assets\.sh/);
    assert.equal(await p.locator('#map').count(), 0);
    assert.ok((await p.locator('#near li, #near-no-fix, .empty').count()) > 0, 'near me still answers');
  } finally {
    await p.close();
    await app.stop();
  }
});

test("the station's map on the review pages: hazards, and a click opens the record", { timeout: 5 * 60 * 1000 }, async () => {
  const context = await desktop();
  try {
    const p = context.pages()[0] ?? (await context.newPage());
    const errors = [];
    p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await p.goto(`${server.url}/review/map`);
    assert.match(p.url(), /\/review\/login\?next=/, 'signed-in readers only');
    await p.fill('input[name=badge]', '061001');
    await p.fill('input[name=password]', 'beatbook-demo');
    await p.click('button[type=submit]');
    await p.waitForURL(/\/review\/map$/);
    await p.waitForSelector('#map[data-ready="true"]', { timeout: 60000 });
    assert.equal(await p.locator('h1').innerText(), '辖区地图');
    const drawn = await features(p, ['hazards']);
    const counted = Number(await p.locator('#count-hazards').innerText());
    assert.ok(counted > 0, 'the station has hazards');
    assert.equal(drawn.hazards.length, counted, 'every hazard is on the map');
    assert.ok(new Set(drawn.hazards.map((h) => h.status)).size > 1, 'hazards of several statuses');
    await p.screenshot({ path: path.join(shots, 'map-review.png') });
    assert.deepEqual(errors.filter((e) => /Content Security Policy|Refused/.test(e)), [], 'nothing refused by the page policy');

    const hazard = await clickFeature(p, drawn.hazards);
    await p.waitForURL(new RegExp(`/review/records/${hazard.id}$`), { timeout: 15000 });

    await p.goto(`${server.url}/review/map?lang=en`);
    assert.equal(await p.locator('h1').innerText(), 'Station map');
  } finally {
    await context.close();
  }
});
