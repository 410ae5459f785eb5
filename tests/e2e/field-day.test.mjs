// A whole day in the field (issue 16), played in a real browser (liveview)
// against the real server, once as a community officer (in Chinese) and once
// as an auxiliary officer (in English). The app syncs by itself (every 3 s
// here, as it would every 10 min); nobody taps Sync all day. In the middle of
// the day the network goes (the server is stopped) while records are saved;
// the supervisor returns one record, which comes back by itself, is fixed and
// goes again. At night every record is on the server exactly once and the
// officer's lists show what they did.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, browser, home, findFreeAddress, tmpdir, until, Phones } from './app-harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const photo = (name) => {
  const file = path.join(tmpdir('bb-photo-'), name);
  fs.copyFileSync(path.resolve(here, '../../demo/assets/hazard.jpg'), file);
  return file;
};

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



const outbox = async (page) => {
  await home(page);
  return Number(await page.locator('#outbox-count').innerText());
};

/** Everything sent, by itself. */
async function caughtUp(page) {
  await until(page, 'the outbox to empty by itself', async () => (await outbox(page)) === 0);
}

/** The growth of each form's count on the server since `before`. */
function grown(before) {
  const now = server.counts();
  return Object.fromEntries(Object.keys(now).map((f) => [f, now[f] - (before[f] ?? 0)]).filter(([, n]) => n));
}

/** A new record of `form` from "other forms". */
async function newRecord(page, form) {
  await home(page);
  await page.click('#new');
  await page.click(`#new-${form}`);
  await page.waitForSelector('#finalize');
}

async function save(page) {
  await page.click('#finalize');
  await page.waitForSelector('#finalize', { state: 'detached' });
}

/** A hazard with a photo; with `retake`, a wrong photo is removed first and the right one taken. */
async function hazard(page, description, { retake = false } = {}) {
  await home(page);
  await page.click('#hazard'); // the grid's hazards to follow up
  await page.click('#hazard-new');
  await page.selectOption('#f-category', 'ebike_charging');
  await page.fill('#f-description', description);
  await page.click('#f-severity [data-value="high"]');
  if (retake) {
    await page.setInputFiles('#f-photos-input', photo('wrong.jpg'));
    await page.waitForSelector('#f-photos .thumb');
    await page.click('#f-photos .thumb .remove');
    await page.waitForSelector('#f-photos .thumb', { state: 'detached' });
  }
  await page.setInputFiles('#f-photos-input', photo('hazard.jpg'));
  await page.waitForSelector('#f-photos .thumb img');
  assert.equal(await page.locator('#f-photos .thumb').count(), 1, 'one photo kept');
  await save(page);
}

/** A dispute between two neighbours, typed in. */
async function dispute(page, summary) {
  await newRecord(page, 'dispute');
  await page.click('#f-kind [data-value="neighbour"]');
  await page.fill('#f-summary', summary);
  await page.click('#f-risk_level [data-value="low"]');
  await page.click('#add-parties');
  await page.fill('#f-parties-0--name', '王秀英');
  await page.click('#f-outcome [data-value="mediated"]');
  await save(page);
}

/**
 * A patrol on foot: started from the home screen, its track recorded while
 * the officer does other work (`during`), ended, its form finished and saved.
 */
async function patrol(page, route, during = async () => {}) {
  await home(page);
  await page.click('#patrol');
  await page.waitForSelector('#patrol-points');
  await during();
  await home(page);
  await page.click('#patrol');
  await page.waitForSelector('#f-track');
  assert.match(await page.locator('#f-track').innerText(), /[2-9]\d* (个轨迹点|track points)/);
  await page.click('#f-mode [data-value="foot"]');
  await page.fill('#f-route', route);
  await save(page);
}

