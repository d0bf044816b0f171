// Drives the dashboard's Experiments panel: an experiment with two variations is created over REST, then opened
// in the panel, whose overlay chart must show one series per variation reaching the final epoch.
// Usage: API_KEY=<key> node experiment-check.mjs <baseUrl> <screenshotPath> [--epochs 5] [--timeout 180]
// Prints one JSON summary line; exits 1 when any check fails. Uses Debian's Chromium, never a downloaded browser.
import { checkCommandLine, runDashboardCheck } from './browser-session.mjs';

const { baseUrl, screenshotPath, epochs, timeoutMs, summary, step } = checkCommandLine('experiment-check.mjs', 5);

/** POSTs JSON with the key, as any API client would; the page is only the viewer here. */
async function post(path, body) {
  const response = await fetch(new URL(path, baseUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Api-Key': process.env.API_KEY ?? '' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

await runDashboardCheck({ baseUrl, screenshotPath, summary, step, contextOptions: { viewport: { width: 1400, height: 1200 } } }, async (page) => {
  const dataset = await post('datasets/synthetic', { name: 'overlay spirals', kind: 'spirals', size: 300, classes: 3, seed: 5 });
  const spec = {
    input: [2],
    layers: [{ type: 'dense', units: 16 }, { type: 'relu' }, { type: 'dense', units: 3 }],
    loss: 'softmax_cross_entropy',
  };
  const experiment = await post('experiments', {
    name: 'overlay check',
    baseJob: { spec, datasetId: dataset.id, epochs, batchSize: 32, seed: 7, validationSplit: 0.2, optimizer: { type: 'adam', learningRate: 0.01 } },
    variations: [{ name: 'sgd', optimizer: 'sgd', learningRate: 0.1 }, { name: 'adam' }],
  });
  summary.experimentId = experiment.id;
  step(`experiment ${experiment.id} created`);

  // Opened at once, while its jobs are queued or training, so the curves have to grow live.
  await page.click('#experiments-refresh');
  await page.locator(`#experiments-body tr[data-id="${experiment.id}"]`).click();
  const chart = page.locator('#experiment-chart');
  await page.waitForFunction(() => document.getElementById('experiment-chart').dataset.series === '2');
  step('chart has 2 series');
  // The final epoch can come first (the experiment's REST numbers) and the history after it (each Subscribe
  // replays its job's epochs in turn), so wait for every point, not just for each curve's last epoch.
  const expected = { lastEpochs: `${epochs},${epochs}`, points: String(2 * epochs) };
  await page.waitForFunction((e) => {
    const { lastEpochs, points } = document.getElementById('experiment-chart').dataset;
    return lastEpochs === e.lastEpochs && points === e.points;
  }, expected, { timeout: timeoutMs });
  step('both series have every epoch');

  summary.series = Number(await chart.getAttribute('data-series'));
  summary.points = Number(await chart.getAttribute('data-points'));
  summary.lastEpochs = (await chart.getAttribute('data-last-epochs')).split(',').map(Number);
  summary.state = await page.evaluate(() => window.__dashboard.state.experiment);
  summary.legend = await page.locator('#experiment-chart .u-legend .u-series .u-label').allTextContents();
  // Both jobs end Succeeded; the table is reloaded on each status change.
  await page.waitForFunction(() => [...document.querySelectorAll('#experiment-jobs tr')]
    .filter((r) => r.textContent.includes('Succeeded')).length === 2, null, { timeout: timeoutMs });
  summary.tableRows = await page.locator('#experiment-jobs tr').allTextContents();
});
