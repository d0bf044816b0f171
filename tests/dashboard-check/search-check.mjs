// Drives the dashboard's Searches panel: a small ASHA search is created over REST and opened at once; the panel must
// follow it live (hub SearchProgress events and each trial's epochs) to the end: a curve per trial, a dot per trial.
// Usage: API_KEY=<key> node search-check.mjs <baseUrl> <screenshotPath> [--epochs 3] [--timeout 180]
// Prints one JSON summary line; exits 1 when any check fails. Uses Debian's Chromium, never a downloaded browser.
import { callApi, checkCommandLine, runDashboardCheck } from './browser-session.mjs';

const { baseUrl, screenshotPath, epochs, timeoutMs, summary, step } = checkCommandLine('search-check.mjs', 3);

const call = (method, path, body) => callApi(baseUrl, method, path, body);

await runDashboardCheck({ baseUrl, screenshotPath, summary, step, contextOptions: { viewport: { width: 1400, height: 1400 } } }, async (page) => {
  const dataset = await call('POST', 'datasets/synthetic', { name: 'search spirals', kind: 'spirals', size: 200, classes: 3, seed: 5 });
  const spec = { input: [2], layers: [{ type: 'dense', units: 16 }, { type: 'relu' }, { type: 'dense', units: 3 }], loss: 'softmax_cross_entropy' };
  // A long job holds the one worker, so the search's trials wait until the panel has it open.
  const big = await call('POST', 'datasets/synthetic', { name: 'blocker', kind: 'spirals', size: 2000, classes: 3, seed: 5 });
  const blocker = await call('POST', 'jobs', {
    datasetId: big.id, epochs: 1000, batchSize: 16,
    spec: { input: [2], layers: [{ type: 'dense', units: 128 }, { type: 'relu' }, { type: 'dense', units: 3 }], loss: 'softmax_cross_entropy' },
  });
  while ((await call('GET', `jobs/${blocker.id}`)).status !== 'running') await new Promise((r) => setTimeout(r, 50));
  const search = await call('POST', 'searches', {
    name: 'search check',
    baseJob: { spec, datasetId: dataset.id, batchSize: 32, validationSplit: 0.25 },
    space: { 'optimizer.learningRate': { type: 'loguniform', min: 0.0003, max: 0.3 } },
    maxTrials: 3, maxEpochs: epochs, algorithm: 'asha', eta: 3, seed: 4,
  });
  summary.searchId = search.id;
  step(`search ${search.id} created`);

  await page.click('#searches-refresh');
  await page.locator(`#searches-body tr[data-id="${search.id}"]`).click();
  // Subscribed, so the trials' events from here on reach the panel.
  await page.waitForFunction((id) => document.getElementById('search-summary').dataset.following === id, String(search.id));
  summary.openedWhile = await page.evaluate(() => document.getElementById('search-summary').dataset.status);
  await call('POST', `jobs/${blocker.id}/cancel`);
  // No polling in the panel: only the hub's events can take it to the end. It waits on the service's own state: once the
  // search has ended there, the panel gets a short while to show it, however long the trials took on a loaded machine.
  const deadline = Date.now() + timeoutMs;
  let ended = null;
  while (ended == null && Date.now() < deadline) {
    const s = await call('GET', `searches/${search.id}`);
    if (s.status !== 'running') ended = s; else await new Promise((r) => setTimeout(r, 250));
  }
  step(`search ${ended?.status ?? 'still running'} in the service`);
  try {
    await page.waitForFunction((status) => document.getElementById('search-summary').dataset.status === status,
      ended?.status ?? 'succeeded', { timeout: 30_000, polling: 100 });
  } catch (e) {
    summary.panel = await page.evaluate(() => ({ status: document.getElementById('search-summary').dataset.status,
      text: document.getElementById('search-summary').textContent, connection: window.__dashboard.state.connection }));
    summary.service = await call('GET', `searches/${search.id}`);
    throw e;
  }
  step('search finished in the panel');
  const final = await call('GET', `searches/${search.id}`);
  summary.epochsTrained = final.epochsTrained;
  await page.waitForFunction((points) => document.getElementById('search-chart').dataset.points === points,
    String(final.epochsTrained), { timeout: 30_000, polling: 100 });
  step('every trial epoch is on the chart');
  summary.series = Number(await page.locator('#search-chart').getAttribute('data-series'));
  summary.points = Number(await page.locator('#search-chart').getAttribute('data-points'));
  summary.dots = Number(await page.locator('#search-scatter').getAttribute('data-points'));
  summary.summaryText = await page.locator('#search-summary').textContent();
});
