// The field app in a real browser (liveview over loopback), against the real
// sync server with a demo district: enrollment, a household visit with three
// residents, a revisit where nothing changed, a hazard with a photo, an
// offline save with the server stopped and the sync after it restarts.
// It counts operator actions (taps + typed characters) for the visit against
// the same data typed into a blank form, and saves screenshots of the screens.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fieldApp, Operator, tmpdir, bin, home as homeOf, residents, findFreeAddress, recordHousehold } from './app-harness.mjs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Node 18 (Debian's) has no import.meta.dirname.
const here = path.dirname(fileURLToPath(import.meta.url));

const shots = path.resolve(here, '../../docs/screenshots');
fs.mkdirSync(shots, { recursive: true });
const report = {};

let server, app, ctx, page, close;
before(async () => {
  ({ server, app, ctx, page, close } = await fieldApp());
});
after(async () => {
  await close?.();
  if (Object.keys(report).length) {
    fs.writeFileSync(path.join(shots, '..', 'entry-effort.json'), JSON.stringify(report, null, 2) + '\n');
  }
});

/** Back to the home screen. */
const home = () => homeOf(page);

const shot = (name, fullPage = false) => page.screenshot({ path: path.join(shots, `app-${name}.png`), fullPage });
const text = (sel) => page.locator(sel).innerText();

/** Actions for the same data typed into a blank form: one tap per field plus every character. */
function blankFormActions(fields) {
  return fields.reduce((n, value) => n + 1 + [...String(value)].length, 0);
}

test('enrollment, then a PIN, then home', async () => {
  await page.waitForSelector('#badge');
  await shot('enroll');
  await page.fill('#server', server.url);
  await page.fill('#badge', '061201');
  await page.fill('#password', 'wrong-password');
  await page.click('#next');
  await page.fill('#pin', '246810');
  await page.fill('#pin2', '246810');
  await page.click('#next');
  await page.waitForSelector('.error');
  assert.match(await text('.error'), /警号或密码错误|wrong badge/);
  await page.fill('#password', 'beatbook-demo');
  await page.click('#next');
  await page.waitForSelector('#sync');
  await page.click('#sync');
  await page.waitForSelector('.notice:has-text("同步完成")', { timeout: 60000 });
  await shot('home');
  assert.match(await text('.who'), /施建军/);
});

test('a household visit with three residents, counted', async () => {
  const label = await findFreeAddress(page);
  const op = new Operator(page);
  const query = await recordHousehold(op, label, { shot });
  assert.equal(await page.locator('#residents li').count(), 3);
  await shot('visit');

  // The same data typed into a blank form: every field of the house and each
  // person, including what Beatbook derives (address parts, gender, birth
  // date, age, registered division) or fills from the device (grid, officer).
  const [community, rest] = [label.match(/^.*?社区/)[0], query];
  const house = ['320614', '海门区', community, rest, '自住', residents[0].name, residents[0].id, residents[0].phone, '320614-01-01', '施建军'];
  const people = residents.map((r) => [
    community + rest, r.name, r.id, r.relation === 'head' ? '户主' : r.relation === 'spouse' ? '配偶' : '子女', '户籍', '汉族',
    Number(r.id[16]) % 2 ? '男' : '女', `${r.id.slice(6, 10)}-${r.id.slice(10, 12)}-${r.id.slice(12, 14)}`,
    String(2026 - Number(r.id.slice(6, 10))), r.id.slice(0, 6), '江苏省南通市海门区', r.phone,
  ].filter((v) => v !== ''));
  const blank = blankFormActions(house) + people.reduce((n, p) => n + blankFormActions(p), 0);
  report.visit = { beatbook: { taps: op.taps, chars: op.chars, actions: op.actions }, blank_form: blank, ratio: +(op.actions / blank).toFixed(2) };

  // A revisit where nothing changed: one tap once the house is on screen.
  const again = new Operator(page);
  await home();
  await again.tap('#visit');
  await again.type('#address-search', query);
  await again.tap('#address-results li >> nth=0');
  await again.tap('#unchanged');
  await page.waitForSelector('.notice:has-text("信息无变化")');
  const visitBlank = blankFormActions(['2026-11-28 10:30', '施建军', '320614-01-01', '入户走访', community + rest, residents[0].name, '信息无变化']);
  report.revisit_unchanged = { beatbook: { taps: again.taps, chars: again.chars, actions: again.actions }, blank_form: visitBlank, ratio: +(again.actions / visitBlank).toFixed(2) };
  assert.ok(op.actions < blank, `Beatbook ${op.actions} actions vs blank form ${blank}`);
});

