// The admin pages in a real browser (issue 13, part 3): headless Chromium
// against the real beatbook-server over the demo district, and the real
// field app over liveview. The admin creates an account and assigns its
// grids, and the field app enrolls as that account; the admin imports an
// XLSForm workbook, sees it as the phone will, publishes it, and the app
// offers it after a sync and its record reaches the server; the admin
// revokes the phone, and the app is wiped on its next sync. A supervisor
// is refused the admin pages.
//
// Run by scripts/e2e.sh, which builds the server and the app first.
// Screenshots go to docs/screenshots/admin-*.png (or $BEATBOOK_SCREENSHOTS).

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Server, FieldApp, browser, enroll, home, tmpdir, desktop } from './app-harness.mjs';
import { xlsx } from './xlsx.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const shots = path.resolve(process.env.BEATBOOK_SCREENSHOTS ?? path.join(here, '../../docs/screenshots'));
mkdirSync(shots, { recursive: true });

const ADMIN = '060001';
const SUPERVISOR = '061001';
const DEMO_PASSWORD = 'beatbook-demo';
const NEW_BADGE = '061401';
const NEW_NAME = '钱新民';
const NEW_PASSWORD = 'new-officer-pass';

let server;
let desk; // the admin's browser
let page; // its page
let app;
let phoneCtx;
let phone;

before(async () => {
  server = await Server.demo({ addresses: 200, households: 20 });
  desk = await desktop();
  page = desk.pages()[0] ?? (await desk.newPage());
  page.setDefaultTimeout(30_000);
});

after(async () => {
  await phoneCtx?.close();
  await app?.stop();
  await desk?.close();
  await server?.stop();
});

async function signIn(badge) {
  await page.goto(`${server.url}/review/login`);
  await page.fill('input[name=badge]', badge);
  await page.fill('input[name=password]', DEMO_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/review\/batches/);
}

async function sync() {
  await home(phone);
  await phone.click('#sync');
  await phone.locator('.notice', { hasText: /^Synced: / }).waitFor({ timeout: 60000 });
}

/** The ids of the forms the field app's chooser offers. */
async function chooser() {
  await home(phone);
  await phone.click('#new');
  await phone.waitForSelector('#forms');
  const ids = await phone.locator('#forms button').evaluateAll((bs) => bs.map((b) => b.id.replace(/^new-/, '')));
  await home(phone);
  return ids;
}

test('a supervisor is refused the admin pages and sees no link to them', async () => {
  await signIn(SUPERVISOR);
  assert.equal(await page.locator('nav.main a[href="/review/admin/users"]').count(), 0);
  const res = await page.goto(`${server.url}/review/admin/users`);
  assert.equal(res.status(), 403);
  await page.getByText('管理页面仅限管理员使用').waitFor();
  await page.goto(`${server.url}/review/batches`);
  await page.click('form[action="/review/logout"] button');
  await page.waitForURL(/\/review\/login/);
});

test('the admin creates an account with its grids and the field app enrolls as it', async () => {
  await signIn(ADMIN);
  await page.click('nav.main a[href="/review/admin/users"]');
  await page.getByRole('heading', { name: '账号管理' }).waitFor();
  await page.fill('input[name=badge]', NEW_BADGE);
  await page.fill('input[name=name]', NEW_NAME);
  await page.selectOption('select[name=role]', 'officer');
  const grids = page.locator('fieldset.grids input[name=grid]');
  assert.equal(await grids.count(), 3, 'the demo station has three grids');
  await grids.nth(2).check();
  await page.fill('input[name=password]', NEW_PASSWORD);
  await page.click('form[action="/review/admin/users"] button[type=submit]');
  await page.locator('.alert.ok', { hasText: `已创建账号 ${NEW_BADGE}` }).waitFor();
  const row = page.locator('table.users tr', { hasText: NEW_BADGE });
  assert.match(await row.innerText(), new RegExp(NEW_NAME));
  await page.screenshot({ path: path.join(shots, 'admin-users.png'), fullPage: true });

  // A second grid, on the account's page.
  await row.locator('a').first().click();
  await page.getByRole('heading', { name: NEW_NAME }).waitFor();
  const own = page.locator('fieldset.grids input[name=grid]');
  await own.nth(1).check();
  await page.click('form[action$="/role"] button[type=submit]');
  await page.locator('.alert.ok', { hasText: `已修改 ${NEW_BADGE} 的角色和网格` }).waitFor();
  assert.ok(await own.nth(1).isChecked() && await own.nth(2).isChecked(), 'both grids kept');
  await page.screenshot({ path: path.join(shots, 'admin-user.png'), fullPage: true });

  app = await FieldApp.start(server.url);
  phoneCtx = await browser();
  phone = phoneCtx.pages()[0] ?? (await phoneCtx.newPage());
  await phone.goto(app.url);
  await phone.waitForSelector('#badge');
  await phone.click('#lang');
  await enroll(phone, server.url, { badge: NEW_BADGE, password: NEW_PASSWORD });
  await sync();

  await page.goto(`${server.url}/review/admin/devices`);
  const device = page.locator('table.devices tbody tr', { hasText: NEW_BADGE });
  assert.equal(await device.count(), 1, 'the new phone is listed under the new account');
});

