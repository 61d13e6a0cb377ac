import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const p = await b.newPage({ viewport: { width: 840, height: 760 } });
await p.setContent(`<html><body style="margin:0">${readFileSync(process.argv[2], 'utf8')}</body></html>`);
await p.screenshot({ path: '/tmp/latest.png', timeout: 120000 });
await b.close();
