// Visits that match real places and photos that can be seen and fixed
// (issue 16), in English (the UI's language switched at enrollment), in a
// real browser against the real server: an address with two houses and a
// shop, each visited ("nobody home" and "refused" in one tap each), the
// shop's form opened; a hazard whose wrong photo is seen full size, removed
// and retaken; the repeat-group editor (residents added, an ID number
// deriving gender and birth date, an entry removed); the same hazard edited
// on two phones (the officer and the
// auxiliary officer of the grid), where the officer's phone says its value
// lost, to whom, and re-applies it in one tap. Everything ends on the server
// exactly once. Screenshots of the new screens go to docs/screenshots.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { FieldApp, fieldApp, enroll as enrollAs, home as homeOf, findFreeAddress, tmpdir, citizenId as citizenIdOf } from './app-harness.mjs';

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

const shots = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots');
fs.mkdirSync(shots, { recursive: true });

let server, app, ctx, page, close, other;
before(async () => {
  ({ server, app, ctx, page, close } = await fieldApp());
});
after(async () => {
  await other?.stop();
  await close?.();
});

const home = () => homeOf(page);
const text = (sel) => page.locator(sel).innerText();
const outbox = async (p = page) => Number(await p.locator('#outbox-count').innerText());
const shot = (name, p = page) => p.screenshot({ path: path.join(shots, `app-${name}.png`), fullPage: true });

/** Records per form on the server, from `beatbook-server status`. */
function serverCounts() {
  const counts = {};
  for (const m of server.admin(['status']).matchAll(/^(\w+)\s+\S+\s+(\d+)\s*$/gm)) counts[m[1]] = Number(m[2]);
  return counts;
}

async function sync(p = page) {
  await homeOf(p);
  await p.click('#sync');
  // This sync's own answer, not one the app made by itself.
  await p.locator('.notice', { hasText: /^Synced: / }).waitFor({ timeout: 60000 });
  assert.equal(await outbox(p), 0, 'everything sent');
}

/** Enrolls the app on `p` as `badge`, in English, and syncs. */
async function enroll(p, badge) {
  await p.waitForSelector('#badge');
  await p.click('#lang');
  await enrollAs(p, server.url, { badge });
  await p.waitForSelector('#sync:has-text("Sync")');
  await sync(p);
}

/** Files under `dir`, recursively. */
function files(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : [p];
  });
}

