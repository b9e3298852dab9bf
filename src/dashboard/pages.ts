import type { ActivityView, BackendsView, BackendView, BrowseView, BucketsView, EventRow, MonthlyFigure, QueuesView } from './data.js';
import { ago, bytes, count, duration, percent, time } from './format.js';
import { html, query, type Html } from './html.js';

/**
 * The pages, as template functions of their view models. Every page is complete without script;
 * the script (assets.ts) only re-fetches the `#live` part of a page from its JSON endpoint.
 */

export const BASE = '/ui';

export type PageName = 'backends' | 'buckets' | 'queues' | 'activity';

export interface Chrome {
  readonly title: string;
  readonly page: PageName | 'signin';
  /** The signed-in access key id (never the secret). */
  readonly accessKeyId?: string;
  readonly csrf?: string;
  /** The JSON endpoint the `#live` part refreshes from. */
  readonly refresh?: string;
  readonly notice?: string | undefined;
}

const NAV: readonly [PageName, string][] = [
  ['backends', 'Backends'],
  ['buckets', 'Buckets'],
  ['queues', 'Queues'],
  ['activity', 'Activity'],
];

export function layout(chrome: Chrome, body: Html, before?: Html): Html {
  const signedIn = chrome.accessKeyId !== undefined;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${chrome.title} · s3-orchestrator</title>
<link rel="stylesheet" href="${BASE}/static/app.css">
<script src="${BASE}/static/app.js" defer></script>
</head>
<body data-page="${chrome.page}">
<header class="top">
  <a class="brand" href="${BASE}/">s3-orchestrator</a>
  ${
    signedIn
      ? html`<nav>${NAV.map(([name, label]) => html`<a href="${BASE}/${name}"${name === chrome.page ? html` aria-current="page"` : ''}>${label}</a>`)}</nav>
  <form class="signout" method="post" action="${BASE}/logout"><input type="hidden" name="_csrf" value="${chrome.csrf}"><span class="who" title="signed in">${chrome.accessKeyId}</span> <button type="submit">Sign out</button></form>`
      : ''
  }
</header>
<main>
${chrome.notice ? html`<p class="notice" role="status">${chrome.notice}</p>` : ''}
${before ?? ''}
${
  chrome.refresh
    ? html`<p class="updated"><span id="updated">updated ${time(Date.now())}</span> <span id="refresh-state"></span></p>
<div id="live" data-refresh="${chrome.refresh}">${body}</div>`
    : body
}
</main>
</body>
</html>`;
}

export function signinPage(input: { token: string; accessKeyId?: string; next?: string; error?: string; status?: string }): Html {
  return layout(
    { title: 'Sign in', page: 'signin' },
    html`<section class="signin">
<h1>Sign in</h1>
<p>Use an <strong>admin</strong> credential of this gateway (<code>s3-orchestrator credentials</code> prints the generated one).</p>
${input.status ? html`<p class="notice">${input.status}</p>` : ''}
${input.error ? html`<p class="error" role="alert">${input.error}</p>` : ''}
<form method="post" action="${BASE}/login" autocomplete="off">
  <input type="hidden" name="_csrf" value="${input.token}">
  <input type="hidden" name="next" value="${input.next ?? ''}">
  <label>Access key id <input name="accessKeyId" required autocapitalize="off" spellcheck="false" value="${input.accessKeyId ?? ''}"></label>
  <label>Secret access key <input name="secretAccessKey" type="password" required autocomplete="off"></label>
  <button type="submit">Sign in</button>
</form>
</section>`,
  );
}

export function messagePage(chrome: Chrome, heading: string, text: string): Html {
  return layout(chrome, html`<section><h1>${heading}</h1><p>${text}</p><p><a href="${BASE}/">Back to the dashboard</a></p></section>`);
}

// ---------------------------------------------------------------- Backends

const SEGMENTS = [
  ['used', 'used'],
  ['inflight', 'in flight'],
  ['orphan', 'orphan'],
  ['free', 'free'],
] as const;

/** A stacked bar of used / in flight / orphan / free as an SVG (no inline styles: the CSP forbids them). */
function quotaBar(parts: { used: number; inflight: number; orphan: number; free: number | null }, scale: number, label: string): Html {
  let x = 0;
  const rects: Html[] = [];
  for (const [key] of SEGMENTS) {
    const value = key === 'free' ? Math.max(0, parts.free ?? 0) : parts[key];
    if (value <= 0 || scale <= 0) continue;
    const w = Math.min(100 - x, (value / scale) * 100);
    if (w <= 0) continue;
    rects.push(html`<rect class="seg-${key}" x="${x.toFixed(3)}" y="0" width="${w.toFixed(3)}" height="10"></rect>`);
    x += w;
  }
  return html`<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="${label}"><rect class="seg-track" x="0" y="0" width="100" height="10"></rect>${rects}</svg>`;
}

function meter(figure: MonthlyFigure, format: (n: number) => string): Html {
  if (figure.limit === 0) return html`<span class="figure">${format(figure.used)}</span> <span class="muted">no limit</span>`;
  const ratio = figure.used / figure.limit;
  const level = ratio >= 1 ? 'over' : ratio >= 0.8 ? 'high' : 'ok';
  return html`<span class="figure">${format(figure.used)}</span> / ${format(figure.limit)} <span class="pct ${level}">${percent(figure.used, figure.limit)}</span>
<svg class="meter" viewBox="0 0 100 4" preserveAspectRatio="none" aria-hidden="true"><rect class="seg-track" x="0" y="0" width="100" height="4"></rect><rect class="meter-${level}" x="0" y="0" width="${Math.min(100, ratio * 100).toFixed(2)}" height="4"></rect></svg>`;
}

function breakerBadge(state: string): Html {
  const text = state === 'closed' ? 'healthy' : state === 'open' ? 'breaker open' : state === 'half-open' ? 'probing' : 'no client';
  return html`<span class="badge breaker-${state}" title="circuit breaker: ${state}">${text}</span>`;
}

function backendCard(b: BackendView): Html {
  const held = b.used + b.inflight + b.orphan;
  const scale = b.limit > 0 ? Math.max(b.limit, held) : Math.max(held, 1);
  return html`<article class="card backend" data-backend="${b.name}">
<header><h2>${b.name}</h2> <span class="kind">${b.kind}</span> ${breakerBadge(b.breaker)}</header>
${quotaBar({ used: b.used, inflight: b.inflight, orphan: b.orphan, free: b.free }, scale, `${b.name}: ${bytes(b.used)} used of ${b.limit > 0 ? bytes(b.limit) : 'unlimited'}`)}
<dl class="figures">
  <div><dt><i class="dot seg-used"></i>used</dt><dd data-field="used">${bytes(b.used)}</dd></div>
  <div><dt><i class="dot seg-inflight"></i>in flight</dt><dd data-field="inflight">${bytes(b.inflight)}</dd></div>
  <div><dt><i class="dot seg-orphan"></i>orphan</dt><dd data-field="orphan">${bytes(b.orphan)}</dd></div>
  <div><dt><i class="dot seg-free"></i>free</dt><dd data-field="free">${b.free === null ? 'unlimited' : bytes(b.free)}</dd></div>
  <div><dt>limit</dt><dd data-field="limit">${b.limit > 0 ? html`${bytes(b.limit)} <span class="muted">${percent(held, b.limit)} held</span>` : 'unlimited'}</dd></div>
  <div><dt>objects</dt><dd data-field="copies">${count(b.copies)}</dd></div>
</dl>
<h3>This month</h3>
<dl class="monthly">
  <div><dt>requests</dt><dd>${meter(b.monthly.requests, count)}</dd></div>
  <div><dt>ingress</dt><dd>${meter(b.monthly.ingress, bytes)}</dd></div>
  <div><dt>egress</dt><dd>${meter(b.monthly.egress, bytes)}</dd></div>
</dl>
</article>`;
}

export function backendsLive(v: BackendsView): Html {
  const t = v.totals;
  const held = t.used + t.inflight + t.orphan;
  return html`<section class="fleet card">
<h2>Fleet</h2>
${quotaBar({ used: t.used, inflight: t.inflight, orphan: t.orphan, free: t.free }, t.limit ?? Math.max(held, 1), 'fleet')}
<dl class="figures">
  <div><dt>backends</dt><dd>${count(v.backends.length)}${t.openBreakers > 0 ? html` <span class="badge breaker-open">${t.openBreakers} unavailable</span>` : ''}</dd></div>
  <div><dt>objects</dt><dd data-field="objects">${count(t.objects)}</dd></div>
  <div><dt>copies</dt><dd>${count(t.copies)}</dd></div>
  <div><dt><i class="dot seg-used"></i>used</dt><dd data-field="fleet-used">${bytes(t.used)}</dd></div>
  <div><dt><i class="dot seg-inflight"></i>in flight</dt><dd>${bytes(t.inflight)}</dd></div>
  <div><dt><i class="dot seg-orphan"></i>orphan</dt><dd>${bytes(t.orphan)}</dd></div>
  <div><dt><i class="dot seg-free"></i>free</dt><dd>${t.free === null ? 'unlimited' : bytes(t.free)}</dd></div>
  <div><dt>limit</dt><dd>${t.limit === null ? 'unlimited' : bytes(t.limit)}</dd></div>
</dl>
<p class="muted">Monthly figures are for ${v.month} (UTC).</p>
</section>
<div class="cards">${v.backends.map(backendCard)}</div>`;
}

// ---------------------------------------------------------------- Buckets

export function bucketsLive(v: BucketsView): Html {
  if (v.buckets.length === 0) return html`<p class="empty">No buckets yet. Create one with any S3 client (<code>aws s3 mb s3://name</code>) or list it under <code>buckets:</code> in the config.</p>`;
  return html`<div class="table-wrap"><table class="buckets">
<thead><tr><th>bucket</th><th class="num">objects</th><th class="num">bytes</th><th>owner</th><th>created</th></tr></thead>
<tbody>${v.buckets.map(
    (b) =>
      html`<tr data-bucket="${b.name}"><td><a href="${BASE}/buckets/${encodeURIComponent(b.name)}">${b.name}</a></td><td class="num">${count(b.objects)}</td><td class="num">${bytes(b.bytes)}</td><td>${b.owner}</td><td>${time(b.createdAt)}</td></tr>`,
  )}</tbody>
<tfoot><tr><th>total</th><th class="num">${count(v.totals.objects)}</th><th class="num">${bytes(v.totals.bytes)}</th><th></th><th></th></tr></tfoot>
</table></div>`;
}

export function browseLink(bucket: string, params: { prefix?: string; delimiter?: string; token?: string }): string {
  // '/' is the default delimiter; no delimiter at all is written as an empty `delimiter=`.
  const search = new URLSearchParams();
  if (params.prefix) search.set('prefix', params.prefix);
  if (params.delimiter !== undefined && params.delimiter !== '/') search.set('delimiter', params.delimiter);
  if (params.token) search.set('token', params.token);
  const text = search.toString();
  return `${BASE}/buckets/${encodeURIComponent(bucket)}${text === '' ? '' : `?${text}`}`;
}

export function objectLink(bucket: string, key: string): string {
  return `${BASE}/buckets/${encodeURIComponent(bucket)}/object${query({ key })}`;
}

function crumbs(v: BrowseView): Html {
  const parts: Html[] = [html`<a href="${browseLink(v.bucket, {})}">${v.bucket}</a>`];
  if (v.delimiter !== '' && v.prefix !== '') {
    const segments = v.prefix.split(v.delimiter).filter((s, i, all) => s !== '' || i < all.length - 1);
    let acc = '';
    for (const s of segments) {
      acc += s + v.delimiter;
      parts.push(html`<a href="${browseLink(v.bucket, { prefix: acc, delimiter: v.delimiter })}">${s}</a>`);
    }
  } else if (v.prefix !== '') {
    parts.push(html`<span>${v.prefix}…</span>`);
  }
  return html`<nav class="crumbs" aria-label="path">${parts.map((p, i) => (i === 0 ? p : html` <span class="sep">${v.delimiter || '/'}</span> ${p}`))}</nav>`;
}

export function browseForm(v: Pick<BrowseView, 'bucket' | 'prefix' | 'delimiter'>): Html {
  return html`<form class="browse" method="get" action="${BASE}/buckets/${encodeURIComponent(v.bucket)}">
<label>Prefix <input name="prefix" value="${v.prefix}" spellcheck="false"></label>
<label>Delimiter <input name="delimiter" value="${v.delimiter}" size="3" spellcheck="false"></label>
<button type="submit">List</button>
</form>`;
}

export function browseLive(v: BrowseView): Html {
  const name = (full: string) => (v.delimiter !== '' && full.startsWith(v.prefix) ? full.slice(v.prefix.length) : full);
  const rows = [
    ...v.prefixes.map((p) => html`<tr class="prefix"><td colspan="4"><a href="${browseLink(v.bucket, { prefix: p, delimiter: v.delimiter })}">${name(p)}</a></td></tr>`),
    ...v.objects.map(
      (o) =>
        html`<tr class="object"><td><a href="${objectLink(v.bucket, o.key)}">${name(o.key)}</a></td><td class="num">${bytes(o.size)}</td><td class="etag"><code>${o.etag}</code></td><td>${time(o.modified)}</td></tr>`,
    ),
  ];
  return html`${crumbs(v)}
${
  rows.length === 0
    ? html`<p class="empty">Nothing under this prefix.</p>`
    : html`<div class="table-wrap"><table class="listing"><thead><tr><th>name</th><th class="num">size</th><th>ETag</th><th>modified</th></tr></thead><tbody>${rows}</tbody></table></div>`
}
<nav class="pager">
${v.token ? html`<a href="${browseLink(v.bucket, { prefix: v.prefix, delimiter: v.delimiter })}">« first page</a>` : ''}
${v.next ? html`<a rel="next" href="${browseLink(v.bucket, { prefix: v.prefix, delimiter: v.delimiter, token: v.next })}">next page »</a>` : ''}
</nav>`;
}

export interface ObjectView {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly createdAt: string;
  readonly contentHash: string | null;
  readonly copies: readonly { backend: string; storageKey: string; size: number; createdAt: string; breaker: string }[];
  readonly download: { url: string; expiresAt: number } | null;
}

export function objectLive(v: ObjectView, now: number): Html {
  const parent = v.key.includes('/') ? v.key.slice(0, v.key.lastIndexOf('/') + 1) : '';
  const meta = Object.entries(v.metadata);
  return html`<nav class="crumbs"><a href="${browseLink(v.bucket, { prefix: parent })}">« ${v.bucket}/${parent}</a></nav>
<h2 class="key">${v.key}</h2>
${
  v.download
    ? html`<p><a class="button download" href="${v.download.url}" rel="noreferrer" download>Download</a> <span class="muted">the link is valid for ${duration(v.download.expiresAt - now)} (until ${time(v.download.expiresAt)})</span></p>`
    : html`<p class="muted">No download link: the signed-in credential may not read this bucket.</p>`
}
<dl class="details">
  <div><dt>size</dt><dd>${bytes(v.size)} <span class="muted">(${count(v.size)} bytes)</span></dd></div>
  <div><dt>ETag</dt><dd><code>${v.etag}</code></dd></div>
  <div><dt>content type</dt><dd><code>${v.contentType}</code></dd></div>
  <div><dt>last modified</dt><dd>${time(v.createdAt)}</dd></div>
  ${v.contentHash ? html`<div><dt>content hash</dt><dd><code>${v.contentHash}</code></dd></div>` : ''}
</dl>
<h3>Metadata</h3>
${
  meta.length === 0
    ? html`<p class="muted">No user metadata.</p>`
    : html`<div class="table-wrap"><table class="metadata"><thead><tr><th>name</th><th>value</th></tr></thead><tbody>${meta.map(([k, val]) => html`<tr><td><code>x-amz-meta-${k}</code></td><td>${val}</td></tr>`)}</tbody></table></div>`
}
<h3>Copies</h3>
<div class="table-wrap"><table class="copies"><thead><tr><th>backend</th><th>storage key</th><th class="num">size</th><th>written</th><th>backend state</th></tr></thead>
<tbody>${v.copies.map((c) => html`<tr data-backend="${c.backend}"><td>${c.backend}</td><td><code>${c.storageKey}</code></td><td class="num">${bytes(c.size)}</td><td>${time(c.createdAt)}</td><td>${breakerBadge(c.breaker)}</td></tr>`)}</tbody></table></div>`;
}

// ---------------------------------------------------------------- Queues

function actionButton(csrf: string, action: string, fields: Record<string, string>, label: string, danger = false): Html {
  return html`<form class="inline" method="post" action="${BASE}/${action}"><input type="hidden" name="_csrf" value="${csrf}">${Object.entries(fields).map(
    ([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`,
  )}<button type="submit"${danger ? html` class="danger"` : ''}>${label}</button></form>`;
}

function errorText(e: string | null): Html {
  if (!e) return html`<span class="muted">–</span>`;
  return html`<span class="error-text" title="${e}">${e.length > 120 ? `${e.slice(0, 117)}…` : e}</span>`;
}

function eventRows(rows: readonly EventRow[], csrf: string | undefined, now: number): Html {
  return html`${rows.map(
    (e) =>
      html`<tr><td class="num">${e.id}</td><td>${e.type}</td><td>${e.objectKey ?? '–'}</td><td>${e.endpoint}</td><td class="num">${e.attempts}</td><td>${ago(e.createdAt, now)}</td><td>${errorText(e.lastError)}</td>${
        csrf !== undefined ? html`<td>${e.failed ? actionButton(csrf, 'queues/outbox', { action: 'requeue', target: 'id', id: String(e.id) }, 'Requeue') : ''}</td>` : ''
      }</tr>`,
  )}`;
}

export function queuesLive(v: QueuesView, csrf: string, now: number): Html {
  return html`<section class="card" id="cleanup">
