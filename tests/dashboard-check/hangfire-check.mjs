// Opens Hangfire's Dashboard the way a person does: the service's dashboard with the admin key saved, then its Hangfire
// link, which signs in (an HttpOnly cookie) and loads /hangfire. Checks the page was refused before the sign-in, that
// the cookie is out of the page's reach, that a trained job is listed as succeeded, and that the page is read-only.
// Usage: API_KEY=<admin key> node hangfire-check.mjs <baseUrl> <screenshotPath> [--epochs 2] [--timeout 180]
// Prints one JSON summary line; exits 1 when any check fails. Uses Debian's Chromium, never a downloaded browser.
import { callApi, checkCommandLine, runDashboardCheck } from './browser-session.mjs';

const { baseUrl, screenshotPath, epochs, timeoutMs, summary, step } = checkCommandLine('hangfire-check.mjs', 2);

const call = (method, path, body) => callApi(baseUrl, method, path, body);

await runDashboardCheck({ baseUrl, screenshotPath, summary, step }, async (page) => {
  // A job trained to the end, so Hangfire has one to list.
  const dataset = await call('POST', 'datasets/synthetic', { name: 'hangfire check', kind: 'xor', size: 64, classes: 2, seed: 3 });
  const spec = { input: [2], layers: [{ type: 'dense', units: 8 }, { type: 'relu' }, { type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' };
  const job = await call('POST', 'jobs', { spec, datasetId: dataset.id, epochs, batchSize: 16, seed: 7 });
  summary.jobId = job.id;
  for (const deadline = Date.now() + timeoutMs; ; ) {
    const now = await call('GET', `jobs/${job.id}`);
    if (now.status === 'succeeded') break;
    if (now.status === 'failed' || now.status === 'cancelled' || Date.now() > deadline) throw new Error(`job ${job.id} ended ${now.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  step(`job ${job.id} succeeded`);

  // The browser itself, before any sign-in: refused, and not with the page.
  const before = await page.context().request.get(new URL('hangfire/', baseUrl).href);
  summary.statusBeforeSignIn = before.status();
  summary.pageBeforeSignIn = (await before.text()).includes('navbar');

  await Promise.all([page.waitForURL(/\/hangfire\/?$/), page.click('#hangfire-link')]);
  await page.waitForSelector('.navbar-brand');
  step('hangfire dashboard loaded');
  summary.brand = (await page.locator('.navbar-brand').first().textContent()).trim();
  summary.cookieVisibleToScript = await page.evaluate(() => document.cookie.includes('hangfire_key'));
  const cookies = await page.context().cookies();
  const cookie = cookies.find((c) => c.name === 'hangfire_key');
  summary.cookie = cookie && { httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, path: cookie.path };

  await page.goto(new URL('hangfire/jobs/succeeded', baseUrl).href);
  await page.waitForSelector('#page-title');
  summary.succeededListsJob = (await page.content()).includes(`Train job ${job.id}`);
  // Read-only: none of the buttons that delete or re-queue jobs is drawn.
  summary.commandButtons = await page.locator('.js-jobs-list-command, [data-ajax]').count();
  step('succeeded list read');
  await page.goto(new URL('hangfire/', baseUrl).href);
  await page.waitForSelector('.navbar-brand');
});
