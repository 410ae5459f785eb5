// Wrong PINs in a real browser (liveview): from the third in a row the
// unlock screen counts down before the next try, in Chinese and English,
// and the PIN cannot be sent meanwhile. No server needed: the device is
// made by the command line with its PIN, then opened in the browser.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { FieldApp, browser, tmpdir, bin } from './app-harness.mjs';

let app, ctx, page;
before(async () => {
  const dir = tmpdir('bb-device-');
  execFileSync(bin('beatbook-app'), ['--dir', dir, '--insecure-fast-keys', 'status'], { env: { ...process.env, BEATBOOK_PIN: '246810' }, stdio: 'ignore' });
  app = await FieldApp.start('http://127.0.0.1:9', dir);
  ctx = await browser();
  page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(app.url);
});
after(async () => {
  await ctx?.close();
  await app?.stop();
});

/** Sends a wrong PIN and waits for the answer that says `expected`. */
async function wrongPin(expected) {
  await page.fill('#pin', '135790');
  await page.click('#next');
  await page.waitForSelector(`.error:has-text("${expected}")`);
}

test('the third wrong PIN starts a countdown before the next try', async () => {
  await page.waitForSelector('#pin');
  await wrongPin('再错 9 次');
  await wrongPin('再错 8 次');
  await wrongPin('再错 7 次');
  await page.waitForSelector('#pin-wait');
  const first = Number((await page.locator('#pin-wait').innerText()).match(/(\d+) 秒/)[1]);
  assert.ok(first > 20 && first <= 30, `countdown from ${first}`);
  assert.equal(await page.locator('#next').isDisabled(), true, 'no PIN can be sent while waiting');
  await page.waitForTimeout(2500);
  const later = Number((await page.locator('#pin-wait').innerText()).match(/(\d+) 秒/)[1]);
  assert.ok(later < first, `counts down: ${first} → ${later}`);
  await page.click('#lang');
  await page.waitForSelector('#pin-wait:has-text("Enter the PIN again in")');
  assert.match(await page.locator('#pin-wait').innerText(), /Enter the PIN again in \d+ s/);
});
