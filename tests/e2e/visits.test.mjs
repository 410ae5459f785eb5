// Visits that match real places and photos that can be seen and fixed
// (issue 16), in English (the UI's language switched at enrollment), in a
// real browser against the real server: an address with two houses and a
// shop, each visited ("nobody home" and "refused" in one tap each), the
// shop's form opened; a hazard whose wrong photo is seen full size, removed
// and retaken. Everything ends on the server exactly once.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Server, FieldApp, browser, home as homeOf, findFreeAddress, tmpdir } from './app-harness.mjs';

/**
 * A camera-sized photo (a PNG the app turns into its JPEG), `shade` telling
 * two apart: the demo's photos are thumbnails already.
 */
function photoFile(name, shade, width = 640, height = 480) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const sum = Buffer.alloc(4); sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0); header.writeUInt32BE(height, 4);
  header[8] = 8; header[9] = 2; // 8-bit RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = y * (width * 3 + 1) + 1 + x * 3;
      rows[at] = (x * 255) / width; rows[at + 1] = (y * 255) / height; rows[at + 2] = shade;
    }
  }
  const file = path.join(tmpdir('bb-photo-'), name);
  fs.writeFileSync(file, Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(rows)), chunk('IEND', Buffer.alloc(0)),
  ]));
  return file;
}

let server, app, ctx, page;
before(async () => {
  server = await Server.demo();
  app = await FieldApp.start(server.url);
  ctx = await browser();
  page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(app.url);
});
after(async () => {
  await ctx?.close();
  await app?.stop();
  await server?.stop();
});

const home = () => homeOf(page);
const text = (sel) => page.locator(sel).innerText();
const outbox = async () => Number(await text('#outbox-count'));

/** Records per form on the server, from `beatbook-server status`. */
function serverCounts() {
  const counts = {};
  for (const m of server.admin(['status']).matchAll(/^(\w+)\s+\S+\s+(\d+)\s*$/gm)) counts[m[1]] = Number(m[2]);
  return counts;
}

async function sync() {
  await home();
  await page.click('#sync');
  await page.waitForSelector('.notice:has-text("Synced")', { timeout: 60000 });
  assert.equal(await outbox(), 0, 'everything sent');
}

/** Files under `dir`, recursively. */
function files(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : [p];
  });
}

test('enrolled in English', async () => {
  await page.waitForSelector('#badge');
  await page.click('#lang');
  await page.fill('#server', server.url);
  await page.fill('#badge', '061201');
  await page.fill('#password', 'beatbook-demo');
  await page.click('#next');
  await page.fill('#pin', '246810');
  await page.fill('#pin2', '246810');
  await page.click('#next');
  await page.waitForSelector('#sync:has-text("Sync")');
  await sync();
});