/** The supervisor returns the record of the officer's batch that shows `text`, with `reason`. */
async function supervisorReturns(text, reason) {
  const review = await ctx.newPage();
  await review.goto(`${server.url}/review/batches`);
  if (await review.locator('input[name=badge]').count()) {
    // Signed in once for the day: the browser keeps the session.
    await review.fill('input[name=badge]', '061001');
    await review.fill('input[name=password]', 'beatbook-demo');
    await review.click('button[type=submit]');
    await review.waitForURL(/\/review\/batches$/);
  }
  const rows = review.locator('table.batches a.button');
  for (let i = 0; i < (await rows.count()); i++) {
    await rows.nth(i).click();
    const card = review.locator('article.record', { hasText: text }).first();
    if (await card.count()) {
      await card.locator('summary').click();
      await card.locator('textarea[name=reason]').fill(reason);
      await card.locator('form button.return').click();
      await review.locator('.notice, .alert').filter({ hasText: '已退回 1 条记录' }).first().waitFor();
      await review.close();
      return;
    }
    await review.goBack();
  }
  throw new Error(`no batch holds a record showing ${text}`);
}

/** One tap of `outcome` at a recorded house of the grid not in `visited` (then added). */
async function visitAHouse(page, outcome, visited) {
  for (const q of ['1号', '2号', '3号', '5号', '6号', '8号', '9号']) {
    await home(page);
    await page.click('#visit');
    await page.fill('#address-search', q);
    for (const label of await page.locator('#address-results li').allInnerTexts()) {
      if (visited.has(label)) continue;
      await page.fill('#address-search', label);
      // The item of that address, once the list has caught up with the search.
      await page.locator('#address-results li', { hasText: label }).first().click();
      await page.waitForSelector('#visit-address');
      if (await page.locator('#houses li').count()) await page.locator('#houses li').first().click();
      if (await page.locator(`#${outcome}`).count()) {
        visited.add(label);
        await page.click(`#${outcome}`);
        return;
      }
      await page.click('#back');
    }
  }
  throw new Error(`no recorded house to visit for ${outcome}`);
}

/** The records of this phone in the list `tab` ("mine"), over all pages. */
async function myRecords(page, tab) {
  await home(page);
  await page.click('#lists');
  await page.click(`.tab:has-text("${tab}")`);
  const seen = [];
  for (;;) {
    await page.waitForTimeout(200);
    seen.push(...(await page.locator('#records li').allInnerTexts()));
    const next = page.locator('#page-next');
    if (!(await next.count()) || (await next.isDisabled())) return seen;
    await next.click();
  }
}

/**
 * The officer's list (newest first) starts with the day's records, `forms`
 * counting them by form title; whatever follows was there before the day
 * (the demo district's records of the same officer).
 */
function assertDayFirst(list, forms) {
  const n = Object.values(forms).reduce((a, b) => a + b, 0);
  const day = {};
  for (const row of list.slice(0, n)) {
    const title = row.split('\n')[0];
    day[title] = (day[title] ?? 0) + 1;
  }
  assert.deepEqual(day, forms, `the list starts with the day's work: ${JSON.stringify(list.slice(0, n + 2))}`);
}

