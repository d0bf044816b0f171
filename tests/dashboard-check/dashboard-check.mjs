// Drives the dashboard as a person would: quick start form → live chart → final status → downloads → screenshot.
// Usage: API_KEY=<key> node dashboard-check.mjs <baseUrl> <screenshotPath> [--epochs 5] [--size 400] [--timeout 180]
//        [--formats safetensors,json,onnx]
// Prints one JSON summary line; exits 1 when any check fails. Uses Debian's Chromium, never a downloaded browser.
import { runDashboardCheck } from './browser-session.mjs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    epochs: { type: 'string', default: '5' },
    size: { type: 'string', default: '400' },
    timeout: { type: 'string', default: '180' },
    formats: { type: 'string', default: 'safetensors,json,onnx' },
  },
});
const [baseUrl, screenshotPath] = positionals;
if (!baseUrl || !screenshotPath) {
  console.error('usage: node dashboard-check.mjs <baseUrl> <screenshotPath> [--epochs N] [--size N] [--timeout s] [--formats list]');
  process.exit(2);
}
const epochs = Number(opts.epochs);
const timeoutMs = Number(opts.timeout) * 1000;

const summary = { ok: false, baseUrl, epochs, screenshot: screenshotPath, steps: [], downloads: [], pageErrors: [], consoleErrors: [] };
const started = Date.now();
const step = (name) => summary.steps.push({ name, ms: Date.now() - started });
const fail = (message) => { throw new Error(message); };

/** Checks a downloaded weights file by its format's own header, not just its size. */
async function checkFile(format, path) {
  const bytes = await readFile(path);
  if (bytes.length === 0) fail(`${format}: the download is empty`);
  if (format === 'safetensors') {
    // 8-byte little-endian header length, then a JSON header naming each tensor's dtype, shape and offsets.
    const headerLength = Number(bytes.readBigUInt64LE(0));
    if (headerLength <= 0 || 8 + headerLength > bytes.length) fail(`safetensors: header length ${headerLength} does not fit ${bytes.length} bytes`);
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    const tensors = Object.keys(header).filter((k) => k !== '__metadata__');
    if (tensors.length === 0) fail('safetensors: no tensors in the header');
    return { tensors: tensors.length };
  }
  if (format === 'json') {
    const parsed = JSON.parse(bytes.toString('utf8'));
    return { keys: Object.keys(parsed).slice(0, 5) };
  }
  if (format === 'onnx') {
    // A ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
    if (bytes[0] !== 0x08) fail(`onnx: first byte 0x${bytes[0].toString(16)} is not the ir_version tag`);
    return {};
  }
  return {};
}

await runDashboardCheck(
  { baseUrl, screenshotPath, summary, step, contextOptions: { acceptDownloads: true } },
  async (page) => {
    // Record every value the chart's point count takes, so "one point per epoch" is checked, not just the end.
    await page.evaluate(() => {
      const charts = document.getElementById('charts');
      window.__pointLog = [];
      // Several redraws can land in one observer callback; each record's oldValue recovers the values in between.
      new MutationObserver((records) => {
        records.forEach((record, i) => {
          const value = i + 1 < records.length ? records[i + 1].oldValue : charts.dataset.points;
          window.__pointLog.push({ job: charts.dataset.job, points: Number(value) });
        });
      }).observe(charts, { attributes: true, attributeOldValue: true, attributeFilter: ['data-points'] });
    });

    const form = page.locator('#quick-start');
    // The image data set comes with a CNN preset for its [1, 16, 16] samples.
    await form.getByLabel('Data', { exact: true }).selectOption('stripes');
    const cnn = JSON.parse(await form.locator('[name="spec"]').inputValue());
    summary.stripesPreset = cnn.layers.map((l) => l.type).join(',');
    if (JSON.stringify(cnn.input) !== '[1,16,16]' || !cnn.layers.some((l) => l.type === 'conv2d')) fail(`stripes preset is not a CNN: ${JSON.stringify(cnn)}`);
    await form.getByLabel('Data', { exact: true }).selectOption('spirals');
    await form.getByLabel('Samples', { exact: true }).fill(String(opts.size));
    await form.getByLabel('Epochs', { exact: true }).fill(String(epochs));
    await form.getByRole('button', { name: 'Create and train' }).click();
    step('form submitted');

    const jobHandle = await page.waitForFunction(() => window.__dashboard.state.selectedJobId, null, { timeout: 30_000 });
    summary.jobId = await jobHandle.jsonValue();
    step(`job ${summary.jobId} selected`);

    await page.locator('#detail-status[data-status="succeeded"]').waitFor({ timeout: timeoutMs });
    step('status Succeeded');
    await page.waitForFunction((n) => Number(document.getElementById('charts').dataset.points) === n, epochs, { timeout: 10_000 });
    const state = await page.evaluate(() => window.__dashboard.state);
    summary.points = state.points;
    summary.chartEpochs = state.epochs;
    summary.status = await page.locator('#detail-status').textContent();
    const expected = Array.from({ length: epochs }, (_, i) => i + 1);
    if (JSON.stringify(state.epochs) !== JSON.stringify(expected)) fail(`chart epochs ${JSON.stringify(state.epochs)}, expected 1..${epochs}`);

    // The job's own points, in the order they appeared: each change must add exactly one.
    const log = (await page.evaluate(() => window.__pointLog)).filter((e) => e.job === String(summary.jobId));
    const counts = log.map((e) => e.points).filter((p, i, all) => i === 0 || p !== all[i - 1]);
    summary.pointSteps = counts;
    for (let i = 1; i < counts.length; i++) {
      if (counts[i] !== counts[i - 1] + 1) fail(`chart went from ${counts[i - 1]} to ${counts[i]} points in one change`);
    }
    if (counts.at(-1) !== epochs) fail(`chart ended with ${counts.at(-1)} points, expected ${epochs}`);
    step('chart has one point per epoch');

    // Layer diagnostics: one histogram per layer for the last epoch.
    await page.waitForFunction((n) => Number(document.getElementById('layers').dataset.epoch) === n, epochs, { timeout: 10_000 });
    summary.layerHistograms = await page.locator('#layers figure.layer svg').count();
    summary.histogramBars = await page.locator('#layers figure.layer svg').first().locator('rect').count();
    step(`${summary.layerHistograms} layer histograms`);

    const downloadDir = join(tmpdir(), `dashboard-check-${process.pid}`);
    await mkdir(downloadDir, { recursive: true });
    for (const format of opts.formats.split(',').filter(Boolean)) {
      const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: 30_000 }),
        page.locator(`button[data-format="${format}"]`).click(),
      ]);
      const target = join(downloadDir, download.suggestedFilename());
      await download.saveAs(target);
      const { size } = await stat(target);
      summary.downloads.push({ format, name: download.suggestedFilename(), bytes: size, ...(await checkFile(format, target)) });
    }
    step('downloads checked');
    if (await page.locator('#action-error').isVisible()) fail(`action error shown: ${await page.locator('#action-error').textContent()}`);
  });