test('an address with two houses and a shop: each visited, nobody home and refused in one tap', async () => {
  const before = serverCounts();
  const label = await findFreeAddress(page);
  const queued = await outbox();
  await page.click('#visit');
  await page.fill('#address-search', label);
  await page.locator('#address-results li').first().click();
  await page.waitForSelector('#visit-address');
  assert.equal(await page.locator('#units li').count(), 0);
  // The first house, then a second one at the same address.
  await page.click('#new-house');
  await page.click('#f-use [data-value="owner_occupied"]');
  await page.fill('#f-owner_name', '顾国平');
  await page.click('#finalize');
  await page.waitForSelector('#add-house');
  assert.equal(await page.locator('#houses').count(), 0, 'one house: no choice to make');
  await page.click('#add-house');
  await page.click('#f-use [data-value="rented"]');
  await page.fill('#f-owner_name', '沈玉兰');
  await page.fill('#f-tenant_count', '2');
  await page.click('#finalize');
  await page.waitForSelector('#houses');
  assert.equal(await page.locator('#houses li').count(), 2, 'both houses offered');

  // Nobody home at the second house: one tap.
  await page.locator('#houses li', { hasText: '沈玉兰' }).click();
  assert.match(await text('#house'), /沈玉兰/);
  await page.click('#nobody-home');
  await page.waitForSelector('.notice:has-text("Visit recorded: nobody home")');
  // Nothing changed at the first.
  await page.click('#other-house');
  await page.locator('#houses li', { hasText: '顾国平' }).click();
  await page.click('#unchanged');
  await page.waitForSelector('.notice:has-text("Visit recorded: nothing changed")');

  // A shop at the address: recorded, visited (refused, one tap), its form opened.
  await page.click('#new-unit');
  await page.fill('#f-name', '顾记小卖部');
  await page.selectOption('#f-category', 'small_shop');
  await page.fill('#f-legal_rep_name', '顾国平');
  await page.click('#f-has_dormitory [data-value="no"]');
  await page.click('#finalize');
  await page.waitForSelector('#units li.venue');
  const shop = page.locator('#units li.venue', { hasText: '顾记小卖部' });
  await shop.locator('button.refused').click();
  await page.waitForSelector('.notice:has-text("Visit recorded: refused")');
  await shop.locator('li.row').click();
  await page.waitForSelector('#form-title:has-text("Actual unit")');
  assert.equal(await page.inputValue('#f-name'), '顾记小卖部');

  await home();
  assert.equal(await outbox(), queued + 6, 'two houses, a shop and three visits (one per tap) queued');
  await sync();
  const now = serverCounts();
  assert.equal(now.visit - (before.visit ?? 0), 3, 'three visits on the server, once each');
  assert.equal(now.house - (before.house ?? 0), 2);
  assert.equal(now.unit - (before.unit ?? 0), 1);
});

test('a wrong photo seen full size, removed and retaken', async () => {
  const before = serverCounts();
  const wrong = photoFile('wrong.png', 40);
  const right = photoFile('right.png', 200);
  await home();
  await page.click('#hazard');
  await page.selectOption('#f-category', 'ebike_charging');
  await page.fill('#f-description', 'E-bike charging in the stairwell');
  await page.click('#f-severity [data-value="high"]');
  await page.setInputFiles('#f-photos-input', wrong);
  await page.waitForSelector('#f-photos .thumb img');
  const first = await page.locator('#f-photos .thumb').getAttribute('data-sha');
  const thumbWidth = await page.$eval('#f-photos .thumb img', (img) => img.naturalWidth);
  assert.equal(thumbWidth, 192, 'a small copy for the thumbnail');
  for (const f of files(app.dir)) {
    const head = fs.readFileSync(f).subarray(0, 3);
    assert.ok(!head.equals(Buffer.from([0xff, 0xd8, 0xff])), `no plain JPEG on the device: ${f}`);
  }

  // Seen full size, removed there.
  await page.click('#f-photos .thumb .open');
  await page.waitForSelector('#photo-view #photo-full');
  const fullWidth = await page.$eval('#photo-full', (img) => img.naturalWidth);
  assert.equal(fullWidth, 640, 'the whole photo, not the thumbnail');
  await page.click('#photo-remove');
  await page.waitForSelector('#photo-view', { state: 'detached' });
  assert.equal(await page.locator('#f-photos .thumb').count(), 0);
  assert.match(await text('#f-photos .count'), /^0 of/);

  // Retaken; a second shot removed with its ✕.
  await page.setInputFiles('#f-photos-input', right);
  await page.waitForSelector('#f-photos .thumb img');
  const retaken = await page.locator('#f-photos .thumb').getAttribute('data-sha');
  assert.notEqual(retaken, first, 'the new photo');
  await page.setInputFiles('#f-photos-input', wrong);
  await page.waitForSelector('#f-photos .thumb >> nth=1');
  await page.click(`#f-photos .thumb[data-sha="${first}"] .remove`);
  await page.waitForSelector(`#f-photos .thumb[data-sha="${first}"]`, { state: 'detached' });
  assert.deepEqual(await page.locator('#f-photos .thumb').evaluateAll((t) => t.map((e) => e.dataset.sha)), [retaken]);

  await page.click('#finalize');
  await page.waitForSelector('#sync');
  await sync();
  assert.equal(serverCounts().hazard - (before.hazard ?? 0), 1, 'the hazard on the server, once');
});
