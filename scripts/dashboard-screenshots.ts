/**
 * Regenerates docs/dashboard/*.png: a gateway in this process with demo data (the browser tests'
 * fixture, on a temporary SQLite database), the system Chromium (puppeteer-core), one screenshot
 * per page at laptop width and a few at phone width.
 *
 *   npx tsx scripts/dashboard-screenshots.ts            # needs /usr/bin/chromium (or CHROMIUM_PATH)
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Page } from 'puppeteer-core';
import { PACKAGE_ROOT } from '../src/paths.js';
import { launchChromium, seed, signIn, startDashboardGateway } from '../test/dashboard/fixture.js';

const OUT = join(PACKAGE_ROOT, 'docs', 'dashboard');

const dir = mkdtempSync(join(tmpdir(), 's3o-shots-'));
const tg = await startDashboardGateway({ driver: 'sqlite', path: join(dir, 'store.db'), synchronous: 'normal', busyTimeoutMs: 5000, mmapBytes: 0 });
const browser = await launchChromium();
try {
  await seed(tg, { logObjects: 120 });
  // Some traffic spread over the last minutes, so the activity chart has a shape.
  const s3 = tg.client();
  for (let i = 0; i < 40; i++) await s3.send(new PutObjectCommand({ Bucket: 'logs', Key: `web/access-${i}.log`, Body: `GET / 200\n`.repeat(i + 1) }));

  mkdirSync(OUT, { recursive: true });
  const shoot = async (page: Page, path: string, file: string, fullPage = true) => {
    await page.goto(`${tg.url}${path}`, { waitUntil: 'load' });
    await page.screenshot({ path: join(OUT, file), fullPage });
    process.stdout.write(`docs/dashboard/${file}\n`);
  };

  const laptop = await (await browser.createBrowserContext()).newPage();
  await laptop.setViewport({ width: 1280, height: 800 });
  await shoot(laptop, '/ui/login', 'signin.png', false);
  if ((await signIn(laptop, tg.url)) !== 200) throw new Error('sign-in failed');
  await shoot(laptop, '/ui/backends', 'backends.png');
  await shoot(laptop, '/ui/buckets', 'buckets.png');
  await shoot(laptop, '/ui/buckets/photos?prefix=2024/', 'bucket-browser.png');
  await shoot(laptop, `/ui/buckets/photos/object?key=${encodeURIComponent('2024/cat.jpg')}`, 'object.png');
  await shoot(laptop, '/ui/queues', 'queues.png');
  const id = (await tg.store.cleanup.listDeadLetters())[0]!.id;
  await laptop.goto(`${tg.url}/ui/queues`, { waitUntil: 'load' });
  await Promise.all([laptop.waitForNavigation(), laptop.click(`tr[data-id="${id}"] form:nth-of-type(2) button`)]);
  await laptop.screenshot({ path: join(OUT, 'confirm-purge.png') });
  process.stdout.write('docs/dashboard/confirm-purge.png\n');
  await shoot(laptop, '/ui/activity', 'activity.png');

  const phone = await (await browser.createBrowserContext()).newPage();
  await phone.setViewport({ width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  if ((await signIn(phone, tg.url)) !== 200) throw new Error('sign-in failed');
  await shoot(phone, '/ui/backends', 'phone-backends.png', false);
  await shoot(phone, '/ui/queues', 'phone-queues.png', false);
} finally {
  await browser.close();
  await tg.close();
  rmSync(dir, { recursive: true, force: true });
}
