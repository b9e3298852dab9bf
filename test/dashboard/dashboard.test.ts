import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DOWNLOAD_LINK_SECONDS } from '../../src/dashboard/index.js';
import { createScratchDatabase, dropDatabase } from '../../scripts/lib/postgres-server.js';
import { postgresConfig } from '../support/engines.js';
import { ADMIN, launchChromium, READER, seed, signIn, startDashboardGateway, textOf, type DashboardGateway, type Seeded } from './fixture.js';

/**
 * The operator dashboard in a real browser (the system Chromium through puppeteer-core) against a
 * gateway with real data on PostgreSQL: sign-in, every page, the bucket browser and a presigned
 * download, a dead-letter requeue and purge through the page (checked in the database), CSRF and
 * expired sessions refused, refresh without reload, phone width.
 */

let browser: Browser;
let tg: DashboardGateway;
let seeded: Seeded;
let database: string | undefined;

// One database for the whole file (createTestDatabase's would be dropped after the first test).
beforeAll(async () => {
  browser = await launchChromium();
  const { admin, template } = inject('postgres');
  database = await createScratchDatabase(admin, 's3o_dash', { template });
  tg = await startDashboardGateway(postgresConfig(database));
  seeded = await seed(tg);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await tg?.close();
  if (database) await dropDatabase(inject('postgres').admin, database);
});

async function newPage(width = 1280, height = 900): Promise<Page> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width, height });
  return page;
}

async function cookieOf(page: Page) {
  return (await page.browserContext().cookies()).find((c) => c.name === 's3o_ui');
}

/** A form POST from inside the page (same origin, the session cookie attached): status and body. */
async function postFrom(page: Page, path: string, fields: Record<string, string>): Promise<{ status: number; body: string }> {
  return page.evaluate(
    async (p: string, f: Record<string, string>) => {
      const res = await fetch(p, { method: 'POST', body: new URLSearchParams(f), credentials: 'same-origin', redirect: 'manual' });
      return { status: res.status, body: await res.text() };
    },
    path,
    fields,
  );
}

describe('sign-in', () => {
  it('a wrong secret is refused with no session; the right one signs in with an HttpOnly, SameSite=Strict cookie and never shows the secret', async () => {
    const page = await newPage();
    const bad = await signIn(page, tg.url, { accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'not-the-secret' });
    expect(bad).toBe(401);
    expect(await textOf(page, '.error')).toMatch(/Sign-in failed/);
    expect(await cookieOf(page)).toBeUndefined();
    expect(page.url()).toBe(`${tg.url}/ui/login`);

    const good = await signIn(page, tg.url);
    expect(good).toBe(200);
    expect(page.url()).toBe(`${tg.url}/ui/backends`);
    const cookie = await cookieOf(page);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/ui' });
    expect(cookie!.expires).toBeGreaterThan(Date.now() / 1000 + 7 * 3600);
    expect(cookie!.value).not.toContain(ADMIN.secretAccessKey);
    expect(await textOf(page, '.who')).toBe(ADMIN.accessKeyId);
    expect(await page.content()).not.toContain(ADMIN.secretAccessKey);
    // The script cannot read the cookie.
    expect(await page.evaluate('document.cookie')).toBe('');
    await page.browserContext().close();
  });

  it('a credential that is not admin cannot sign in', async () => {
    const page = await newPage();
    expect(await signIn(page, tg.url, READER)).toBe(401);
    expect(await cookieOf(page)).toBeUndefined();
    await page.browserContext().close();
  });

  it('an unsigned visit to a page is sent to the sign-in form and back to the page after it', async () => {
    const page = await newPage();
    await page.goto(`${tg.url}/ui/queues`, { waitUntil: 'load' });
    expect(new URL(page.url()).pathname).toBe('/ui/login');
    await page.type('input[name=accessKeyId]', ADMIN.accessKeyId);
    await page.type('input[name=secretAccessKey]', ADMIN.secretAccessKey);
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    expect(page.url()).toBe(`${tg.url}/ui/queues`);
    await page.browserContext().close();
  });
});

