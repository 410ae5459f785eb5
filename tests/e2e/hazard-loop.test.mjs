// The hazard loop (issue 12), in real browsers against the real server:
// officer A's field app reports a hazard with a photo; the supervisor
// approves the report and sets its deadline and responsible party on the
// review pages; auxiliary B's field app (a second device, the same grid)
// finds it among the grid's open hazards with the deadline and rectifies it
// with an after-photo; the supervisor fails the check with a reason; B sees
// it back with the reason and rectifies again; the supervisor verifies it and
// it leaves B's open list; the board shows its history. Both apps sync by
// themselves (every 3 s here); nobody taps Sync.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, browser, home, tmpdir, until, Phones } from './app-harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const shots = path.resolve(process.env.BEATBOOK_SCREENSHOTS ?? path.join(here, '../../docs/screenshots'));
const photo = (name) => {
  const file = path.join(tmpdir('bb-photo-'), name);
  const bytes = fs.readFileSync(path.resolve(here, '../../demo/assets/hazard.jpg'));
  // Each photo its own bytes (the same picture), as each would be.
  fs.writeFileSync(file, Buffer.concat([bytes, Buffer.from(name)]));
  return file;
};

const DESCRIPTION = '五金店门口电动车飞线充电（环路测试）';
const REASON = 'Flying lead still there; no charging point fitted';

let server, ctx, phones;
before(async () => {
  server = await Server.demo();
  ctx = await browser();
  phones = new Phones(server, ctx);
});
after(async () => {
  await ctx?.close();
  await phones?.stop();
  await server?.stop();
});



/** The supervisor's review pages, signed in, in English. */
async function reviewPages() {
  const review = await ctx.newPage();
  await review.goto(`${server.url}/review/hazards?lang=en`);
  if (await review.locator('input[name=badge]').count()) {
    await review.fill('input[name=badge]', '061001');
    await review.fill('input[name=password]', 'beatbook-demo');
    await review.click('button[type=submit]');
    await review.waitForURL(/\/review\//);
  }
  return review;
}

/** The hazard's card on the board, once the server has it (status as shown in English, if given). */
async function card(review, status) {
  const find = () => review.locator('article.hazard', { hasText: DESCRIPTION });
  await until(review, `the hazard on the board${status ? ` as ${status}` : ''}`, async () => {
    await review.goto(`${server.url}/review/hazards?lang=en`);
    const c = find();
    return (await c.count()) === 1 && (!status || (await c.locator('header .meta').innerText()).includes(status));
  });
  return find();
}

/** B's row of the hazard in the open list (home → the hazard tile). */
async function openRow(page) {
  await home(page);
  await page.click('#hazard');
  await page.waitForSelector('#hazard-new');
  return page.locator('#open-hazards li', { hasText: DESCRIPTION });
}

/** B rectifies the open hazard: status, an after-photo, the date; saved. */
async function rectify(page, file) {
  const row = await openRow(page);
  await row.click();
  await page.waitForSelector('#form-title');
  // The hazard itself, not a new one: its report shown, not offered (approved).
  assert.ok((await page.locator('#f-description').innerText()).includes(DESCRIPTION), 'the reported hazard');
  assert.equal(await page.locator('#rectification-only').count(), 1);
  await page.click('#f-status [data-value="rectified"]');
  await page.setInputFiles('#f-after_photos-input', photo(file));
  await page.waitForSelector('#f-after_photos .thumb img');
  await page.fill('#f-rectified_date', new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10));
  await page.click('#finalize');
  await page.waitForSelector('#finalize', { state: 'detached' });
}

test('a hazard goes round the loop: report, deadline, rectified, failed, rectified, verified', async () => {
  const a = await phones.enrolled('061201');
  const b = await phones.enrolled('061301');
  await b.click('#lang'); // the auxiliary reads English

  // A reports it, with a photo, from the hazard tile's list.
  await home(a);
  await a.click('#hazard');
  await a.click('#hazard-new');
  await a.selectOption('#f-category', 'ebike_charging');
  await a.fill('#f-description', DESCRIPTION);
  await a.click('#f-severity [data-value="high"]');
  await a.setInputFiles('#f-photos-input', photo('before.jpg'));
  await a.waitForSelector('#f-photos .thumb img');
  await a.click('#finalize');
  await a.waitForSelector('#finalize', { state: 'detached' });

  // The supervisor approves the report and sets deadline and responsible party.
  const review = await reviewPages();
  let c = await card(review, 'Open');
  const recordUrl = await c.locator('.title a').getAttribute('href');
  await review.goto(`${server.url}${recordUrl}?lang=en`);
  await review.click('button.approve');
  await review.locator('.alert').first().waitFor();
  const deadline = new Date(Date.now() + 8 * 3600e3 + 5 * 86400e3).toISOString().slice(0, 10);
  c = await card(review);
  await c.locator('details.assign summary').click();
  await c.locator('input[name=deadline]').fill(deadline);
  await c.locator('input[name=responsible_party]').fill('王老板（五金店）');
  await c.locator('input[name=responsible_phone]').fill('13800138000');
  await c.locator('form.assign button').click();
  await review.locator('.alert', { hasText: 'Deadline and responsible party saved' }).waitFor();

  // B (the same grid, another phone) has it in the open list with the deadline.
  await until(b, 'the deadline on B\'s open list', async () =>
    (await (await openRow(b)).count()) === 1 && (await (await openRow(b)).innerText()).includes(deadline));
  assert.match(await (await openRow(b)).innerText(), /Open/);
  // Tapping follows it up (an approved report takes its rectification).
  await rectify(b, 'after-1.jpg');

  // The supervisor fails the check, with a reason (one is required).
  c = await card(review, 'Rectified');
  await c.locator('form.verify-fail input[name=reason]').fill(REASON);
  await c.locator('form.verify-fail button').click();
  await review.locator('.alert', { hasText: 'Verification failed' }).waitFor();

  // B sees it back, rectifying, with the reason; rectifies again.
  await until(b, 'the failed check on B\'s phone', async () =>
    (await (await openRow(b)).innerText()).includes(REASON));
  const back = await (await openRow(b)).innerText();
  assert.match(back, /Rectifying/);
  await b.screenshot({ path: path.join(shots, 'app-hazards.png'), fullPage: true });
  await (await openRow(b)).click();
  assert.equal((await b.locator('#verify-reason').innerText()).includes(REASON), true, 'the form says why');
  await home(b);
  await rectify(b, 'after-2.jpg');

  // Verified: it leaves B's open list.
  c = await card(review, 'Rectified');
  await c.locator('form.verify-pass button').click();
  await review.locator('.alert', { hasText: 'Hazard verified' }).waitFor();
  await until(b, 'the verified hazard to leave B\'s open list', async () =>
    (await (await openRow(b)).count()) === 0);

  // The board shows its history: who changed the status when, with the reason.
  c = await card(review, 'Verified');
  const history = await c.locator('ol.hazard-history').innerText();
  for (const text of ['Open', 'Rectified', 'Rectifying', 'Verified', REASON, '陆晓东', '沈国平', deadline]) {
    assert.ok(history.includes(text), `the history shows ${text}:\n${history}`);
  }
  assert.equal(await c.locator('ol.hazard-history li[data-status=rectified]').count(), 2, 'rectified twice');
  await c.screenshot({ path: path.join(shots, 'review-hazard-history.png') });
  await review.close();
});
