// QR enrollment in real browsers: the supervisor opens "Enroll a device" on
// the review pages and makes a code for an officer; the test photographs the
// QR code off the screen (a screenshot of the image as the page shows it);
// the field app (liveview) is given that picture on its enrollment screen,
// reads it on the device, and — after the officer sets a PIN — ends enrolled
// on its home screen without an address or password typed. A second phone
// given the same picture is told the code was already used.
//
// Run by scripts/e2e.sh (every tests/e2e/*.test.mjs), which builds the server and the app first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { FieldApp, fieldApp, tmpdir } from './app-harness.mjs';

const shots = path.resolve(process.env.BEATBOOK_SCREENSHOTS ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots'));
const SUPERVISOR = '061001';
const OFFICER = '061201';
const PASSWORD = 'beatbook-demo';
const PIN = '246810';

/** Gives the enrollment screen the picture, then sets the PIN. */
async function scanAndSetPin(page, picture) {
  await page.waitForSelector('#scan-enroll-input', { state: 'attached', timeout: 60000 });
  await page.setInputFiles('#scan-enroll-input', picture);
  await page.waitForSelector('#pin2', { timeout: 60000 });
  await page.fill('#pin', PIN);
  await page.fill('#pin2', PIN);
  await page.click('#next');
}

test('a phone enrolls from the QR code on the supervisor\'s page, once', { timeout: 10 * 60 * 1000 }, async () => {
  const { server, ctx, page, close } = await fieldApp({ demo: { addresses: 100, households: 10 } });
  let second;
  try {
    const review = await ctx.newPage();
    review.setDefaultTimeout(30000);
    await review.goto(`${server.url}/review/login?next=/review/enroll`);
    await review.fill('input[name=badge]', SUPERVISOR);
    await review.fill('input[name=password]', PASSWORD);
    await review.click('button[type=submit]');
    await review.click(`tr[data-badge="${OFFICER}"] button[type=submit]`);
    await review.waitForSelector('#enroll-qr');
    await review.screenshot({ path: path.join(shots, 'review-enroll.png') });
    assert.match(await review.locator('#enroll-code').innerText(), /^[0-9a-f]{4}(-[0-9a-f]{4}){7}$/);
    assert.match(await review.locator('#enroll-expires').innerText(), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
    const picture = path.join(tmpdir('bb-qr-'), 'enroll-qr.png');
    await review.locator('#enroll-qr').screenshot({ path: picture });

    // The officer's phone: the picture instead of address, badge and password.
    await scanAndSetPin(page, picture);
    await page.waitForSelector('#sync', { timeout: 120000 });

    // Another phone, in English, with the same picture: the code is spent.
    second = await FieldApp.start(server.url);
    const other = await ctx.newPage();
    await other.goto(second.url);
    await other.waitForSelector('#lang', { timeout: 60000 });
    await other.click('#lang');
    await other.waitForSelector('text=Scan enrollment code');
    await scanAndSetPin(other, picture);
    const error = other.locator('.error[role=alert]');
    await error.waitFor({ timeout: 60000 });
    assert.match(await error.innerText(), /already used/);
    assert.equal(await other.locator('#sync').count(), 0, 'not enrolled');
  } finally {
    await second?.stop();
    await close();
  }
});
