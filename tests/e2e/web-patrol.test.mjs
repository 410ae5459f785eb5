// A patrol walked in the web build (issue 12's browser test), run like
// web-app.test.mjs (scripts/web-build.sh must have run): the phone's
// position is the browser's own geolocation, emulated by Playwright
// (`geolocation` permission granted, `setGeolocation` moved along a known
// track of five points about 100 m apart, north and east in turn, while the
// patrol runs). Stopped, the patrol's derived distance matches the track's
// true length within TOLERANCE_M, on the phone and, once synced, on the
// server. Then the permission is withdrawn: the app says the location was
// refused and what to do, at the Locate button and when a patrol starts.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, phone, tmpdir, home as homeOf } from './app-harness.mjs';

// Node 18 (Debian's) has no import.meta.dirname.
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const webDir = path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, 'target'), 'web', 'm');

const PIN = '246810';
const OFFICER = '061201';
const PASSWORD = 'beatbook-demo';
const route = `网页版巡逻 ${process.pid}`;

/** The walk: five points, each about 100 m from the last (0.0009° of latitude; 0.00106° of longitude at 31.87°N). */
const track = [
  [31.8700, 121.17000],
  [31.8709, 121.17000],
  [31.8709, 121.17106],
  [31.8718, 121.17106],
  [31.8718, 121.17212],
];
/** The derived distance is whole metres: rounding, and nothing else, is allowed. */
const TOLERANCE_M = 1;

/** Great-circle distance in metres (mean Earth radius, haversine). */
function metres([lat1, lon1], [lat2, lon2]) {
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2
    + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(a));
}
const trueLength = track.slice(1).reduce((sum, p, i) => sum + metres(track[i], p), 0);

let server, ctx, page;
before(async () => {
  assert.ok(fs.existsSync(path.join(webDir, 'beatbook_web_bg.wasm')), `no web build in ${webDir}: run scripts/web-build.sh`);
  server = await Server.demo({ env: { BEATBOOK_WEB_DIR: webDir } });
  ctx = await phone(tmpdir('bb-phone-'));
  await ctx.grantPermissions(['geolocation'], { origin: server.url });
  await ctx.setGeolocation({ latitude: track[0][0], longitude: track[0][1], accuracy: 5 });
  page = ctx.pages()[0] ?? (await ctx.newPage());
});
after(async () => {
  await ctx?.close();
  await server?.stop();
});

const home = () => homeOf(page);

/** The points the running patrol's tile counts. */
const points = async () => Number(await page.locator('#patrol-points').innerText());

/** The server's patrol record with this test's route, read as a device of the officer reads it (`/v1/pull`). */
async function patrolOnServer() {
  const enrolled = await fetch(`${server.url}/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ badge: OFFICER, password: PASSWORD, device_id: crypto.randomUUID(), device_name: 'web-patrol test' }),
  });
  assert.equal(enrolled.status, 200, await enrolled.clone().text());
  const { token } = await enrolled.json();
  let since = 0;
  let found;
  for (;;) {
    const res = await fetch(`${server.url}/v1/pull?since=${since}&limit=500`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const page = await res.json();
    for (const item of page.items) {
      const r = item.kind === 'record' ? item.version.record : undefined;
      if (r?.form_id === 'patrol' && r.values.route === route) found = r;
    }
    if (!page.has_more) return found;
    since = page.next;
  }
}

test('a patrol walked along a known track: its distance on the phone and on the server is the track\'s length', async () => {
  await page.goto(`${server.url}/m/`);
  await page.waitForSelector('#badge', { timeout: 60000 });
  await page.click('#lang');
  await page.fill('#badge', OFFICER);
  await page.fill('#password', PASSWORD);
  await page.click('#next');
  await page.fill('#pin', PIN);
  await page.fill('#pin2', PIN);
  await page.click('#next');
  await page.waitForSelector('#sync', { timeout: 120000 });

  await page.click('#patrol');
  await page.waitForSelector('#patrol-points');
  assert.equal(await points(), 1, 'the first point is where the patrol starts');
  // The app looks at the position every TRACK_EVERY (10 s) and keeps a point once the officer moved 10 m.
  for (let i = 1; i < track.length; i++) {
    await ctx.setGeolocation({ latitude: track[i][0], longitude: track[i][1], accuracy: 5 });
    await page.waitForFunction((n) => Number(document.getElementById('patrol-points')?.innerText) === n, i + 1, { timeout: 40000 });
  }
  await page.click('#patrol');
  await page.waitForSelector('#f-track');
  // Stopping adds where the officer stands: the last point again, no distance.
  assert.match(await page.locator('#f-track').innerText(), /6 track points/);
  const onPhone = Number((await page.locator('#f-distance_m').innerText()).match(/\d+/)?.[0]);
  console.log(`track ${trueLength.toFixed(1)} m; the phone derived ${onPhone} m`);
  assert.ok(Math.abs(onPhone - trueLength) <= TOLERANCE_M, `${onPhone} m on the phone, the track is ${trueLength.toFixed(1)} m`);

  await page.click('#f-mode [data-value="foot"]');
  await page.fill('#f-route', route);
  await page.click('#finalize');
  await page.waitForSelector('#finalize', { state: 'detached' });
  await home();
  await page.click('#sync');
  await page.locator('.notice', { hasText: /^Synced: / }).waitFor({ timeout: 60000 });

  const stored = await patrolOnServer();
  assert.ok(stored, 'the patrol reached the server');
  assert.equal(stored.values.track.length, 6);
  assert.equal(stored.values.distance_m, onPhone, 'the server derives the same distance');
});

test('with the location refused, the app says so and what to do', async () => {
  await ctx.clearPermissions();
  await page.reload();
  await page.waitForSelector('#pin', { timeout: 60000 });
  await page.fill('#pin', PIN);
  await page.click('#next');
  await page.waitForSelector('#sync', { timeout: 60000 });
  const refused = 'Location was refused: allow this app to use the location in the browser or phone settings';

  await page.click('#hazard'); // the grid's hazards to follow up
  await page.click('#hazard-new');
  await page.click('.geo button');
  await page.locator('.notice', { hasText: refused }).waitFor({ timeout: 10000 });
  await home();

  await page.click('#patrol');
  await page.locator('.notice', { hasText: `Patrol started, but there is no position, so no track is recorded yet. ${refused}` }).waitFor({ timeout: 10000 });
  assert.equal(await points(), 0);
});
