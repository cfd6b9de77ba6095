// web/build.mjs: bundles the web application into dist/ (embedded in the vigie binary by
// scripts/embed_web.c, served at / and /display/...). No CDN: every library comes from
// node_modules, pinned by package-lock.json.
//   dist/index.html, dist/display.html      pages (copied from src/)
//   dist/assets/app.{js,css}, chunk-*.js     the operations dashboard (src/app.js, ES module)
//   dist/assets/display.{js,css}             public displays and the embedded view (src/display.js)
//   dist/assets/widget.js                    the embedding script a city website includes
//   dist/assets/*                            images and data the bundles reference
import * as esbuild from 'esbuild';
import { cpSync, existsSync, mkdirSync, rmSync, readdirSync } from 'node:fs';

const dev = process.argv.includes('--dev');
rmSync('dist', { recursive: true, force: true });
mkdirSync('dist/assets', { recursive: true });

const common = {
  bundle: true,
  outdir: 'dist/assets',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: !dev,
  sourcemap: false,
  legalComments: 'linked',
  loader: { '.png': 'file', '.svg': 'file', '.json': 'json' },
  assetNames: '[name]',
  logLevel: 'warning',
};
// The dashboard: an ES module split in chunks, the views other than the overview loaded on
// first use (chunk-<hash>.js); index.html loads it with <script type="module">.
if (existsSync('src/app.js'))
  await esbuild.build({ ...common, entryPoints: ['src/app.js'], format: 'esm', splitting: true, chunkNames: 'chunk-[hash]' });
// The display pages and the widget: one classic script each (the widget runs on other sites).
await esbuild.build({
  ...common,
  entryPoints: ['src/display.js', 'src/widget.js'].filter((f) => existsSync(f)),
  format: 'iife',
});

for (const f of existsSync('src') ? readdirSync('src') : []) {
  if (f.endsWith('.html')) cpSync(`src/${f}`, `dist/${f}`);
}
console.log('web: dist/ built');
