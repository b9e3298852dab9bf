import { createHash } from 'node:crypto';

/**
 * The dashboard's whole static bundle: one style sheet and one small script, served by the
 * gateway itself (no CDN, no build step: the page works offline on a LAN). The script only
 * refreshes `#live` from the page's JSON endpoint every few seconds, paused while the tab is
 * hidden; every page works without it.
 */

const CSS = `
:root { --bg:#f5f6f8; --card:#fff; --ink:#1d2330; --muted:#687185; --line:#dde1e8; --accent:#2457c5;
  --used:#2f6fde; --inflight:#f0a020; --orphan:#9b59b6; --free:#cfe8d6; --track:#eceff3; --danger:#c0392b; --ok:#2e8b57; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--ink); }
a { color: var(--accent); }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.25rem; padding: .6rem 1rem; background: #1d2330; color: #fff; }
.top a { color: #fff; text-decoration: none; }
.brand { font-weight: 700; }
.top nav { display: flex; flex-wrap: wrap; gap: .25rem; }
.top nav a { padding: .3rem .65rem; border-radius: 6px; opacity: .85; }
.top nav a[aria-current=page] { background: rgba(255,255,255,.16); opacity: 1; }
.signout { margin-left: auto; display: flex; align-items: center; gap: .5rem; }
.who { font: 12px ui-monospace, monospace; opacity: .8; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 0 0 .6rem; }
h3 { font-size: .95rem; margin: 1rem 0 .4rem; color: var(--muted); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 1rem; margin-bottom: 1rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 1rem; }
.cards .card { margin: 0; }
.backend header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .5rem; margin-bottom: .5rem; }
.backend header h2 { margin: 0; }
.kind { color: var(--muted); font-size: .85rem; }
.bar { display: block; width: 100%; height: 18px; border-radius: 4px; overflow: hidden; }
.meter { display: block; width: 100%; height: 5px; margin-top: 2px; }
.seg-track { fill: var(--track); } .seg-used { fill: var(--used); background: var(--used); } .seg-inflight { fill: var(--inflight); background: var(--inflight); }
.seg-orphan { fill: var(--orphan); background: var(--orphan); } .seg-free { fill: var(--free); background: var(--free); }
.meter-ok { fill: var(--ok); } .meter-high { fill: var(--inflight); } .meter-over { fill: var(--danger); }
.dot { display: inline-block; width: .7em; height: .7em; border-radius: 2px; margin-right: .3em; vertical-align: baseline; }
.dot.req { background: var(--used); } .dot.cerr { background: var(--inflight); } .dot.serr { background: var(--danger); }
dl { margin: .6rem 0 0; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(130px, 1fr)); gap: .5rem 1rem; }
.figures dt, .monthly dt, .details dt { color: var(--muted); font-size: .8rem; }
.figures dd, .details dd { margin: 0; font-weight: 600; font-variant-numeric: tabular-nums; }
.monthly div, .details div { display: grid; grid-template-columns: 6.5rem 1fr; gap: .5rem; padding: .2rem 0; }
.details div { grid-template-columns: 9rem 1fr; }
.monthly dd, .details dd { margin: 0; }
.pct { font-size: .8rem; padding: 0 .3rem; border-radius: 4px; }
.pct.high { background: #fff1d6; } .pct.over { background: #fbdcd8; color: var(--danger); }
.badge { font-size: .75rem; padding: .1rem .45rem; border-radius: 999px; background: var(--track); }
.breaker-closed { background: #dff3e6; color: #1d6b40; } .breaker-open { background: #fbdcd8; color: var(--danger); }
.breaker-half-open { background: #fff1d6; color: #8a5a00; }
.muted { color: var(--muted); font-weight: normal; }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; background: var(--card); font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .4rem .55rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .8rem; color: var(--muted); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
td { word-break: break-word; }
.dead-letters td:nth-child(4) { white-space: nowrap; }
tfoot th { color: var(--ink); }
.etag code { font-size: 12px; }
.count { font-variant-numeric: tabular-nums; }
.empty { color: var(--muted); }
.notice { background: #e6efff; border: 1px solid #bcd0f7; padding: .5rem .75rem; border-radius: 8px; }
.error { background: #fbdcd8; border: 1px solid #f1b2aa; padding: .5rem .75rem; border-radius: 8px; color: #7d1d12; }
.error-text { color: #7d1d12; font-size: .85rem; }
.updated { color: var(--muted); font-size: .8rem; margin: 0 0 .5rem; text-align: right; }
#refresh-state.stale { color: var(--danger); }
button, .button { font: inherit; padding: .35rem .8rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; display: inline-block; }
button.danger { background: var(--danger); border-color: var(--danger); }
.button.secondary, .signout button { background: transparent; color: inherit; border-color: currentColor; }
.top .signout button { color: #fff; padding: .2rem .6rem; }
form.inline { display: inline; }
.row-actions { white-space: nowrap; }
.row-actions button { padding: .15rem .5rem; font-size: .8rem; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: .5rem 0; }
.signin { max-width: 420px; margin: 2rem auto; background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 1.25rem; }
.signin form, form.browse { display: grid; gap: .75rem; }
form.browse { grid-template-columns: 1fr auto auto; align-items: end; margin-bottom: .75rem; }
label { display: grid; gap: .25rem; font-size: .85rem; color: var(--muted); }
input { font: inherit; padding: .45rem .55rem; border: 1px solid var(--line); border-radius: 6px; color: var(--ink); min-width: 0; }
.crumbs { margin: .25rem 0 .75rem; word-break: break-all; }
.crumbs .sep { color: var(--muted); }
.pager { display: flex; gap: 1rem; margin-top: .75rem; }
.key { word-break: break-all; }
tr.prefix td a::before { content: "▸ "; color: var(--muted); }
.chart { margin: 1rem 0 0; }
.chart svg { display: block; width: 100%; height: 160px; }
.chart .req { fill: var(--used); } .chart .cerr { fill: var(--inflight); } .chart .serr { fill: var(--danger); }
.chart figcaption { display: flex; flex-wrap: wrap; gap: .75rem; font-size: .8rem; margin-top: .35rem; }
details summary { cursor: pointer; color: var(--accent); margin: .5rem 0; }
@media (max-width: 640px) {
  body { font-size: 14px; }
  main { padding: .6rem; }
  .cards { grid-template-columns: 1fr; }
  .signout { margin-left: 0; width: 100%; justify-content: space-between; }
  .figures { grid-template-columns: repeat(2, 1fr); }
  form.browse { grid-template-columns: 1fr 5rem; }
  form.browse button { grid-column: 1 / -1; }
  .details div { grid-template-columns: 1fr; gap: 0; }
  th, td { padding: .35rem .4rem; }
}
`;

