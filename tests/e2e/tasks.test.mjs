// Tasks that flow down (issue 12), in a real browser against the real
// server: the supervisor picks a group-rented house not visited in 90 days
// on the review pages and assigns its visit to the community officer; the
// field app (liveview) syncs and shows the task on its home screen; tapped,
// it opens the visit on that house; the visit is saved and synced, and the
// supervisor's progress board shows the task done.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, FieldApp, browser, enroll, home, until } from './app-harness.mjs';

const OFFICER = '061201';
const SUPERVISOR = '061001';
const PASSWORD = 'beatbook-demo';
const shots = path.resolve(process.env.BEATBOOK_SCREENSHOTS ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots'));
fs.mkdirSync(shots, { recursive: true });

let server, ctx, app;
before(async () => {
  server = await Server.demo();
  ctx = await browser();
});
after(async () => {
  await ctx?.close();
  await app?.stop();
  await server?.stop();
});


/** Syncs by hand and waits until the sync is over. */
async function syncNow(page) {
  await home(page);
  await page.click('#sync');
  await page.waitForSelector('#sync:not([disabled])', { timeout: 120000 });
}

test('a supervisor assigns a house visit, the officer does it, the board shows it done', { timeout: 15 * 60 * 1000 }, async () => {
  // The officer's phone, enrolled (it pulls its grid).
  app = await FieldApp.start(server.url);
  const phone = await ctx.newPage();
  await phone.goto(app.url);
  await enroll(phone, server.url, { badge: OFFICER });
  await syncNow(phone);
  assert.equal(await phone.locator('#my-tasks').count(), 0, 'no tasks yet');

  // The supervisor signs in and opens the tasks page.
  const review = await ctx.newPage();
  await review.setViewportSize({ width: 1360, height: 900 });
  review.setDefaultTimeout(30_000);
  await review.goto(`${server.url}/review/tasks`);
  await review.fill('input[name=badge]', SUPERVISOR);
  await review.fill('input[name=password]', PASSWORD);
  await review.click('button[type=submit]');
  await review.waitForURL(/\/review\/tasks$/);
  await review.getByRole('heading', { name: '下派任务' }).waitFor();

  // The filter: group-rented houses not visited in 90 days, in a grid of the officer's.
  const grids = await review.locator('#target-filter select[name=grid] option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
  // (A small demo district may have no group-rented house in those grids:
  // then any house not visited in 90 days.)
  let house;
  for (const use of ['group_rented', '']) {
    for (const grid of grids) {
      await review.selectOption('#target-filter select[name=grid]', grid);
      await review.selectOption('#use', use);
      await review.fill('#days', '90');
      await review.click('#target-filter button[type=submit]');
      await review.waitForURL(new RegExp(`grid=${grid}&use=${use}&days=90`));
      const mine = await review.locator(`#assignee option[value="${OFFICER}"]`).count();
      const targets = review.locator('#targets input[name=target]');
      if (mine && (await targets.count())) {
        house = await targets.first().getAttribute('value');
        break;
      }
    }
    if (house) break;
  }
  assert.ok(house, `a house not visited in 90 days in a grid of ${OFFICER}`);
  const place = await review.locator(`label[for="t-${house}"]`).innerText();
  await review.check(`#t-${house}`);
  await review.selectOption('#assignee', OFFICER);
  await review.fill('#instruction', '核查群租人员登记情况');
  await review.screenshot({ path: path.join(shots, 'review-tasks.png') });
  await review.click('#assign-submit');
  await review.waitForURL(/\/review\/tasks\/board/);
  await review.locator('.alert.ok').filter({ hasText: '已下派 1 项任务' }).waitFor();
  const row = review.locator(`#by-person tr[data-badge="${OFFICER}"]`);
  assert.equal(await row.locator('td.open').innerText(), '1');
  assert.equal(await row.locator('td.done').innerText(), '0');

  // The phone syncs: the task is on the home screen.
  await syncNow(phone);
  const task = phone.locator(`#my-tasks li[data-target="${house}"]`);
  await task.waitFor();
  assert.equal(await phone.locator('#task-count').innerText(), '1');
  assert.match(await task.innerText(), /核查群租人员登记情况/);
  await phone.screenshot({ path: path.join(shots, 'app-tasks.png'), fullPage: true });

  // Tapped, it opens the visit on that house.
  await task.click();
  await phone.waitForSelector('#house');
  assert.ok(await phone.locator(`#house [data-id="${house}"], #house`).count());
  const owner = await phone.locator('#house .owner').innerText();
  assert.ok(place.length > 0 && owner.length > 0);
  await phone.click('#unchanged');
  await phone.locator('.notice').filter({ hasText: '已记录走访' }).waitFor();
  await home(phone);
  assert.equal(await phone.locator('#my-tasks').count(), 0, 'the task left the home screen');

  // Synced, the board shows it done.
  await syncNow(phone);
  await until(phone, 'the outbox to empty', async () => Number(await phone.locator('#outbox-count').innerText()) === 0);
  await review.goto(`${server.url}/review/tasks/board`);
  assert.equal(await row.locator('td.done').innerText(), '1');
  assert.equal(await row.locator('td.open').innerText(), '0');
  const done = review.locator('#tasks tr[data-state="done"]');
  assert.equal(await done.count(), 1);
  assert.match(await done.innerText(), /已完成/);
  await review.screenshot({ path: path.join(shots, 'review-task-board.png'), fullPage: true });
});