test('enrolled in English', async () => {
  await enroll(page, '061201');
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
  await shot('visit-places');
  await shop.locator('li.row').click();
  await page.waitForSelector('#form-title:has-text("Actual unit")');
  assert.equal(await page.inputValue('#f-name'), '顾记小卖部');
  // The small-venue sweep starts from the shop: a hazard there is filled in.
  await page.click('#back');
  await page.locator('#units li.venue', { hasText: '顾记小卖部' }).locator('button.hazard-here').click();
  await page.waitForSelector('#form-title:has-text("Safety hazard")');
  assert.equal(await page.inputValue('#f-category'), 'nine_small_venues');
  assert.equal(await page.inputValue('#f-venue_kind'), 'small_shop');
  assert.equal(await page.inputValue('#f-responsible_party'), '顾记小卖部');

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
  await page.click('#hazard'); // the grid's hazards to follow up
  await page.click('#hazard-new');
  await page.selectOption('#f-category', 'ebike_charging');
  await page.fill('#f-description', 'E-bike charging in the stairwell');
  await page.click('#f-severity [data-value="high"]');
  await page.setInputFiles('#f-photos-input', wrong);
  await page.waitForSelector('#f-photos .thumb img');
  const first = await page.locator('#f-photos .thumb').getAttribute('data-sha');
  const thumbWidth = await page.$eval('#f-photos .thumb img', (img) => img.naturalWidth);
  assert.equal(thumbWidth, 192, 'a small copy for the thumbnail');
  await shot('photos');
  for (const f of files(app.dir)) {
    const head = fs.readFileSync(f).subarray(0, 3);
    assert.ok(!head.equals(Buffer.from([0xff, 0xd8, 0xff])), `no plain JPEG on the device: ${f}`);
  }

  // Seen full size, removed there.
  await page.click('#f-photos .thumb .open');
  await page.waitForSelector('#photo-view #photo-full');
  const fullWidth = await page.$eval('#photo-full', (img) => img.naturalWidth);
  assert.equal(fullWidth, 640, 'the whole photo, not the thumbnail');
  await page.screenshot({ path: path.join(shots, 'app-photo-view.png') });
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

test('the repeat-group editor: residents added, derived, removed', async () => {
  await home();
  await page.click('#new');
  await page.click('#new-visit');
  await page.waitForSelector('#form-title:has-text("Visit")');
  await page.click('#f-outcome [data-value="updated"]');
  await page.click('#add-residents');
  await page.waitForSelector('#f-residents-0--name');
  await page.click('#add-residents');
  await page.waitForSelector('#f-residents-1--name');
  assert.equal(await page.locator('.repeat .entry').count(), 2);
  await page.fill('#f-residents-0--name', '顾小芳');
  await page.fill('#f-residents-1--name', '顾国强');
  // A complete ID number derives gender and birth date.
  const id = citizenIdOf('32061419850615013');
  await page.fill('#f-residents-1--id_number', id);
  await page.waitForSelector('#f-residents-1--gender:has-text("Male")');
  assert.match(await text('#f-residents-1--birth_date'), /1985-06-15/);
  assert.doesNotMatch(await text('#f-residents-0--gender'), /Male|Female/, 'derived in its own entry only');
  await page.locator('.repeat .entry').first().locator('button:has-text("Remove")').click();
  await page.waitForFunction(() => document.querySelectorAll('.repeat .entry').length === 1);
  assert.equal(await page.inputValue('#f-residents-0--name'), '顾国强', 'the second resident moved up');
  await page.waitForSelector('#f-residents-0--gender:has-text("Male")');
});

/** Opens the newest hazard in the "Sent" list on `p`. */
async function openHazard(p) {
  await homeOf(p);
  await p.click('#lists');
  await p.click('.tab:has-text("Sent")');
  // The drafts shown first hold a hazard too (the shop's): wait for the Sent list.
  await p.waitForSelector('.tab.on:has-text("Sent")');
  // The hazard may be the other officer's: the grid's list, newest first.
  await p.click('#whose-grid');
  await p.waitForSelector('#whose-grid.on');
  await p.locator('#records li', { hasText: 'Safety hazard' }).first().click();
  await p.waitForSelector('#f-description');
}

async function describe(p, words) {
  await openHazard(p);
  await p.fill('#f-description', words);
  await p.click('#finalize');
  await p.waitForSelector('.notice:has-text("Saved")');
}

test('a value lost to the auxiliary officer is told on the record and re-applied in one tap', async () => {
  other = await FieldApp.start(server.url);
  const second = await ctx.newPage();
  await second.goto(other.url);
  await enroll(second, '061301');
  await openHazard(second);
  assert.equal(await second.inputValue('#f-description'), 'E-bike charging in the stairwell', 'the hazard reached the auxiliary');

  // Both phones edit the description offline; the auxiliary's edit is later and syncs last: it wins.
  const mine = 'Charger cable run through the window';
  const theirs = 'Three e-bikes charging under the stairs';
  await describe(page, mine);
  await new Promise((r) => setTimeout(r, 20));
  await describe(second, theirs);
  await sync(page);
  await sync(second);
  await sync(page);

  // Said on the home screen, and on the record.
  await page.waitForSelector('#lost-values li.row');
  await page.click('#lost-values li.row');
  await page.waitForSelector('#f-description');
  assert.equal(await page.inputValue('#f-description'), theirs, 'the later edit stands');
  const lost = page.locator('.lost[data-field="description"]');
  await lost.waitFor();
  const told = await lost.innerText();
  assert.match(told, /陆晓东/, 'who wrote the winning value');
  assert.ok(told.includes(theirs) && told.includes(mine), told);
  await shot('conflict');

  await page.click('#reapply-description');
  await page.waitForSelector('.notice:has-text("Your value is applied again")');
  assert.equal(await page.locator('.lost').count(), 0, 'told once');
  assert.equal(await page.inputValue('#f-description'), mine);
  await sync(page);
  await sync(second);
  await openHazard(second);
  assert.equal(await second.inputValue('#f-description'), mine, 'the re-applied value reached the other phone');
  assert.equal(await second.locator('.lost').count(), 0, 'nothing lost there: the re-applied value is a new change, not a conflict');
  await openHazard(page);
  assert.equal(await page.locator('.lost').count(), 0, 'not told again after the next sync');
  await homeOf(page);
  assert.equal(await page.locator('#lost-values').count(), 0);
});
