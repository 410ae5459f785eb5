// The field app's pick lists and lists in a real browser (liveview over
// loopback, in English), against the real sync server with a demo district:
// a resident's house picked by its owner's pinyin initials from the house
// just recorded, a draft discarded after a confirmation (and a queued record
// that offers no discard), and the sent list as mine or the grid's, paged.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fieldApp, enroll, Operator, home as homeOf, residents, findFreeAddress, recordHousehold } from './app-harness.mjs';

// Node 18 (Debian's) has no import.meta.dirname.
const here = path.dirname(fileURLToPath(import.meta.url));
const shots = path.resolve(here, '../../docs/screenshots');
fs.mkdirSync(shots, { recursive: true });

let server, app, ctx, page, close;
before(async () => {
  ({ server, app, ctx, page, close } = await fieldApp());
});
after(async () => {
  await close?.();
});

const home = () => homeOf(page);
const shot = (name) => page.screenshot({ path: path.join(shots, `app-${name}.png`) });
const text = (sel) => page.locator(sel).innerText();

/** A new record of `form` from "Other forms". */
async function newRecord(form) {
  await home();
  await page.click('#new');
  await page.click(`#new-${form}`);
  await page.waitForSelector('#finalize');
}

test('enrolled, synced, in English', async () => {
  await enroll(page, server.url);
  await page.click('#sync');
  await page.waitForSelector('.notice:not(:has-text("正在同步"))', { timeout: 60000 });
  assert.match(await text('.notice'), /同步完成/);
  await page.click('#lang');
  await page.waitForSelector('#sync:has-text("Sync")');
});

test("a resident's house is picked by its owner's pinyin initials", async () => {
  // A house of 陆建华 (initials ljh) at a free address, recorded just now:
  // the pick list has it without a restart or a sync.
  const label = await findFreeAddress(page);
  await recordHousehold(new Operator(page), label, { people: [residents[0]] });
  const address = await text('#visit-address');

  await newRecord('person');
  await page.click('#f-house-pick');
  await page.fill('#house-search', 'ljh');
  await page.waitForSelector('#house-results li');
  const hits = await page.locator('#house-results li').allInnerTexts();
  await shot('house-picker');
  const ours = hits.findIndex((h) => h.includes(residents[0].name) && h.startsWith(address));
  assert.ok(ours >= 0, `"ljh" lists ${address} ${residents[0].name}: ${JSON.stringify(hits)}`);
  // Door numbers narrow it: initials and the door together.
  const door = address.match(/(\d+)号/)?.[1];
  await page.fill('#house-search', `ljh ${door}`);
  await page.waitForSelector(`#house-results li:has-text("${residents[0].name}")`);
  await page.locator('#house-results li', { hasText: residents[0].name }).first().click();
  await page.waitForSelector('#house-results', { state: 'detached' });
  assert.equal(await text('#f-house .ref-label'), `${address} ${residents[0].name}`);

  const r = residents[1];
  await page.click('#f-relation [data-value="spouse"]');
  await page.click('#f-category [data-value="registered"]');
  await page.fill('#f-name', r.name);
  await page.fill('#f-id_number', r.id);
  await page.fill('#f-phone', r.phone);
  await page.waitForSelector('#f-gender:not(:has-text("—"))');
  await page.click('#finalize');
  await page.waitForSelector('.notice:has-text("Saved")');

  // The resident lives at the house picked: the visit screen lists her there.
  await home();
  await page.click('#visit');
  await page.fill('#address-search', address);
  await page.locator('#address-results li').first().click();
  await page.waitForSelector('#residents');
  assert.deepEqual(
    (await page.locator('#residents li .label').allInnerTexts()).map((l) => l.split(' · ')[0]).sort(),
    [residents[0].name, r.name].sort(),
  );
  // And the people's pick list finds her by the last digits of her ID number.
  await newRecord('dispute');
  await page.click('#pick-parties');
  await page.fill('#person-search', r.id.slice(-4));
  await page.locator('#person-results li', { hasText: r.name }).first().click();
  assert.equal(await page.inputValue('#f-parties-0--name'), r.name);
  assert.equal(await page.inputValue('#f-parties-0--id_number'), r.id);
});

test('a draft is discarded only after a confirmation; a queued record offers none', async () => {
  await newRecord('person');
  await page.fill('#f-name', '丢弃测试');
  await home();
  await page.click('#lists');
  await page.waitForSelector('#records li:has-text("丢弃测试")');
  await page.locator('#records li', { hasText: '丢弃测试' }).click();

  await page.click('#discard');
  await page.waitForSelector('#discard-confirm');
  assert.match(await text('#discard-confirm'), /Discard this draft\?/);
  await page.locator('#discard-confirm').scrollIntoViewIfNeeded();
  await shot('discard');
  await page.click('#discard-no');
  await page.waitForSelector('#discard-confirm', { state: 'detached' });
  assert.equal(await page.inputValue('#f-name'), '丢弃测试', 'kept');

  await page.click('#discard');
  await page.click('#discard-yes');
  await page.waitForSelector('.notice:has-text("Draft discarded")');
  await home();
  await page.click('#lists');
  await page.waitForSelector('.tab.on:has-text("Drafts")');
  assert.equal(await page.locator('#records li', { hasText: '丢弃测试' }).count(), 0, 'gone from the drafts');

  // The resident saved above waits to sync: it opens without a discard.
  await page.click('.tab:has-text("To sync")');
  await page.locator('#records li', { hasText: residents[1].name }).click();
  await page.waitForSelector('#finalize');
  assert.equal(await page.locator('#discard').count(), 0);
});

/** Every row of the list on screen, turning its pages from the first to the last. */
async function allRows() {
  const rows = [];
  for (let n = 1; ; n++) {
    await page.waitForSelector(`#page-number:has-text("Page ${n}"), #records:not(:has(+ .pager))`);
    rows.push(...(await page.locator('#records li').allInnerTexts()));
    if (!(await page.locator('#page-next:not([disabled])').count())) return rows;
    await page.click('#page-next');
  }
}

test("the sent list shows mine or the grid's, a page at a time", async () => {
  await home();
  await page.click('#sync');
  await page.waitForSelector('.notice:has-text("Synced")', { timeout: 60000 });
  await page.click('#lists');
  await page.click('.tab:has-text("Sent")');
  await page.waitForSelector('#whose-mine.on');
  const mine = await allRows();
  assert.ok(mine.some((row) => row.includes(residents[1].name)), 'the resident I recorded is mine');

  await page.click('#whose-grid');
  await page.waitForSelector('#whose-grid.on');
  assert.equal(await page.locator('#records li').count(), 50, 'a page is 50 rows');
  const first = await page.locator('#records li').allInnerTexts();
  await page.click('#page-next');
  await page.waitForSelector('#page-number:has-text("Page 2")');
  assert.notDeepEqual(await page.locator('#records li').allInnerTexts(), first);
  await page.click('#page-previous');
  await page.waitForSelector('#page-number:has-text("Page 1")');
  const grid = await allRows();
  assert.ok(grid.length > mine.length, `the grid's ${grid.length} rows hold more than my ${mine.length}`);
  for (const row of new Set(mine)) assert.ok(grid.includes(row), `mine are the grid's too: ${row}`);
});