const JS = `'use strict';
(function () {
  var live = document.getElementById('live');
  if (!live) return;
  var url = live.getAttribute('data-refresh');
  var stamp = document.getElementById('updated');
  var state = document.getElementById('refresh-state');
  var INTERVAL = 5000;
  var timer = null;
  function show(text, stale) { state.textContent = text; state.className = stale ? 'stale' : ''; }
  function refresh() {
    timer = null;
    if (document.hidden) return;
    fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) {
        if (res.status === 401) { show('signed out: reload the page to sign in again', true); return null; }
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (body) {
        if (!body) return;
        var active = document.activeElement;
        if (active && live.contains(active) && active.tagName === 'INPUT') { schedule(); return; }
        live.innerHTML = body.fragments.live;
        stamp.textContent = 'updated ' + new Date(body.generatedAt).toISOString().slice(0, 19).replace('T', ' ') + ' UTC';
        show('', false);
        document.dispatchEvent(new CustomEvent('s3o:refreshed'));
        schedule();
      })
      .catch(function (err) { show('refresh failed (' + err.message + '); retrying', true); schedule(); });
  }
  function schedule() { if (timer === null && !document.hidden) timer = setTimeout(refresh, INTERVAL); }
  document.addEventListener('visibilitychange', function () { if (!document.hidden) { if (timer !== null) clearTimeout(timer); timer = null; refresh(); } });
  window.s3oRefresh = refresh;
  schedule();
})();
`;

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

function asset(text: string, contentType: string): Asset {
  const body = Buffer.from(text, 'utf8');
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['app.css', asset(CSS, 'text/css; charset=utf-8')],
  ['app.js', asset(JS, 'text/javascript; charset=utf-8')],
]);
