// The review pages in a real browser: headless Chromium (Debian's package,
// driven by playwright-core) against the real beatbook-server binary over
// the demo district. A supervisor signs in, filters the batches, approves
// one record, returns another with a reason, verifies a hazard, downloads
// an XLSX, and finds it all in the audit log; an officer is turned away.
//
// Run by scripts/e2e.sh (part of scripts/test.sh), which builds the server
// first. Screenshots of the batch list, a batch and the hazard board go to
// docs/screenshots/ (or $BEATBOOK_SCREENSHOTS). That the officer's device
// then receives the returned record reopened with its reason is checked
// with a real field-app core in tests/tests/review_pages.rs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { Server, tmpdir, desktop } from './app-harness.mjs';
import { fileURLToPath } from 'node:url';

// Node 18 (Debian's) has no import.meta.dirname.
const here = path.dirname(fileURLToPath(import.meta.url));

const SUPERVISOR = '061001';
const OFFICER = '061201';
const PASSWORD = 'beatbook-demo';
const shots = path.resolve(process.env.BEATBOOK_SCREENSHOTS ?? path.join(here, '../../docs/screenshots'));
mkdirSync(shots, { recursive: true });

test('a supervisor reviews, verifies and exports in the browser', { timeout: 15 * 60 * 1000 }, async () => {
  const server = await Server.demo({ addresses: 400, households: 60 });
  const base = server.url;
  const run = tmpdir('bb-review-');
  const context = await desktop({ acceptDownloads: true });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    const notice = page.locator('.alert.ok');

    // An officer is turned away.
    await page.goto(`${base}/review/batches`);
    assert.match(page.url(), /\/review\/login\?next=/);
    await page.fill('input[name=badge]', OFFICER);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.locator('.alert.error').filter({ hasText: '仅供所领导和管理员使用' }).waitFor();

    // The supervisor signs in and lands on the batches.
    await page.fill('input[name=badge]', SUPERVISOR);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/review\/batches$/);
    await page.getByRole('heading', { name: '同步批次' }).waitFor();
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'bb_review');
    assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
    assert.equal(session.sameSite, 'Strict');

    // Filter: house records of the first grid, waiting for review.
    await page.selectOption('select[name=form]', 'house');
    await page.selectOption('select[name=status]', 'pending');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/form=house/);
    const rows = page.locator('table.batches tbody tr');
    assert.ok((await rows.count()) > 0, 'house batches are listed');
    for (const chips of await rows.locator('td:nth-child(3)').allInnerTexts()) {
      assert.match(chips, /实有房屋/);
    }

    // Open the first batch.
    await rows.first().locator('a.button').click();
    await page.waitForURL(/\/review\/batches\/[0-9a-f-]+/);
    const batchUrl = page.url();
    await page.locator('article.record').first().waitFor();
    const cards = page.locator('article.record');
    assert.ok((await cards.count()) >= 2, 'the batch has records to decide');
    assert.match(await cards.first().innerText(), /房屋用途/, 'values are labelled');

    // Approve the first record.
    const first = cards.nth(0);
    const firstId = await first.getAttribute('id');
    await first.locator('button.approve').click();
    await notice.filter({ hasText: '已通过 1 条记录' }).waitFor();
    assert.match(await page.locator(`#${firstId} .meta`).innerText(), /已通过/);

    // Return the second with a reason.
    const second = page.locator('article.record').nth(1);
    const secondId = await second.getAttribute('id');
    await second.locator('summary').click();
    const reason = '房主身份证号与户籍信息不符，请核对后重新上报';
    await second.locator('textarea[name=reason]').fill(reason);
    await second.locator('form button.return').click();
    await notice.filter({ hasText: '已退回 1 条记录' }).waitFor();
    const returned = page.locator(`#${secondId}`);
    assert.match(await returned.locator('.meta').innerText(), /已退回/);
    assert.match(await returned.innerText(), new RegExp(reason));
    assert.ok(page.url().startsWith(batchUrl.split('?')[0]), 'back on the batch');
    await page.goto(batchUrl);
    await page.setViewportSize({ width: 1360, height: 1280 });
    await page.screenshot({ path: path.join(shots, 'review-batch.png') });
    await page.setViewportSize({ width: 1360, height: 900 });

    // The list shows the progress.
    await page.click('nav.main >> text=同步批次');
    await page.locator('table.batches').waitFor();
    await page.screenshot({ path: path.join(shots, 'review-batches.png'), fullPage: true });

    // Verify a rectified hazard.
    await page.click('nav.main >> text=隐患整改');
    await page.getByRole('heading', { name: '隐患整改' }).waitFor();
    const verifiedBefore = Number(await page.locator('a.tab', { hasText: '已复查' }).locator('.count').innerText());
    await page.locator('a.tab', { hasText: '已整改' }).click();
    await page.waitForURL(/status=rectified/);
    const hazard = page.locator('article.hazard').first();
    await hazard.locator('.before-after img').first().waitFor();
    await page.screenshot({ path: path.join(shots, 'review-hazards.png') });
    await hazard.locator('button.approve', { hasText: '复查通过' }).click();
    await notice.filter({ hasText: '已复查该隐患' }).waitFor();
    const verifiedAfter = Number(await page.locator('a.tab', { hasText: '已复查' }).locator('.count').innerText());
    assert.equal(verifiedAfter, verifiedBefore + 1);

    // A thumbnail opens the full photo, served as an image.
    const photo = await page.locator('.thumbs a').first().getAttribute('href');
    const res = await page.request.get(`${base}${photo}`);
    assert.equal(res.status(), 200);
    assert.equal(res.headers()['content-type'], 'image/jpeg');
    assert.equal(res.headers()['x-content-type-options'], 'nosniff');

    // Download the hazards as Excel.
    await page.click('nav.main >> text=数据导出');
    await page.selectOption('select[name=form]', 'hazard');
    await page.fill('input[name=from]', '');
    await page.fill('input[name=to]', '');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('button[value=xlsx]'),
    ]);
    assert.match(download.suggestedFilename(), /^安全隐患.*\.xlsx$/, 'named after the form');
    const file = path.join(run, 'hazards.xlsx');
    await download.saveAs(file);
    const bytes = readFileSync(file);
    assert.ok(statSync(file).size > 1000, 'a workbook, not an error page');
    assert.equal(bytes.subarray(0, 2).toString(), 'PK', 'a zip container');
    for (const part of ['xl/workbook.xml', 'xl/worksheets/sheet1.xml', 'xl/worksheets/sheet2.xml']) {
      assert.ok(bytes.includes(Buffer.from(part)), `the workbook has ${part}`);
    }

    // Everything is in the audit log.
    await page.click('nav.main >> text=审计日志');
    const log = await page.locator('table.audit').innerText();
    for (const action of ['审核通过', '退回', '隐患复查', '导出', '登录']) {
      assert.match(log, new RegExp(action), `the audit log has ${action}`);
    }
    assert.match(log, new RegExp(reason));

    // English on request.
    await page.click('a.lang');
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();

    // Signing out ends the session.
    await page.click('button:has-text("Sign out")');
    await page.waitForURL(/\/review\/login/);
    await page.goto(`${base}/review/batches`);
    assert.match(page.url(), /\/review\/login/);
  } finally {
    await context.close();
    await server.stop();
  }
});