<h2>Cleanup queue <span class="count" data-field="cleanup-rows">${count(v.cleanup.rows)}</span></h2>
<p>Storage keys waiting to be deleted from their backend: ${bytes(v.cleanup.bytes)} in all.</p>
${
  v.cleanup.depths.length === 0
    ? ''
    : html`<div class="table-wrap"><table><thead><tr><th>backend</th><th class="num">queued</th><th class="num">bytes</th><th class="num">dead letters</th><th class="num">bytes</th></tr></thead>
<tbody>${v.cleanup.depths.map((d) => html`<tr><td>${d.backendName}</td><td class="num">${count(d.queueRows)}</td><td class="num">${bytes(d.queueBytes)}</td><td class="num">${count(d.deadLetterRows)}</td><td class="num">${bytes(d.deadLetterBytes)}</td></tr>`)}</tbody></table></div>`
}
${
  v.cleanup.first.length === 0
    ? html`<p class="empty">The queue is empty.</p>`
    : html`<details><summary>first ${v.cleanup.first.length} rows</summary><div class="table-wrap"><table><thead><tr><th class="num">id</th><th>backend</th><th>object</th><th>reason</th><th class="num">size</th><th class="num">attempts</th><th>next try</th><th>last error</th></tr></thead>
<tbody>${v.cleanup.first.map((r) => html`<tr><td class="num">${r.id}</td><td>${r.backend}</td><td>${r.objectKey}</td><td>${r.reason}</td><td class="num">${bytes(r.size)}</td><td class="num">${r.attempts}</td><td>${time(r.nextRetry)}</td><td>${errorText(r.lastError)}</td></tr>`)}</tbody></table></div></details>`
}
</section>
<section class="card" id="dead-letters">
<h2>Dead letters <span class="count" data-field="dead-letters">${count(v.deadLetters.rows)}</span></h2>
<p>Deletes that gave up after every retry: ${bytes(v.deadLetters.bytes)} still counted as orphan bytes. Requeue them once the backend is fixed; purge them only after removing the bytes by hand.</p>
${
  v.deadLetters.rows === 0
    ? html`<p class="empty">No dead letters.</p>`
    : html`<div class="actions">${actionButton(csrf, 'queues/dead-letters', { action: 'requeue', target: 'all' }, 'Requeue all…')} ${actionButton(csrf, 'queues/dead-letters', { action: 'purge', target: 'all' }, 'Purge all…', true)}</div>
<div class="table-wrap"><table class="dead-letters"><thead><tr><th class="num">id</th><th>backend</th><th>object</th><th>reason</th><th class="num">size</th><th class="num">attempts</th><th>moved</th><th>last error</th><th></th></tr></thead>
<tbody>${v.deadLetters.first.map(
        (d) =>
          html`<tr data-id="${d.id}"><td class="num">${d.id}</td><td>${d.backend}</td><td>${d.objectKey}</td><td>${d.reason}</td><td class="num">${bytes(d.size)}</td><td class="num">${d.attempts}</td><td>${ago(d.movedAt, now)}</td><td>${errorText(d.lastError)}</td><td class="row-actions">${actionButton(
            csrf,
            'queues/dead-letters',
            { action: 'requeue', target: 'id', id: String(d.id) },
            'Requeue…',
          )} ${actionButton(csrf, 'queues/dead-letters', { action: 'purge', target: 'id', id: String(d.id) }, 'Purge…', true)}</td></tr>`,
      )}</tbody></table></div>`
}
</section>
<section class="card" id="outbox">
<h2>Outbox <span class="count" data-field="outbox-pending">${count(v.outbox.pending)}</span> pending, <span class="count" data-field="outbox-failed">${count(v.outbox.failed)}</span> failed</h2>
<p>Event notifications waiting for delivery${v.outbox.oldestPending ? html` (oldest ${ago(v.outbox.oldestPending, now)})` : ''}, and those that spent their retry budget.</p>
${v.outbox.failed > 0 ? html`<div class="actions">${actionButton(csrf, 'queues/outbox', { action: 'requeue', target: 'all' }, 'Requeue all failed…')}</div>` : ''}
${
  v.outbox.firstFailed.length + v.outbox.firstPending.length === 0
    ? html`<p class="empty">Nothing waiting.</p>`
    : ''
}
${
  v.outbox.firstFailed.length === 0
    ? ''
    : html`<div class="table-wrap"><table class="events failed"><thead><tr><th class="num">id</th><th>event</th><th>object</th><th>endpoint</th><th class="num">attempts</th><th>created</th><th>last error</th><th></th></tr></thead>
<tbody>${eventRows(v.outbox.firstFailed, csrf, now)}</tbody></table></div>`
}
${
  v.outbox.firstPending.length === 0
    ? ''
    : html`<details><summary>first ${v.outbox.firstPending.length} pending</summary><div class="table-wrap"><table class="events pending"><thead><tr><th class="num">id</th><th>event</th><th>object</th><th>endpoint</th><th class="num">attempts</th><th>created</th><th>last error</th><th></th></tr></thead>
<tbody>${eventRows(v.outbox.firstPending, csrf, now)}</tbody></table></div></details>`
}
</section>
<section class="card" id="intents">
<h2>Intents <span class="count" data-field="intents-open">${count(v.intents.open)}</span> open</h2>
<p>Writes admitted and not yet committed${v.intents.oldest ? html` (oldest ${ago(v.intents.oldest, now)})` : ''}. Those older than the reaper's minimum age (${duration(v.intents.minAgeMs)}) are left by a failed or dead writer; the reaper settles them.</p>
${
  v.intents.olderThanMinAge.length === 0
    ? html`<p class="empty">No intent is older than ${duration(v.intents.minAgeMs)}.</p>`
    : html`<div class="table-wrap"><table class="intents"><thead><tr><th>kind</th><th>object</th><th>backend</th><th class="num">size</th><th>created</th></tr></thead>
<tbody>${v.intents.olderThanMinAge.map((i) => html`<tr><td>${i.kind}</td><td>${i.objectKey}</td><td>${i.backend}</td><td class="num">${bytes(i.size)}</td><td>${ago(i.createdAt, now)}</td></tr>`)}</tbody></table></div>`
}
</section>`;
}

export function confirmPage(chrome: Chrome, input: { heading: string; text: string; action: string; fields: Record<string, string>; button: string; danger: boolean }): Html {
  return layout(
    chrome,
    html`<section class="card confirm">