describe('pages with real data', () => {
  let page: Page;
  beforeAll(async () => {
    page = await newPage();
    expect(await signIn(page, tg.url)).toBe(200);
  });
  afterAll(async () => page?.browserContext().close());

  it('Backends: a bar and the figures of each backend as the store has them, breaker state, monthly usage, fleet totals', async () => {
    await page.goto(`${tg.url}/ui/backends`, { waitUntil: 'load' });
    const quota = await tg.store.quota.totals();
    const alpha = quota.find((q) => q.backendName === 'alpha')!;
    expect(alpha.bytesUsed).toBeGreaterThan(0);
    const card = '[data-backend=alpha]';
    expect(await page.$$eval('.backend', (els) => els.map((e) => e.getAttribute('data-backend')))).toEqual(['alpha', 'beta']);
    expect(await page.$$eval(`${card} svg.bar rect.seg-used`, (els) => els.length)).toBe(1);
    const used = await textOf(page, `${card} [data-field=used]`);
    expect(used).toBe(formatBytes(alpha.bytesUsed));
    expect(await textOf(page, `${card} [data-field=orphan]`)).toBe(formatBytes(alpha.orphanBytes));
    expect(await textOf(page, `${card} [data-field=limit]`)).toContain('64.0 MiB');
    expect(await textOf(page, `${card} .badge`)).toBe('healthy');
    expect(await textOf(page, '[data-backend=beta] [data-field=free]')).toBe('unlimited');
    // Object copies on alpha: every object written (pack placement: all on alpha).
    const stats = await tg.store.buckets.stats();
    const objects = stats.reduce((s, b) => s + b.objects, 0);
    expect(await textOf(page, `${card} [data-field=copies]`)).toBe(objects.toLocaleString('en-US'));
    expect(await textOf(page, '[data-field=objects]')).toBe(objects.toLocaleString('en-US'));
    // Monthly: alpha has a request limit of 1000 and an ingress limit of 32 MiB.
    const monthly = await textOf(page, `${card} .monthly`);
    expect(monthly).toMatch(/requests\s+\d+ \/ 1,000/);
    expect(monthly).toMatch(/ingress\s+[\d.]+ [KMG]iB \/ 32\.0 MiB/);
    expect(monthly).toMatch(/egress\s+[\d.]+ [KMG]?i?B\s+no limit/);
  });

  it('Buckets: objects and bytes per bucket, as buckets.stats() counts them', async () => {
    await page.goto(`${tg.url}/ui/buckets`, { waitUntil: 'load' });
    const rows = await page.$$eval('table.buckets tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => (td as { textContent: string }).textContent.trim())));
    const stats = await tg.store.buckets.stats();
    expect(rows.map((r) => r.slice(0, 3))).toEqual(stats.map((s) => [s.name, s.objects.toLocaleString('en-US'), formatBytes(s.bytes)]));
    expect(rows.map((r) => r[0])).toEqual(['backups', 'logs', 'photos']);
  });

  it('the bucket browser: common prefixes by delimiter, a prefix typed in, paging past 100 keys', async () => {
    await page.goto(`${tg.url}/ui/buckets`, { waitUntil: 'load' });
    await Promise.all([page.waitForNavigation(), page.click('a[href="/ui/buckets/photos"]')]);
    expect(await page.$$eval('tr.prefix a', (as) => as.map((a) => a.textContent))).toEqual(['2024/', '2025/']);
    expect(await page.$$eval('tr.object a', (as) => as.map((a) => a.textContent))).toEqual(['readme.txt']);
    await Promise.all([page.waitForNavigation(), page.click('tr.prefix a')]);
    expect(await page.$$eval('tr.object a', (as) => as.map((a) => a.textContent))).toEqual(['cat.jpg', 'dog.jpg']);
    expect(await textOf(page, '.crumbs')).toMatch(/photos\s*\/\s*2024/);

    // No delimiter: every key under the prefix, flat.
    await page.goto(`${tg.url}/ui/buckets/photos?prefix=2025/&delimiter=`, { waitUntil: 'load' });
    expect(await page.$$eval('tr.object a', (as) => as.map((a) => a.textContent))).toEqual(['2025/summer/beach.png']);

    // Paging: 105 keys under app/ with no delimiter are two pages.
    await page.goto(`${tg.url}/ui/buckets/logs`, { waitUntil: 'load' });
    await page.$eval('form.browse input[name=prefix]', (el) => ((el as unknown as { value: string }).value = 'app/'));
    await page.$eval('form.browse input[name=delimiter]', (el) => ((el as unknown as { value: string }).value = ''));
    await Promise.all([page.waitForNavigation(), page.click('form.browse button')]);
    const first = await page.$$eval('tr.object a', (as) => as.map((a) => a.textContent));
    expect(first).toHaveLength(100);
    const sorted = [...seeded.logKeys].sort();
    expect(first).toEqual(sorted.slice(0, 100));
    await Promise.all([page.waitForNavigation(), page.click('a[rel=next]')]);
    const second = await page.$$eval('tr.object a', (as) => as.map((a) => a.textContent));
    expect(second).toEqual(sorted.slice(100));
    expect(await page.$('a[rel=next]')).toBeNull();
  });

  it('object details: size, ETag, content type, metadata, copies; the download link is a presigned URL the gateway serves', async () => {
    await page.goto(`${tg.url}/ui/buckets/photos?prefix=2024/`, { waitUntil: 'load' });
    await Promise.all([page.waitForNavigation(), page.click('tr.object a')]);
    const head = await tg.store.objects.head('photos/2024/cat.jpg');
    const details = await textOf(page, 'dl.details');
    expect(details).toContain('293 KiB');
    expect(details).toContain('300,000 bytes');
    expect(details).toContain(head.etag);
    expect(details).toContain('image/jpeg');
    expect(await textOf(page, 'table.metadata')).toMatch(/x-amz-meta-camera\s+x100v/);
    const copies = await page.$$eval('table.copies tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-backend')));
    expect(copies).toEqual(head.copies.map((c) => c.backendName));
    expect(await textOf(page, 'table.copies')).toContain(head.copies[0]!.storageKey);

    const href = await page.$eval('a.download', (a) => a.getAttribute('href')!);
    const url = new URL(href);
    expect(url.origin).toBe(tg.url);
    expect(url.searchParams.get('X-Amz-Expires')).toBe(String(DOWNLOAD_LINK_SECONDS));
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(new RegExp(`^${ADMIN.accessKeyId}/`));
    expect(href).not.toContain(ADMIN.secretAccessKey);
    // No cookie, no header: the URL alone is the authorisation.
    const res = await fetch(href);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toContain('filename="cat.jpg"');
    expect(Buffer.from(await res.arrayBuffer()).equals(seeded.photos.get('2024/cat.jpg')!)).toBe(true);
    // A link whose signature was tampered with is refused.
    const tampered = href.replace(/X-Amz-Signature=([0-9a-f])/, (_m: string, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`);
    expect((await fetch(tampered)).status).toBe(403);
  });

  it('object text is escaped, never markup', async () => {
    await page.goto(`${tg.url}/ui/buckets/photos/object?key=readme.txt`, { waitUntil: 'load' });
    const s3 = tg.client();
    await s3.send(new PutObjectCommand({ Bucket: 'photos', Key: '<img src=x onerror=alert(1)>.txt', Body: 'x', Metadata: { note: '<script>alert(2)</script>' } }));
    await page.goto(`${tg.url}/ui/buckets/photos/object?key=${encodeURIComponent('<img src=x onerror=alert(1)>.txt')}`, { waitUntil: 'load' });
    expect(await page.$('main img')).toBeNull();
    expect(await page.$('main script')).toBeNull();
    expect(await textOf(page, 'h2.key')).toBe('<img src=x onerror=alert(1)>.txt');
    expect(await textOf(page, 'table.metadata')).toContain('<script>alert(2)</script>');
  });

  it('Queues: cleanup, dead letters, the outbox (pending and failed) and intents older than the reaper age', async () => {
    await page.goto(`${tg.url}/ui/queues`, { waitUntil: 'load' });
    const dlq = await tg.store.cleanup.listDeadLetters();
    expect(await textOf(page, '[data-field=dead-letters]')).toBe(String(dlq.length));
    expect(await page.$$eval('table.dead-letters tbody tr', (trs) => trs.map((tr) => Number(tr.getAttribute('data-id'))))).toEqual(dlq.map((d) => d.id));
    expect(await textOf(page, '#dead-letters')).toContain('EACCES: permission denied');
    const outbox = await tg.store.outbox.summary();
    expect(await textOf(page, '[data-field=outbox-pending]')).toBe(outbox.pending.toLocaleString('en-US'));
    expect(await textOf(page, '[data-field=outbox-failed]')).toBe(String(outbox.failed));
    expect(outbox.failed).toBe(1);
    expect(await textOf(page, '#outbox')).toContain('ECONNREFUSED');
    expect(await textOf(page, '#intents')).toContain(seeded.openIntentKey);
    expect(await textOf(page, '#intents')).toMatch(/minimum age \(1 s\)/);
  });

  it('Activity: request rate and error counts from the requests this gateway answered, the latest object changes, outbox events', async () => {
    const s3 = tg.client();
    await s3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'activity/fresh.txt', Body: 'fresh' }));
    await page.goto(`${tg.url}/ui/activity`, { waitUntil: 'load' });
    const requests = Number((await textOf(page, '[data-field=requests]')).replace(/,/g, ''));
    // seed() made 3 CreateBucket + 4 + 105 + 2 PUTs, 2 GETs, 2 DELETEs; the tests since then more.
    expect(requests).toBeGreaterThanOrEqual(118);
    expect(await page.$$eval('figure.chart rect.req', (els) => els.length)).toBeGreaterThan(0);
    expect(await page.$$eval('figure.chart rect.cerr', (els) => els.length)).toBeGreaterThan(0);
    const changes = await page.$$eval('table.changes tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => (td as { textContent: string }).textContent.trim())));
    expect(changes[0]!.slice(1, 4)).toEqual(['PutObject', 'photos', 'activity/fresh.txt']);
    expect(changes.some((c) => c[1] === 'DeleteObject' && c[3] === 'db/2025-06-01.dump')).toBe(true);
    expect(await textOf(page, '#events')).toContain('ObjectCreated');
  });

  it('figures refresh without a reload', async () => {
    await page.goto(`${tg.url}/ui/buckets`, { waitUntil: 'load' });
    await page.evaluate('window.__marker = "same document"');
    const before = await textOf(page, 'tr[data-bucket=backups] td:nth-child(2)');
    await tg.client().send(new PutObjectCommand({ Bucket: 'backups', Key: 'refresh/one.bin', Body: Buffer.alloc(10) }));
    const refreshed = page.evaluate('new Promise((resolve) => document.addEventListener("s3o:refreshed", resolve, { once: true }))');
    await page.evaluate('window.s3oRefresh()');
    await refreshed;
    const after = await textOf(page, 'tr[data-bucket=backups] td:nth-child(2)');
    expect(Number(after)).toBe(Number(before) + 1);
    expect(await page.evaluate('window.__marker')).toBe('same document');
    // And on its own, on the timer (every 5 s).
    await tg.client().send(new PutObjectCommand({ Bucket: 'backups', Key: 'refresh/two.bin', Body: Buffer.alloc(10) }));
    await page.waitForFunction(`document.querySelector('tr[data-bucket=backups] td:nth-child(2)').textContent === '${Number(before) + 2}'`, { timeout: 15_000 });
    expect(await page.evaluate('window.__marker')).toBe('same document');
  });

  it('a phone-width screen: no page scrolls sideways', async () => {
    const phone = await newPage(390, 844);
    expect(await signIn(phone, tg.url)).toBe(200);
    for (const path of ['backends', 'buckets', 'buckets/photos', 'buckets/photos/object?key=2024/cat.jpg', 'queues', 'activity']) {
      await phone.goto(`${tg.url}/ui/${path}`, { waitUntil: 'load' });
      const overflow = (await phone.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
      expect(overflow, path).toBeLessThanOrEqual(0);
    }
    await phone.browserContext().close();
  });
});

describe('actions', () => {
  it('requeueing one dead letter through the page, after its confirmation, moves the row back to the cleanup queue in the database', async () => {
    const page = await newPage();
    expect(await signIn(page, tg.url)).toBe(200);
    await page.goto(`${tg.url}/ui/queues`, { waitUntil: 'load' });
    const [id] = (await tg.store.cleanup.listDeadLetters()).map((d) => d.id);
    const dead = (await tg.store.cleanup.listDeadLetters()).find((d) => d.id === id)!;
    await Promise.all([page.waitForNavigation(), page.click(`tr[data-id="${id}"] form:first-of-type button`)]);
    // The confirmation: nothing changed yet.
    expect(await textOf(page, 'h1')).toBe('Requeue dead letters');
    expect(await textOf(page, '.confirm p')).toContain(`dead letter ${id}`);
    expect((await tg.store.cleanup.listDeadLetters()).some((d) => d.id === id)).toBe(true);
    await Promise.all([page.waitForNavigation(), page.click('.confirm button[type=submit]')]);
    expect(new URL(page.url()).pathname).toBe('/ui/queues');
    expect(await textOf(page, '.notice')).toBe('1 dead letter moved back to the cleanup queue.');
    expect((await tg.store.cleanup.listDeadLetters()).some((d) => d.id === id)).toBe(false);
    const queued = await tg.store.cleanup.list();
    expect(queued.some((t) => t.storageKey === dead.storageKey && t.attempts === 0)).toBe(true);
    await page.browserContext().close();
  });

  it('purging all dead letters through the page writes their bytes off', async () => {
    const page = await newPage();
    expect(await signIn(page, tg.url)).toBe(200);
    await page.goto(`${tg.url}/ui/queues`, { waitUntil: 'load' });
    const before = await tg.store.cleanup.listDeadLetters();
    expect(before.length).toBeGreaterThan(0);
    const orphanBefore = (await tg.store.quota.totals()).find((q) => q.backendName === 'alpha')!.orphanBytes;
    await Promise.all([page.waitForNavigation(), page.click('#dead-letters .actions form:nth-of-type(2) button')]);
    expect(await textOf(page, 'h1')).toBe('Purge dead letters');
    await Promise.all([page.waitForNavigation(), page.click('.confirm button.danger')]);
    expect(await textOf(page, '.notice')).toMatch(new RegExp(`^${before.length} dead letters? purged`));
    expect(await tg.store.cleanup.listDeadLetters()).toEqual([]);
    const orphanAfter = (await tg.store.quota.totals()).find((q) => q.backendName === 'alpha')!.orphanBytes;
    expect(orphanBefore - orphanAfter).toBe(before.reduce((s, d) => s + d.sizeBytes, 0));
    await page.browserContext().close();
  });

  it('requeueing the failed event through the page makes it pending again', async () => {
    const page = await newPage();
    expect(await signIn(page, tg.url)).toBe(200);
    await page.goto(`${tg.url}/ui/queues`, { waitUntil: 'load' });
    await Promise.all([page.waitForNavigation(), page.click('#outbox .actions button')]);
    await Promise.all([page.waitForNavigation(), page.click('.confirm button[type=submit]')]);
    expect(await textOf(page, '.notice')).toBe('1 failed event requeued for delivery.');
    expect(await tg.store.outbox.list({ state: 'failed' })).toEqual([]);
    expect((await tg.store.outbox.list({ state: 'pending', limit: 1000 })).some((e) => e.id === seeded.failedEventIds[0])).toBe(true);
    await page.browserContext().close();
  });

  it('a POST without the CSRF token, or with another session’s, is refused and changes nothing', async () => {
    // A dead letter to act on.
    const s3 = tg.client();
    await s3.send(new PutObjectCommand({ Bucket: 'backups', Key: 'csrf/victim.bin', Body: Buffer.alloc(100) }));
    await tg.store.objects.deleteObject('backups/csrf/victim.bin');
    for (const t of await tg.store.cleanup.claim('dashboard-test', 100, 60_000)) await tg.store.cleanup.fail(t, 'dashboard-test', 'EIO');
    const dead = await tg.store.cleanup.listDeadLetters();
    expect(dead.length).toBeGreaterThan(0);

    const page = await newPage();
    expect(await signIn(page, tg.url)).toBe(200);
    const other = await newPage();
    expect(await signIn(other, tg.url)).toBe(200);
    await other.goto(`${tg.url}/ui/queues`, { waitUntil: 'load' });
    const otherToken = await other.$eval('input[name=_csrf]', (el) => el.getAttribute('value')!);
    await page.goto(`${tg.url}/ui/queues`, { waitUntil: 'load' });
    const ownToken = await page.$eval('input[name=_csrf]', (el) => el.getAttribute('value')!);
    expect(ownToken).not.toBe(otherToken);

    const fields = { action: 'purge', target: 'all', confirmed: 'yes' };
    for (const attempt of [fields, { ...fields, _csrf: otherToken }, { ...fields, _csrf: '' }, { ...fields, _csrf: ownToken.slice(0, -2) + 'xx' }]) {
      const r = await postFrom(page, '/ui/queues/dead-letters', attempt);
      expect(r.status).toBe(403);
      expect(r.body).toContain('CSRF');
    }
    expect(await tg.store.cleanup.listDeadLetters()).toEqual(dead);

    // A cross-site form post (another origin) is refused even with the right token.
    const cross = await fetch(`${tg.url}/ui/queues/dead-letters`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'http://evil.example', Cookie: `s3o_ui=${(await cookieOf(page))!.value}` },
      body: new URLSearchParams({ ...fields, _csrf: ownToken }),
      redirect: 'manual',
    });
    expect(cross.status).toBe(403);
    expect(await tg.store.cleanup.listDeadLetters()).toEqual(dead);

    // The right token from the page itself works (the refusals above were for the token).
    const ok = await postFrom(page, '/ui/queues/dead-letters', { action: 'requeue', target: 'id', id: String(dead[0]!.id), confirmed: 'yes', _csrf: ownToken });
    expect(ok.status).toBe(0); // redirect: 'manual' in a page gives an opaque redirect
    expect((await tg.store.cleanup.listDeadLetters()).some((d) => d.id === dead[0]!.id)).toBe(false);
    await page.browserContext().close();
    await other.browserContext().close();
  });

  it('an expired session is refused: pages send to the sign-in form, actions change nothing', async () => {
    const s3 = tg.client();
    await s3.send(new PutObjectCommand({ Bucket: 'backups', Key: 'expiry/victim.bin', Body: Buffer.alloc(100) }));
    await tg.store.objects.deleteObject('backups/expiry/victim.bin');
    for (const t of await tg.store.cleanup.claim('dashboard-test', 100, 60_000)) await tg.store.cleanup.fail(t, 'dashboard-test', 'EIO');
    const dead = await tg.store.cleanup.listDeadLetters();
    expect(dead.length).toBeGreaterThan(0);

    const page = await newPage();
    expect(await signIn(page, tg.url)).toBe(200);
    await page.goto(`${tg.url}/ui/queues`, { waitUntil: 'load' });
    const token = await page.$eval('input[name=_csrf]', (el) => el.getAttribute('value')!);
    const cookie = (await cookieOf(page))!.value;
    // Eight hours and a second later (the browser would drop the cookie; an attacker replaying it must fail too).
    const realNow = tg.dashboard.now;
    tg.dashboard.now = () => realNow() + 8 * 3600_000 + 1000;
    try {
      const replay = await fetch(`${tg.url}/ui/queues/dead-letters`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `s3o_ui=${cookie}` },
        body: new URLSearchParams({ action: 'purge', target: 'all', confirmed: 'yes', _csrf: token }),
        redirect: 'manual',
      });
      expect(replay.status).toBe(401);
      expect(await replay.text()).toContain('session expired');
      expect(await tg.store.cleanup.listDeadLetters()).toEqual(dead);

      const api = await fetch(`${tg.url}/ui/api/queues`, { headers: { Cookie: `s3o_ui=${cookie}` } });
      expect(api.status).toBe(401);

      await page.goto(`${tg.url}/ui/queues`, { waitUntil: 'load' });
      expect(new URL(page.url()).pathname).toBe('/ui/login');
      expect(await textOf(page, '.notice')).toContain('session expired');
    } finally {
      tg.dashboard.now = realNow;
    }
    await page.browserContext().close();
  });

  it('sign-in is throttled per client address after five failures, even for the right secret', async () => {
    const page = await newPage();
    for (let i = 0; i < 5; i++) expect(await signIn(page, tg.url, { accessKeyId: ADMIN.accessKeyId, secretAccessKey: `wrong-${i}` })).toBe(401);
    expect(await signIn(page, tg.url)).toBe(429);
    expect(await textOf(page, '.error')).toMatch(/Too many failed sign-ins .* try again in \d+ s/);
    expect(await cookieOf(page)).toBeUndefined();
    // Five minutes on, the address may try again.
    const realNow = tg.dashboard.now;
    tg.dashboard.now = () => realNow() + 5 * 60_000 + 1000;
    try {
      expect(await signIn(page, tg.url)).toBe(200);
    } finally {
      tg.dashboard.now = realNow;
    }
    await page.browserContext().close();
  });
});

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${units[u]}`;
}
