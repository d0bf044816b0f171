// Swagger UI under the service's Content-Security-Policy: the page renders its operations and nothing is blocked.
// Usage: node swagger-check.mjs <baseUrl> <screenshotPath>
// Prints one JSON summary line; exits 1 when any check fails.
import { runPageCheck } from './browser-session.mjs';

const [baseUrl, screenshotPath] = process.argv.slice(2);
if (!baseUrl || !screenshotPath) {
  console.error('usage: node swagger-check.mjs <baseUrl> <screenshotPath>');
  process.exit(2);
}
const summary = { ok: false, baseUrl, steps: [], pageErrors: [], consoleErrors: [] };
const started = Date.now();
const step = (name) => summary.steps.push({ name, ms: Date.now() - started });

await runPageCheck({ baseUrl, path: 'swagger/index.html', screenshotPath, summary, step }, async (page) => {
  await page.locator('.swagger-ui .opblock').first().waitFor({ timeout: 30_000 });
  summary.operations = await page.locator('.swagger-ui .opblock').count();
  step(`${summary.operations} operations rendered`);
});