test('a household visit with the ID cards scanned instead, counted', async () => {
  // Photos of the three residents' cards (idcard-card draws them as a phone
  // would take them, a little tilted and compressed).
  const cards = new Map();
  for (const r of residents) {
    const file = path.join(tmpdir('bb-card-'), 'card.jpg');
    execFileSync(bin('idcard-card'), ['--name', r.name, '--id', r.id, '--address', '江苏省海门市海门街道人民西路108号', '--out', file]);
    cards.set(r.id, file);
  }
  await home();
  const label = await findFreeAddress(page);
  const op = new Operator(page);
  await recordHousehold(op, label, { cards, shot: (name, full) => (name === 'person' ? shot('person-scanned', full) : Promise.resolve()) });
  assert.equal(await page.locator('#residents li').count(), 3);
  const blank = report.visit.blank_form;
  report.visit_scanned = { beatbook: { taps: op.taps, chars: op.chars, actions: op.actions }, blank_form: blank, ratio: +(op.actions / blank).toFixed(2) };
  assert.ok(op.actions < 80, `${op.actions} actions with the cards scanned`);
});

test('a hazard with a photo, saved offline, synced when the server is back', async () => {
  const photo = path.join(tmpdir('bb-photo-'), 'hazard.jpg');
  fs.copyFileSync(path.resolve(here, '../../demo/assets/hazard.jpg'), photo);
  await home();
  await server.stop(); // no signal from here on
  await page.click('#hazard'); // the grid's hazards to follow up
  await page.click('#hazard-new');
  await page.selectOption('#f-category', 'ebike_charging');
  await page.fill('#f-description', '楼道内电动自行车充电，飞线充电');
  await page.click('#f-severity [data-value="high"]');
  await page.setInputFiles('#f-photos-input', photo);
  await page.waitForSelector('#f-photos .count:has-text("1/")');
  await shot('hazard', true);
  await page.click('#finalize');
  await page.waitForSelector('#sync');
  const queued = Number(await text('#outbox-count'));
  assert.ok(queued >= 1, `queued ${queued}`);
  await page.click('#sync');
  await page.waitForSelector('.notice:has-text("暂无网络")', { timeout: 60000 });
  assert.equal(Number(await text('#outbox-count')), queued, 'kept on the phone');

  await server.start();
  await page.click('#sync');
  await page.waitForSelector('.notice:has-text("同步完成")', { timeout: 60000 });
  assert.equal(Number(await text('#outbox-count')), 0);
  const status = server.admin(['status']);
  assert.match(status, /hazard/);
  await page.click('#lists');
  await page.click('.tab:has-text("已上传")');
  await page.waitForSelector('#records li');
  await shot('sent');
});

test('a record the supervisor returns reopens with the reason and goes back fixed', async () => {
  // The supervisor, at the station PC: return one resident from the officer's batch.
  const review = await ctx.newPage();
  await review.goto(`${server.url}/review/batches`);
  await review.fill('input[name=badge]', '061001');
  await review.fill('input[name=password]', 'beatbook-demo');
  await review.click('button[type=submit]');
  await review.waitForURL(/\/review\/batches$/);
  await review.locator('table.batches a.button').first().click();
  const card = review.locator('article.record', { hasText: residents[1].name }).first();
  await card.locator('summary').click();
  const reason = '请补充联系电话';
  await card.locator('textarea[name=reason]').fill(reason);
  await card.locator('form button.return').click();
  await review.locator('.notice, .alert').filter({ hasText: '已退回 1 条记录' }).first().waitFor();
  await review.close();

  // The officer's next sync brings it back, editable, with the reason.
  await home();
  await page.click('#sync');
  await page.waitForSelector('.notice:has-text("同步完成")', { timeout: 60000 });
  assert.equal(await text('#returned-count'), '1');
  await page.click('#returned');
  await page.locator('#records li', { hasText: residents[1].name }).click();
  assert.match(await text('#return-reason'), new RegExp(reason));
  await shot('returned', true);
  await page.fill('#f-phone', '13962870012');
  await page.click('#finalize');
  await home();
  await page.click('#sync');
  await page.waitForSelector('.notice:has-text("同步完成")', { timeout: 60000 });
  assert.equal(await page.locator('#returned-count').count(), 0, 'nothing returned any more');
});

test('English on request', async () => {
  await home();
  await page.click('#lang');
  await page.waitForSelector('#sync:has-text("Sync")');
  await shot('home-en');
  await page.click('#lang');
});

test('no horizontal scrolling from 360×640 to 412×915', async () => {
  await home();
  for (const [width, height] of [[360, 640], [412, 915]]) {
    await page.setViewportSize({ width, height });
    for (const open of [null, '#hazard', '#visit']) {
      if (open) await page.click(open);
      await page.waitForTimeout(200);
      const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(scroll <= width, `${open ?? 'home'} at ${width}px scrolls to ${scroll}px`);
      const small = await page.evaluate(() => [...document.querySelectorAll('button, input, select')]
        .filter((e) => e.offsetParent && e.getBoundingClientRect().height < 36).map((e) => e.id || e.className));
      assert.deepEqual(small, [], `touch targets under 36px at ${width}px`);
      if (open) await home();
    }
  }
  await page.setViewportSize({ width: 412, height: 915 });
});