<h1>${input.heading}</h1>
<p>${input.text}</p>
<form method="post" action="${BASE}/${input.action}">
<input type="hidden" name="_csrf" value="${chrome.csrf}">
${Object.entries(input.fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
<input type="hidden" name="confirmed" value="yes">
<button type="submit"${input.danger ? html` class="danger"` : ''}>${input.button}</button>
<a class="button secondary" href="${BASE}/queues">Cancel</a>
</form>
</section>`,
  );
}

// ---------------------------------------------------------------- Activity

function rateChart(v: ActivityView): Html {
  const max = Math.max(1, ...v.slots.map((s) => s.requests));
  const n = v.slots.length;
  const w = 100 / n;
  const bars = v.slots.map((s, i) => {
    const h = (s.requests / max) * 38;
    const e = ((s.serverErrors + s.clientErrors) / max) * 38;
    const se = (s.serverErrors / max) * 38;
    return html`<g><title>${time(s.start)}: ${s.requests} requests, ${s.clientErrors} client errors, ${s.serverErrors} server errors</title>${
      h > 0 ? html`<rect class="req" x="${(i * w).toFixed(3)}" y="${(40 - h).toFixed(3)}" width="${(w * 0.8).toFixed(3)}" height="${h.toFixed(3)}"></rect>` : ''
    }${e > 0 ? html`<rect class="cerr" x="${(i * w).toFixed(3)}" y="${(40 - e).toFixed(3)}" width="${(w * 0.8).toFixed(3)}" height="${e.toFixed(3)}"></rect>` : ''}${
      se > 0 ? html`<rect class="serr" x="${(i * w).toFixed(3)}" y="${(40 - se).toFixed(3)}" width="${(w * 0.8).toFixed(3)}" height="${se.toFixed(3)}"></rect>` : ''
    }</g>`;
  });
  return html`<figure class="chart">
<svg viewBox="0 0 100 40" preserveAspectRatio="none" role="img" aria-label="requests per 10 seconds over the last ${v.minutes} minutes"><rect class="seg-track" x="0" y="0" width="100" height="40"></rect>${bars}</svg>
<figcaption><span><i class="dot req"></i>requests</span> <span><i class="dot cerr"></i>4xx</span> <span><i class="dot serr"></i>5xx</span> <span class="muted">per 10 s, last ${v.minutes} min; peak ${count(max)}</span></figcaption>
</figure>`;
}

export function activityLive(v: ActivityView, now: number): Html {
  const rate = (r: ActivityView['lastMinute']) => `${r.perSecond < 10 ? r.perSecond.toFixed(2) : r.perSecond.toFixed(0)}/s`;
  return html`<section class="card">
<h2>Requests</h2>
<dl class="figures">
  <div><dt>last minute</dt><dd data-field="rate-1m">${rate(v.lastMinute)}</dd></div>
  <div><dt>last 5 minutes</dt><dd data-field="rate-5m">${rate(v.lastFiveMinutes)}</dd></div>
  <div><dt>requests (${v.minutes} min)</dt><dd data-field="requests">${count(v.window.requests)}</dd></div>
  <div><dt>server errors (5 min)</dt><dd data-field="error-rate-5m">${(v.lastFiveMinutes.errorRate * 100).toFixed(1)}% <span class="muted">${count(v.lastFiveMinutes.serverErrors)}</span></dd></div>
  <div><dt>client errors (5 min)</dt><dd>${count(v.lastFiveMinutes.clientErrors)}</dd></div>
</dl>
${rateChart(v)}
</section>
<section class="card" id="changes">
<h2>Latest object changes</h2>
${
  v.recent.length === 0
    ? html`<p class="empty">No writes or deletes since this instance started.</p>`
    : html`<div class="table-wrap"><table class="changes"><thead><tr><th>when</th><th>operation</th><th>bucket</th><th>key</th><th>by</th></tr></thead>
<tbody>${v.recent.map(
        (c) =>
          html`<tr><td>${ago(c.at, now)}</td><td>${c.operation}</td><td>${c.bucket ?? '–'}</td><td>${c.key !== undefined && c.bucket !== undefined && !c.operation.startsWith('Delete') ? html`<a href="${objectLink(c.bucket, c.key)}">${c.key}</a>` : (c.key ?? '–')}</td><td><code>${c.accessKeyId ?? '–'}</code></td></tr>`,
      )}</tbody></table></div>`
}
</section>
<section class="card" id="events">
<h2>Outbox events <span class="count">${count(v.outbox.pending)}</span> pending, <span class="count">${count(v.outbox.failed)}</span> failed</h2>
${
  v.outbox.events.length === 0
    ? html`<p class="empty">No event waiting for delivery.</p>`
    : html`<div class="table-wrap"><table class="events"><thead><tr><th class="num">id</th><th>event</th><th>object</th><th>endpoint</th><th class="num">attempts</th><th>created</th><th>last error</th></tr></thead>
<tbody>${eventRows(v.outbox.events, undefined, now)}</tbody></table></div>`
}
</section>`;
}

export function pageTitle(page: PageName): string {
  return NAV.find(([n]) => n === page)![1];
}
