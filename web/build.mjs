// web/build.mjs: the blog's pages, built for the web service.
//
//   node build.mjs --out DIR        (CMake runs it into <build>/share/tandem/web)
//
// esbuild bundles src/main.js (and the CSS it imports) into ES modules, minified, the Markdown
// renderer split off into its own chunk (only the article page loads it); every file under
// assets/ is named by the hash of its content (app.<hash>.js), so the web service can let
// browsers keep it for a year, and index.html (revalidated on every load) names the current
// ones. Each text file also gets a .gz twin (gzip -9) that the service sends to browsers that
// accept gzip. The build fails when the compressed JavaScript and CSS pass the budget (80 KiB).
import * as esbuild from 'esbuild';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUDGET = 80 * 1024;
const COMPRESS = /\.(html|js|css|svg|json|txt)$/;

const argOut = process.argv.indexOf('--out');
if (argOut < 0 || !process.argv[argOut + 1]) {
    console.error('usage: node build.mjs --out DIR');
    process.exit(2);
}
const out = path.resolve(process.argv[argOut + 1]);
const tmp = `${out}.tmp-${process.pid}`;
fs.rmSync(tmp, { recursive: true, force: true });
const assets = path.join(tmp, 'assets');
fs.mkdirSync(assets, { recursive: true });

const result = await esbuild.build({
    absWorkingDir: HERE,
    entryPoints: { app: 'src/main.js' },
    bundle: true,
    splitting: true,
    format: 'esm',
    minify: true,
    target: ['es2022', 'chrome100', 'firefox100', 'safari15.4'],
    outdir: assets,
    entryNames: '[name].[hash]',
    chunkNames: '[name].[hash]',
    assetNames: '[name].[hash]',
    metafile: true,
    legalComments: 'linked',
    logLevel: 'warning',
});

// The favicon, named by its content like the rest.
const favicon = fs.readFileSync(path.join(HERE, 'src', 'favicon.svg'));
const favName = `favicon.${crypto.createHash('sha256').update(favicon).digest('hex').slice(0, 10)}.svg`;
fs.writeFileSync(path.join(assets, favName), favicon);

const outputs = Object.entries(result.metafile.outputs);
const entry = outputs.find(([, o]) => o.entryPoint === 'src/main.js');
const js = path.basename(entry[0]);
const css = path.basename(entry[1].cssBundle);
const html = fs
    .readFileSync(path.join(HERE, 'src', 'index.html'), 'utf8')
    .replace('%JS%', `/assets/${js}`)
    .replace('%CSS%', `/assets/${css}`)
    .replace('%FAVICON%', `/assets/${favName}`);
fs.writeFileSync(path.join(tmp, 'index.html'), html);

// .gz twins, and the sizes.
let budget = 0;
const rows = [];
for (const dir of [tmp, assets]) {
    for (const name of fs.readdirSync(dir).sort()) {
        const file = path.join(dir, name);
        if (!fs.statSync(file).isFile() || !COMPRESS.test(name)) continue;
        const raw = fs.readFileSync(file);
        const gz = zlib.gzipSync(raw, { level: 9 });
        if (gz.length < raw.length) fs.writeFileSync(`${file}.gz`, gz);
        const size = Math.min(gz.length, raw.length);
        if (/\.(js|css)$/.test(name)) budget += size;
        rows.push(`  ${path.relative(tmp, file).padEnd(36)} ${String(raw.length).padStart(7)} B  ${String(size).padStart(6)} B gzip`);
    }
}

fs.rmSync(out, { recursive: true, force: true });
fs.renameSync(tmp, out);
console.log(`web: ${out}\n${rows.join('\n')}\n  JavaScript + CSS, gzip: ${budget} B (budget ${BUDGET} B)`);
if (budget > BUDGET) {
    console.error(`web: the compressed JavaScript and CSS (${budget} B) pass the budget of ${BUDGET} B`);
    process.exit(1);
}