test("a community officer's day, in Chinese", async () => {
  const page = await phones.enrolled('061201');
  const before = server.counts();

  // Morning: the phone syncs by itself.
  await until(page, 'the morning sync', async () => !(await page.locator('#last-sync').innerText()).includes('从未'));

  // Three visits. One address with two houses…
  const label = await findFreeAddress(page);
  await page.click('#visit');
  await page.fill('#address-search', label);
  await page.locator('#address-results li', { hasText: label }).first().click();
  await page.click('#new-house');
  await page.click('#f-use [data-value="owner_occupied"]');
  await page.fill('#f-owner_name', '顾国平');
  await save(page);
  await page.click('#add-house');
  await page.click('#f-use [data-value="rented"]');
  await page.fill('#f-owner_name', '沈玉兰');
  await page.fill('#f-tenant_count', '2');
  await save(page);
  await page.waitForSelector('#houses li >> nth=1');
  // …where nobody is home at the second,
  await page.locator('#houses li', { hasText: '沈玉兰' }).click();
  await page.click('#nobody-home');
  await page.waitForSelector('.notice:has-text("无人在家")');
  // one shop at the same address, recorded and visited,
  await page.click('#new-unit');
  await page.fill('#f-name', '顾记小卖部');
  await page.selectOption('#f-category', 'small_shop');
  await page.fill('#f-legal_rep_name', '顾国平');
  await page.click('#f-has_dormitory [data-value="no"]');
  await save(page);
  const shop = page.locator('#units li.venue', { hasText: '顾记小卖部' });
  await shop.locator('button.unchanged').click();
  await page.waitForSelector('.notice:has-text("信息无变化")');

  // A dispute, then the network goes for the middle of the day.
  await dispute(page, '邻居装修噪音扰民');
  await caughtUp(page);
  await server.stop();
  await patrol(page, '人民路—长江路', async () => {
    await hazard(page, '楼道内电动自行车充电', { retake: true });
    await hazard(page, '车库飞线充电');
  });
  assert.equal(await outbox(page), 3, 'kept on the phone while offline');
  await page.waitForSelector('#sync-state:has-text("将自动重试")', { timeout: 30000 });

  // The network is back: everything goes by itself.
  await server.start();
  await caughtUp(page);

  // The supervisor returns the dispute; it comes back by itself, is fixed, and goes again.
  await supervisorReturns('邻居装修噪音扰民', '请补充调解经过');
  await until(page, 'the returned dispute', async () => {
    await home(page);
    return (await page.locator('#returned-count').count()) > 0;
  });
  await page.click('#returned');
  await page.locator('#records li').first().click();
  assert.match(await page.locator('#return-reason').innerText(), /请补充调解经过/);
  await page.fill('#f-mediation_notes', '双方同意晚八点后停止施工');
  await save(page);
  await caughtUp(page);
  await until(page, 'nothing returned any more', async () => {
    await home(page);
    return (await page.locator('#returned-count').count()) === 0;
  });

  // Night: each record on the server once, and the sent list is the day's work.
  assert.deepEqual(grown(before), { house: 2, unit: 1, visit: 2, dispute: 1, hazard: 2, patrol: 1 });
  assertDayFirst(await myRecords(page, '已上传'), { 实有房屋: 2, 实有单位: 1, 走访记录: 2, 矛盾纠纷: 1, 安全隐患: 2, 巡逻日志: 1 });
});

test("an auxiliary officer's day, in English", async () => {
  const page = await phones.enrolled('061301');
  await page.click('#lang');
  await page.waitForSelector('#sync:has-text("Sync")');
  const before = server.counts();
  await until(page, 'the morning sync', async () => !(await page.locator('#last-sync').innerText()).includes('never'));

  // Three visits at houses of the grid: nobody home, refused, nothing changed.
  const visited = new Set();
  for (const [outcome, said] of [['nobody-home', 'nobody home'], ['refused', 'refused'], ['unchanged', 'nothing changed']]) {
    await visitAHouse(page, outcome, visited);
    await page.waitForSelector(`.notice:has-text("Visit recorded: ${said}")`);
  }

  await hazard(page, 'Fire exit blocked by bicycles', { retake: true });
  await server.stop();
  await hazard(page, 'Extension cord across the corridor');
  await dispute(page, 'Parking quarrel between neighbours');
  await patrol(page, 'Renmin Road loop');
  await page.waitForSelector('#sync-state:has-text("will retry by itself")', { timeout: 30000 });
  await server.start();
  await caughtUp(page);

  await supervisorReturns('Extension cord across the corridor', 'Add the shop name');
  await until(page, 'the returned hazard', async () => {
    await home(page);
    return (await page.locator('#returned-count').count()) > 0;
  });
  await page.click('#returned');
  await page.locator('#records li').first().click();
  await page.fill('#f-description', 'Extension cord across the corridor of the Gu family shop');
  await save(page);
  await caughtUp(page);

  assert.deepEqual(grown(before), { visit: 3, hazard: 2, dispute: 1, patrol: 1 });
  assertDayFirst(await myRecords(page, 'Sent'), { Visit: 3, 'Safety hazard': 2, Dispute: 1, 'Patrol log': 1 });
});