test('a form imported from a workbook is previewed, published, offered after a sync and its record accepted', async () => {
  const file = path.join(tmpdir('bb-xlsform-'), 'water_check.xlsx');
  writeFileSync(file, xlsx({
    survey: [
      ['type', 'name', 'label::Chinese (zh)', 'label::English (en)', 'hint::Chinese (zh)', 'hint::English (en)', 'required'],
      ['text', 'meter', '表号', 'Meter number', '水表上的编号', 'The number on the meter', 'yes'],
      ['select_one state', 'state', '状态', 'State', '', '', ''],
      ['integer', 'reading', '读数', 'Reading', '', '', ''],
    ],
    choices: [
      ['list_name', 'name', 'label::Chinese (zh)', 'label::English (en)'],
      ['state', 'ok', '正常', 'Working'],
      ['state', 'broken', '损坏', 'Broken'],
    ],
    settings: [
      ['form_id', 'version', 'form_title::Chinese (zh)', 'form_title::English (en)'],
      ['water_check', '1', '水表检查', 'Water meter check'],
    ],
  }));
  // A workbook with a mistake first: the problem is shown at its cell.
  const broken = path.join(tmpdir('bb-xlsform-'), 'broken.xlsx');
  writeFileSync(broken, xlsx({
    survey: [['type', 'name', 'label'], ['text', 'age', 'Age'], ['integer', 'Age', 'Age again']],
    settings: [['form_id', 'version'], ['broken', '1']],
  }));
  await page.click('nav.tabs a[href="/review/admin/forms"]');
  await page.setInputFiles('input[name=workbook]', broken);
  await page.click('form[action="/review/admin/forms/preview"] button[type=submit]');
  await page.getByRole('heading', { name: '工作簿有问题，未发布' }).waitFor();
  const problem = page.locator('table.problems tbody tr').first();
  assert.match(await problem.innerText(), /survey\s+3\s+B/);
  await page.screenshot({ path: path.join(shots, 'admin-form-problems.png'), fullPage: true });

  await page.setInputFiles('input[name=workbook]', file);
  await page.click('form[action="/review/admin/forms/preview"] button[type=submit]');
  const preview = page.locator('.phone-preview');
  await preview.waitFor();
  for (const shown of ['水表检查', 'Water meter check', '表号', 'Meter number', '水表上的编号', '正常', 'Broken']) {
    assert.ok((await preview.innerText()).includes(shown), `${shown} in the preview`);
  }
  assert.equal(await preview.locator('[data-field=meter] .required').count(), 1, 'the meter number is marked required');
  assert.equal(await preview.locator('[data-field=state] .required').count(), 0);
  await page.check('fieldset.roles input[value=officer]');
  await page.screenshot({ path: path.join(shots, 'admin-form-preview.png'), fullPage: true });
  await page.click('form[action="/review/admin/forms/publish"] button[type=submit]');
  await page.locator('.alert.ok', { hasText: '已发布表单 water_check v1' }).waitFor();
  assert.match(await page.locator('tr[data-form=water_check]').innerText(), /社区民警/);
  await page.screenshot({ path: path.join(shots, 'admin-forms.png'), fullPage: true });

  assert.ok(!(await chooser()).includes('water_check'), 'not before a sync');
  await sync();
  assert.ok((await chooser()).includes('water_check'), 'offered after the sync');
  const before = server.count('water_check');
  await phone.click('#new');
  await phone.click('#new-water_check');
  await phone.fill('#f-meter', 'M-0423');
  await phone.click('#finalize');
  await phone.waitForSelector('#finalize', { state: 'detached' });
  await sync();
  assert.equal(server.count('water_check'), before + 1, 'accepted by the running server');
});

test('the admin revokes the phone and the app is wiped on its next sync', async () => {
  await page.goto(`${server.url}/review/admin/devices`);
  const row = page.locator('table.devices tbody tr', { hasText: NEW_BADGE });
  await page.screenshot({ path: path.join(shots, 'admin-devices.png'), fullPage: true });
  await row.getByRole('link', { name: '注销' }).click();
  await page.getByRole('heading', { name: '注销设备？' }).waitFor();
  await page.click('form[action$="/revoke"] button[type=submit]');
  await page.locator('.alert.ok', { hasText: '已注销设备' }).waitFor();
  assert.match(await page.locator('table.devices tbody tr', { hasText: NEW_BADGE }).innerText(), /已注销/);

  await home(phone);
  await phone.click('#sync');
  await phone.locator('text=This device was revoked').waitFor({ timeout: 60000 });
  await phone.waitForSelector('#badge', { timeout: 60000 });

  await page.goto(`${server.url}/review/audit`);
  const log = await page.locator('table.audit').innerText();
  for (const action of ['新建账号', '修改角色与网格', '发布表单', '注销设备']) {
    assert.ok(log.includes(action), `${action} in the audit log`);
  }
  await page.screenshot({ path: path.join(shots, 'admin-audit.png'), fullPage: true });
});
