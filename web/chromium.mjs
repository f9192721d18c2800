// web/chromium.mjs: Debian's chromium, driven by playwright-core, for the web tests and bench.
//
// Browser downloads are impossible here, so playwright-core (web/package.json's devDependency)
// drives /usr/bin/chromium (scripts/deps.sh installs the package). chromium.launch() starts it
// with a new, empty, temporary profile (--user-data-dir) every time; each browser context then
// has its own empty cache and storage.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const CHROMIUM = process.env.TANDEM_CHROMIUM || '/usr/bin/chromium';
export const ARGS = [
    '--headless',
    '--no-sandbox', // root has no user namespace sandbox here
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
];

export async function launchChromium() {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (scripts/deps.sh installs the chromium package)`);
    const { chromium } = await import(path.join(HERE, 'node_modules', 'playwright-core', 'index.mjs'));
    return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 60000 });
}

// axe-core's script, to inject into a page.
export const AXE = path.join(HERE, 'node_modules', 'axe-core', 'axe.min.js');
