// Bundles the dashboard into ../wwwroot/dist (app.js + app.css). `node build.mjs --watch` rebuilds on change.
import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const options = {
  absWorkingDir: here,
  entryPoints: { app: 'src/main.js' },
  outdir: '../wwwroot/dist',
  bundle: true,
  format: 'iife',
  target: ['es2020'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'info',
};

if (process.argv.includes('--watch')) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
