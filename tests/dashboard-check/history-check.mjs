// Opens an already trained job (#job-<id>) whose history is longer than the hub replays (Training:HubReplayEpochs):
// the detail panel shows the HistoryTruncated note and the chart still has every epoch, the older ones from REST.
// Usage: API_KEY=<key> node history-check.mjs <baseUrl> <screenshotPath> <jobId> <epochs>
// Prints one JSON summary line; exits 1 when any check fails.
import { runDashboardCheck } from './browser-session.mjs';

const [baseUrl, screenshotPath, jobId, epochsText] = process.argv.slice(2);
if (!baseUrl || !screenshotPath || !jobId || !epochsText) {
  console.error('usage: node history-check.mjs <baseUrl> <screenshotPath> <jobId> <epochs>');
  process.exit(2);
}
const epochs = Number(epochsText);
const summary = { ok: false, baseUrl, jobId: Number(jobId), epochs, steps: [], pageErrors: [], consoleErrors: [] };
const started = Date.now();
const step = (name) => summary.steps.push({ name, ms: Date.now() - started });

await runDashboardCheck({ baseUrl, screenshotPath, summary, step }, async (page) => {
  // The dashboard opens the job named in the address at start-up; a hash change alone does not reload the page.
  await page.goto(`${baseUrl}#job-${jobId}`);
  await page.reload({ waitUntil: 'load' });
  await page.waitForFunction(() => window.__dashboard?.state.connection === 'connected', null, { timeout: 30_000 });
  const note = page.locator('#history-note');
  await note.waitFor({ state: 'visible', timeout: 30_000 });
  summary.note = await note.textContent();
  summary.noteOmitted = Number(await note.getAttribute('data-omitted'));
  summary.noteLoaded = (await note.getAttribute('data-loaded')) === 'true';
  step('history note shown');
  await page.waitForFunction((n) => Number(document.getElementById('charts').dataset.points) === n, epochs, { timeout: 10_000 });
  summary.chartEpochs = (await page.evaluate(() => window.__dashboard.state)).epochs;
  step('chart has every epoch');
});
