// Syncing by itself (app/src/ui/sync.rs) in a real browser (liveview) against
// the real server, with the app's interval set to 2 s: a saved record reaches
// the server with no tap on Sync; with the server gone the sync line says the
// app will retry, and the record arrives once the server is back, again with
// no tap; a server that refuses the officer is said plainly and not asked
// again until the officer syncs by hand. The chosen language survives a
// restart of the app.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FieldApp, fieldApp, enroll, home, tmpdir } from './app-harness.mjs';

// Node 18 (Debian's) has no import.meta.dirname.
const here = path.dirname(fileURLToPath(import.meta.url));
const photo = path.join(tmpdir('bb-photo-'), 'hazard.jpg');
fs.copyFileSync(path.resolve(here, '../../demo/assets/hazard.jpg'), photo);

let server, app, ctx, page, close;
before(async () => {
  ({ server, app, ctx, page, close } = await fieldApp({ demo: { addresses: 100, households: 10 }, env: { BEATBOOK_SYNC_EVERY: '2' } }));
});
after(async () => {
  await app?.stop(); // the one started again by the last test
  await close?.();
});

const text = (sel) => page.locator(sel).innerText();

/** Waits until `read()` returns true, polling, or fails saying `what`. */
async function until(what, read, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await read()) return;
    await page.waitForTimeout(250);
  }
  throw new Error(`timed out waiting: ${what}`);
}

/** A hazard with a photo, saved from the home screen. */
async function saveHazard(description) {
  await page.click('#hazard'); // the grid's hazards to follow up
  await page.click('#hazard-new');
  await page.selectOption('#f-category', 'ebike_charging');
  await page.fill('#f-description', description);
  await page.click('#f-severity [data-value="high"]');
  await page.setInputFiles('#f-photos-input', photo);
  await page.waitForSelector('#f-photos .count:has-text("1/")');
  await page.click('#finalize');
  await page.waitForSelector('#sync');
}

test('the first sync and every later one happen without a tap', async () => {
  await enroll(page, server.url);
  // Enrollment pulled nothing yet; the sync by itself does.
  await until('a sync by itself', async () => !(await text('#last-sync')).includes('从未'));
  const before = server.count('hazard');
  await saveHazard('楼梯间堆放杂物，堵塞安全出口');
  await until('the hazard on the server', async () => server.count('hazard') === before + 1);
  await until('the outbox empty', async () => (await text('#outbox-count')) === '0');
  assert.equal(await page.locator('#sync-state').count(), 0, 'nothing to report after a good sync');
});

test('without a server the line says it will retry, and the record arrives once it is back', async () => {
  const before = server.count('hazard');
  await server.stop();
  await saveHazard('消防通道被占用');
  await page.waitForSelector('#sync-state:has-text("将自动重试")', { timeout: 30000 });
  assert.match(await text('#sync-line'), /待上传 1/, 'the waiting record is counted');
  assert.equal(await text('#outbox-count'), '1', 'kept on the phone');
  await page.screenshot({ path: path.resolve(here, '../../docs/screenshots/app-sync-retrying.png') });
  await server.start();
  await until('the hazard on the server', async () => server.count('hazard') === before + 1);
  await until('the line back to normal', async () => (await page.locator('#sync-state').count()) === 0);
  assert.equal(server.count('hazard'), before + 1, 'sent once');
});

test('a server that refuses the officer is said plainly, and only a sync by hand asks again', async () => {
  server.admin(['user', 'disable', '061201']);
  const before = server.count('hazard');
  await saveHazard('电线私拉乱接');
  await page.waitForSelector('#sync-line.refused #sync-state', { timeout: 30000 });
  const refused = await text('#sync-state');
  await page.waitForTimeout(5000); // two intervals: no new attempt changes the line
  assert.equal(await text('#sync-state'), refused, 'not asked again by itself');
  assert.equal(server.count('hazard'), before);

  server.admin(['user', 'enable', '061201']);
  await home(page);
  await page.click('#sync');
  await page.waitForSelector('.notice:has-text("同步完成")', { timeout: 60000 });
  assert.equal(server.count('hazard'), before + 1);
  await until('the line back to normal', async () => (await page.locator('#sync-state').count()) === 0);
});

test('the language chosen is kept when the app starts again', async () => {
  await home(page);
  await page.click('#lang');
  await page.waitForSelector('#sync:has-text("Sync")');
  assert.match(await text('#last-sync'), /Last sync/);
  const dir = app.dir;
  await app.stop();
  app = await FieldApp.start(server.url, dir, { env: { BEATBOOK_SYNC_EVERY: '2' } });
  await page.goto(app.url);
  await page.waitForSelector('#pin');
  assert.equal(await text('#next'), 'Continue', 'the unlock screen speaks English');
});
