// Duplicate people in a real browser (issue 13): on the field app
// (liveview, the real server over the demo district), typing an ID number
// the phone already holds says where it is recorded — the person's name and
// house, with a button that opens that record — and saving a second record
// anyway stays possible; after a sync the supervisor finds the two records
// side by side on the review pages' Duplicates page, keeps one, and the pair
// is no longer listed. That resolutions reach devices on their next pull,
// and that no one but supervisors learns a number from another grid, is
// checked with real cores in tests/tests/duplicates.rs.
//
// Run by scripts/e2e.sh, which builds the server and the app first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { fieldApp, enroll, home, findFreeAddress, recordHousehold, residents, Operator, tmpdir, desktop } from './app-harness.mjs';

const shots = path.resolve(process.env.BEATBOOK_SCREENSHOTS ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots'));

test('the phone says where an ID number is recorded; the supervisor keeps one of the two', { timeout: 15 * 60 * 1000 }, async () => {
  const { server, page, close } = await fieldApp();
  try {
    page.setDefaultTimeout(30_000);
    await enroll(page, server.url);
    await page.click('#sync');
    await page.waitForSelector('.notice:has-text("同步完成")', { timeout: 60000 });
    const label = await findFreeAddress(page);
    const [head] = residents;
    await recordHousehold(new Operator(page), label, { people: [head] });

    // The same person again: the form says where the number is recorded.
    await page.click('#add-resident');
    await page.click('#f-relation [data-value="other"]');
    await page.click('#f-category [data-value="registered"]');
    await page.fill('#f-name', head.name);
    assert.equal(await page.locator('#recorded-elsewhere').count(), 0, 'nothing before the number');
    await page.fill('#f-id_number', head.id);
    const notice = page.locator('#recorded-elsewhere');
    await notice.waitFor();
    await page.screenshot({ path: path.join(shots, 'app-recorded-elsewhere.png') });
    const said = await notice.innerText();
    assert.match(said, new RegExp(head.name));
    assert.match(said, /此身份证号本机已有登记/);
    assert.equal(await notice.locator('button[data-record]').count(), 1, 'one record holds it, openable');
    // Saving anyway stays possible.
    await page.click('#finalize');
    await page.waitForSelector('#residents');
    assert.equal(await page.locator('#residents li').count(), 2);

    await home(page);
    await page.click('#sync');
    await page.waitForSelector('.notice:has-text("同步完成")', { timeout: 60000 });

    // The supervisor's Duplicates page.
    const review = await desktop();
    try {
      const sup = review.pages()[0] ?? (await review.newPage());
      sup.setDefaultTimeout(30_000);
      await sup.goto(`${server.url}/review/login`);
      await sup.fill('input[name=badge]', '061001');
      await sup.fill('input[name=password]', 'beatbook-demo');
      await sup.click('button[type=submit]');
      await sup.waitForURL(/\/review\/batches/);
      await sup.click('nav a[href="/review/duplicates"]');
      const pair = sup.locator('article.duplicate', { hasText: head.id });
      await pair.waitFor();
      await sup.screenshot({ path: path.join(shots, 'review-duplicates.png') });
      assert.equal(await pair.locator('table.side-by-side thead th a').count(), 2, 'both records side by side');
      assert.match(await pair.innerText(), new RegExp(head.name));
      assert.equal(await pair.locator('button[value=move]').count(), 0, 'one grid: no move offered');
      await pair.locator('button[value=keep]').first().click();
      await sup.locator('.alert.ok', { hasText: '已保留一条记录' }).waitFor();
      assert.equal(await sup.locator('article.duplicate', { hasText: head.id }).count(), 0, 'no longer listed');
    } finally {
      await review.close();
    }
  } finally {
    await close();
  }
});
