// What both browser checks share: Debian's Chromium (never a downloaded browser), the dashboard opened with
// the API key typed into its key field, a screenshot on success and on failure, and one JSON summary line
// on stdout with the exit code the .NET test reads.
import { chromium } from 'playwright-core';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';

/**
 * The command line the REST-driven checks share: <baseUrl> <screenshotPath> [--epochs N] [--timeout s]. Exits 2 with
 * the usage when a positional is missing; returns the values, an empty summary and the step recorder.
 */
export function checkCommandLine(script, defaultEpochs) {
  const { values: opts, positionals } = parseArgs({
    allowPositionals: true,
    options: { epochs: { type: 'string', default: String(defaultEpochs) }, timeout: { type: 'string', default: '180' } },
  });
  const [baseUrl, screenshotPath] = positionals;
  if (!baseUrl || !screenshotPath) {
    console.error(`usage: node ${script} <baseUrl> <screenshotPath> [--epochs N] [--timeout s]`);
    process.exit(2);
  }
  const epochs = Number(opts.epochs);
  const summary = { ok: false, baseUrl, epochs, steps: [], pageErrors: [] };
  const started = Date.now();
  const step = (name) => summary.steps.push({ name, ms: Date.now() - started });
  return { baseUrl, screenshotPath, epochs, timeoutMs: Number(opts.timeout) * 1000, summary, step };
}

/** REST with the key from API_KEY, as any API client would; the page is only the viewer. Throws on a non-2xx answer. */
export async function callApi(baseUrl, method, path, body) {
  const response = await fetch(new URL(path, baseUrl), {
    method,
    headers: { 'Content-Type': 'application/json', 'X-Api-Key': process.env.API_KEY ?? '' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/**
 * Opens the dashboard at baseUrl with the key from API_KEY, waits for its hub connection and runs
 * check(page). summary.ok is set when check returns; summary.error holds the first line of a failure.
 */
export async function runDashboardCheck({ baseUrl, screenshotPath, summary, step, contextOptions = {} }, check) {
  return runPageCheck({ baseUrl, screenshotPath, summary, step, contextOptions, withKey: true }, check);
}

/**
 * Opens baseUrl + path in Chromium and runs check(page); withKey types API_KEY into the dashboard's key field and
 * waits for its hub connection first. Fails on uncaught page errors and on anything the Content-Security-Policy blocked.
 */
export async function runPageCheck({ baseUrl, path = '', screenshotPath, summary, step, contextOptions = {}, withKey = false }, check) {
  const started = Date.now();
  summary.pageErrors ??= [];
  summary.consoleErrors ??= [];
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, ...contextOptions });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (e) => summary.pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') summary.consoleErrors.push(m.text()); });

    await page.goto(baseUrl + path, { waitUntil: 'load' });
    if (withKey) {
      await page.waitForFunction(() => window.__dashboard !== undefined);
      // A person pastes the key into the header field; saving reloads the page with it.
      await page.fill('#api-key', process.env.API_KEY ?? '');
      await Promise.all([page.waitForEvent('load'), page.click('#key-form button[type=submit]')]);
      await page.waitForFunction(() => window.__dashboard !== undefined);
      step('page loaded');
      await page.waitForFunction(() => window.__dashboard.state.connection === 'connected', null, { timeout: 30_000 });
      step('hub connected');
    }

    await check(page);
    if (summary.pageErrors.length > 0) throw new Error(`uncaught page errors: ${summary.pageErrors.join(' | ')}`);
    // The service's Content-Security-Policy must not block anything the page loads or runs.
    const blocked = summary.consoleErrors.filter((m) => /Content Security Policy/i.test(m));
    if (blocked.length > 0) throw new Error(`blocked by the Content-Security-Policy: ${blocked.join(' | ')}`);

    await mkdir(dirname(screenshotPath), { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true });
    step('screenshot saved');
    summary.ok = true;
  } catch (e) {
    summary.error = e.message.split('\n')[0];
    // A screenshot of the failure is the most useful artifact of all.
    const pages = browser?.contexts().flatMap((c) => c.pages()) ?? [];
    if (pages[0]) {
      await mkdir(dirname(screenshotPath), { recursive: true }).catch(() => {});
      await pages[0].screenshot({ path: screenshotPath, fullPage: true }).catch(() => {});
    }
  } finally {
    await browser?.close();
    summary.elapsedMs = Date.now() - started;
    console.log(JSON.stringify(summary));
    process.exitCode = summary.ok ? 0 : 1;
  }
}
