// dashboard.mjs drives the dashboard in headless Chromium for
// TestDashboardInBrowser (cmd/aigateway/dashboard_test.go), which starts
// the gateway and sends the traffic. The protocol on stdout/stdin:
//   script: READY {"total": ...}   the page is open and shows every model
//   test:   go                     the traffic has been sent
//   script: DONE {...}             the numbers changed; the screenshot is written
// Any failure prints FAIL <why> and exits 1.
//
// Environment: AIGW_BROWSER_DIR (npm prefix holding playwright-core),
// DASHBOARD_URL, DASHBOARD_ADMIN_KEY, DASHBOARD_MODELS (every configured id,
// comma-separated), DASHBOARD_BUSY_MODELS (those the test sends traffic to),
// DASHBOARD_SCREENSHOT (PNG path), DASHBOARD_PROFILE (an empty directory).
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(path.join(process.env.AIGW_BROWSER_DIR, 'package.json'));
const { chromium } = require('playwright-core');

const url = process.env.DASHBOARD_URL;
const adminKey = process.env.DASHBOARD_ADMIN_KEY;
const models = process.env.DASHBOARD_MODELS.split(',');
const busy = process.env.DASHBOARD_BUSY_MODELS.split(',');
const stdin = readline.createInterface({ input: process.stdin });
const lines = stdin[Symbol.asyncIterator]();

function fail(why) {
  console.log('FAIL ' + why);
  process.exit(1);
}

const context = await chromium.launchPersistentContext(process.env.DASHBOARD_PROFILE, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = context.pages()[0] || await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push('page error: ' + err.message));
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push('console: ' + msg.text()); });
  page.on('requestfailed', (req) => problems.push('request failed: ' + req.url()));

  await page.goto(url + '/ui', { waitUntil: 'load' });
  // The gateway has keys: the page asks for the admin key.
  await page.waitForSelector('#login:not([hidden])', { timeout: 10000 });
  await page.fill('#key', adminKey);
  await page.click('#key-go');
  await page.waitForFunction(() => Number(document.body.dataset.updates || 0) >= 1, null, { timeout: 10000 });
  // The 401s that asked for the key were the point; anything from now on
  // is a problem.
  problems.length = 0;
  const shown = await page.$$eval('#models tr.model', (rows) => rows.map((r) => r.dataset.model));
  for (const m of models) {
    if (!shown.includes(m)) fail(`model ${m} is not shown (shown: ${shown.join(', ')})`);
  }
  const read = () => page.evaluate(() => ({
    total: Number(document.querySelector('#total').textContent.replace(/,/g, '')),
    recent: document.querySelectorAll('#recent tbody tr').length,
    requests: Object.fromEntries([...document.querySelectorAll('#models tr.model')].map(
      (r) => [r.dataset.model, Number(r.querySelector('td.requests').textContent.replace(/,/g, ''))])),
    canvases: ['chart-rate', 'chart-errors', 'chart-latency', 'chart-ttft'].filter(
      (id) => document.querySelector('#' + id + ' canvas')).length,
  }));
  const before = await read();
  console.log('READY ' + JSON.stringify(before));

  const next = await lines.next();
  if (next.done || next.value.trim() !== 'go') fail('the test did not say go');

  // The page polls every 2 s: wait for the traffic to show.
  await page.waitForFunction((n) => Number(document.querySelector('#total').textContent.replace(/,/g, '')) > n,
    before.total, { timeout: 15000 });
  // Ask for the usage now rather than at the next 10 s poll.
  await page.selectOption('#hours', '6');
  await page.waitForSelector('#chart-tokens-model canvas', { timeout: 15000 });
  await page.waitForTimeout(2500); // one more poll, so that every number is in
  const after = await read();
  for (const m of busy) {
    if (!(after.requests[m] > before.requests[m])) fail(`${m}: ${before.requests[m]} requests before, ${after.requests[m]} after`);
  }
  if (after.recent <= before.recent) fail(`recent requests: ${before.recent} rows before, ${after.recent} after`);
  if (after.canvases !== 4) fail(`${after.canvases} of the 4 live charts are drawn`);
  const usageCanvases = await page.$$eval('#usage-charts canvas', (c) => c.length);
  if (usageCanvases < 4) fail(`${usageCanvases} usage chart canvases`);
  if (problems.length) fail(problems.join('; '));
  await page.screenshot({ path: process.env.DASHBOARD_SCREENSHOT, fullPage: true });
  console.log('DONE ' + JSON.stringify(after));
} finally {
  await context.close();
  stdin.close();
}
