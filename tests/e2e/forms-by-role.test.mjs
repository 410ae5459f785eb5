// Forms by role, published live (issues 12.6 and 13.2), in English, in a
// real browser against the real server: the auxiliary officer's field app
// offers no population or housing register (no person, house or unit in
// the form chooser, no "add a resident" or "record the house" at a visited
// address), the community officer's offers them; a form published with
// `beatbook-server form publish` while both apps run appears in the
// auxiliary's chooser after its next sync (it names the auxiliary only),
// is saved there and reaches the server; retired (`form retire`), it leaves
// the chooser after the next sync.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Server, FieldApp, browser, enroll as enrollAs, home as homeOf, tmpdir } from './app-harness.mjs';

let server;
/** Per badge: { app, ctx, page }. */
const phones = {};
const AUXILIARY = '061301';
const OFFICER = '061201';

before(async () => {
  server = await Server.demo();
  for (const badge of [AUXILIARY, OFFICER]) {
    const app = await FieldApp.start(server.url);
    const ctx = await browser();
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(app.url);
    await page.waitForSelector('#badge');
    await page.click('#lang');
    await enrollAs(page, server.url, { badge });
    await sync(page);
    phones[badge] = { app, ctx, page };
  }
});
after(async () => {
  for (const { app, ctx } of Object.values(phones)) {
    await ctx.close();
    await app.stop();
  }
  await server?.stop();
});

async function sync(page) {
  await homeOf(page);
  await page.click('#sync');
  await page.locator('.notice', { hasText: /^Synced: / }).waitFor({ timeout: 60000 });
}

/** The ids of the forms the chooser (Other forms) offers. */
async function chooser(page) {
  await homeOf(page);
  await page.click('#new');
  await page.waitForSelector('#forms');
  const ids = await page.locator('#forms button').evaluateAll((bs) => bs.map((b) => b.id.replace(/^new-/, '')));
  await homeOf(page);
  return ids.sort();
}

/** The visit screen at the first address the picker finds for `query`. */
async function visitFirst(page, query) {
  await homeOf(page);
  await page.click('#visit');
  await page.fill('#address-search', query);
  await page.locator('#address-results li').first().click();
  await page.waitForSelector('#visit-address');
}

test('the auxiliary is offered no register form, the officer is', async () => {
  const aux = phones[AUXILIARY].page;
  const officer = phones[OFFICER].page;
  assert.deepEqual(await chooser(aux), ['dispute', 'hazard', 'visit']);
  const officers = await chooser(officer);
  for (const form of ['address', 'house', 'person', 'unit', 'hazard', 'dispute', 'visit']) {
    assert.ok(officers.includes(form), `${form} in ${officers}`);
  }
  // The home screen's hazard and patrol tiles: both roles may submit them.
  for (const page of [aux, officer]) {
    assert.equal(await page.locator('#hazard').count(), 1);
    assert.equal(await page.locator('#patrol').count(), 1);
  }

  // At an address, the auxiliary records visits, not registers.
  for (const query of ['1号', '2号']) {
    await visitFirst(aux, query);
    for (const action of ['#new-house', '#add-house', '#add-resident', '#new-unit']) {
      assert.equal(await aux.locator(action).count(), 0, `${action} at ${await aux.locator('#visit-address').innerText()}`);
    }
    await visitFirst(officer, query);
    assert.equal(await officer.locator('#new-house, #add-house').count(), 1, 'the officer records houses');
    assert.equal(await officer.locator('#new-unit').count(), 1, 'and units');
  }
  await homeOf(aux);
  await homeOf(officer);
});

test('a form published while the apps run reaches the auxiliary on its next sync; retired, it leaves', async () => {
  const aux = phones[AUXILIARY].page;
  const officer = phones[OFFICER].page;
  const file = path.join(tmpdir('bb-form-'), 'water_meter.json');
  fs.writeFileSync(file, JSON.stringify({
    form_id: 'water_meter', version: 1, roles: ['auxiliary'],
    title: { zh: '水表巡查', en: 'Water meter check' },
    sections: [{ id: 'main', title: { zh: '读数', en: 'Reading' }, fields: [
      { name: 'reading', label: { zh: '读数', en: 'Reading' }, kind: { type: 'integer', min: 0 }, required: true },
    ] }],
  }));
  assert.match(server.admin(['form', 'publish', file]), /published water_meter v1/);
  assert.ok(!(await chooser(aux)).includes('water_meter'), 'not before a sync');

  await sync(aux);
  await sync(officer);
  assert.ok((await chooser(aux)).includes('water_meter'), 'the auxiliary has it after the sync');
  assert.ok(!(await chooser(officer)).includes('water_meter'), 'for the auxiliary only');

  const before = server.count('water_meter');
  await aux.click('#new');
  await aux.click('#new-water_meter');
  await aux.fill('#f-reading', '423');
  await aux.click('#finalize');
  await aux.waitForSelector('#finalize', { state: 'detached' });
  await sync(aux);
  assert.equal(server.count('water_meter'), before + 1, 'accepted by the running server');

  assert.match(server.admin(['form', 'retire', 'water_meter']), /retired water_meter \(v2\)/);
  await sync(aux);
  assert.ok(!(await chooser(aux)).includes('water_meter'), 'gone after the sync');
});
