"""The site's one stylesheet and one script, written into DIR/assets/ (no CDN, no web font, no framework).

Colours meet WCAG AA contrast on white; a delta says "better"/"worse" in words too (for screen readers and
for readers who do not tell red from green). The script loads the search index on first use, filters it,
and filters the audit table; it builds results with ``textContent`` only.
"""

from __future__ import annotations

CSS = """\
:root{--fg:#1b1f23;--muted:#4d5561;--link:#0b4fa8;--line:#d0d7de;--bg:#fff;--soft:#f4f6f8;--good:#0a6b2b;--bad:#a4001d;--warn-bg:#fff4e5}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--link)}
a:focus,input:focus,select:focus{outline:3px solid #f0a000;outline-offset:1px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px;z-index:10}
header.top{display:flex;flex-wrap:wrap;gap:8px 24px;align-items:center;padding:10px 16px;border-bottom:1px solid var(--line);background:var(--soft)}
.brand{font-weight:700;text-decoration:none;color:var(--fg)}
header nav ul,.crumbs ol,.pager ol{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:4px 16px}
.search{position:relative;flex:1 1 260px;display:flex;gap:8px;align-items:center}
.search label{font-size:.85em;color:var(--muted)}
.search input{flex:1;min-width:0;padding:6px 8px;font:inherit;border:1px solid #8c959f;border-radius:4px}
#search-results{position:absolute;top:100%;left:0;right:0;z-index:5;list-style:none;margin:4px 0 0;padding:4px;background:#fff;border:1px solid var(--line);border-radius:4px;max-height:60vh;overflow:auto;box-shadow:0 4px 12px rgba(0,0,0,.15)}
#search-results li{padding:4px 6px}
#search-results .kind{display:inline-block;min-width:4.5em;font-size:.8em;color:var(--muted)}
.crumbs{padding:8px 16px;font-size:.9em}.crumbs li+li::before{content:"/";margin-right:12px;color:var(--muted)}
main{padding:8px 16px 32px;max-width:1200px;margin:0 auto}
footer{padding:16px;border-top:1px solid var(--line);color:var(--muted);font-size:.9em}
h1{font-size:1.6em;margin:.6em 0 .2em;overflow-wrap:anywhere}h2{font-size:1.25em;margin-top:1.4em}
.lede{color:var(--muted);margin-top:0}
.muted{color:var(--muted)}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
ul.models{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:16px}
li.model{border:1px solid var(--line);border-radius:6px;padding:12px 16px}
li.model h2{margin:0 0 4px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
dd dl{margin:0}
ul.aliases,ul.tags{list-style:none;margin:0;padding:0}
ul.tags{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}
.tag,.alias{display:inline-block;padding:0 6px;border-radius:10px;background:#e7eef8;color:#0b3d7a;font-size:.85em}
.health.bad{color:var(--bad);font-weight:600}
p.health.bad{background:var(--warn-bg);padding:6px 10px;border-left:4px solid var(--bad)}
.scroll{overflow-x:auto;margin:8px 0;position:relative}
table{border-collapse:collapse;min-width:50%}
caption{text-align:left;font-weight:600;padding:4px 0;color:var(--muted)}
th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
thead th{background:var(--soft);white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.deprecated th,tr.deprecated td{background:#fbeff0}
.delta{font-size:.85em;padding:0 3px;border-radius:3px}
.delta.better{color:var(--good)}.delta.worse{color:var(--bad)}.delta.same,.delta.plain{color:var(--muted)}
.way{color:var(--muted)}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em;overflow-wrap:anywhere}
figure.chart{margin:0;min-width:0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:16px;margin:12px 0}
figure.chart svg{width:100%;height:auto;border:1px solid var(--line);border-radius:4px;background:#fff}
.axis{stroke:#8c959f}.series{fill:none;stroke:#0b4fa8;stroke-width:2}
.pt{fill:#0b4fa8}.pt.held{fill:#b35900;stroke:#1b1f23;stroke-width:1}
.tick{font-size:12px;fill:#4d5561}.alias-label{font-size:12px;font-weight:700;fill:#8a4500}
figcaption{font-size:.9em;color:var(--muted)}
ol.timeline li{margin:4px 0}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.side{border:1px solid var(--line);border-radius:6px;padding:8px 12px}
.side h2{margin-top:0}
article.md{border:1px solid var(--line);border-radius:6px;padding:4px 16px;overflow-wrap:anywhere}
.md pre{overflow-x:auto;background:var(--soft);padding:8px}
form.filters{display:flex;flex-wrap:wrap;gap:6px 10px;align-items:center;margin:12px 0}
form.filters select,form.filters input{font:inherit;padding:4px;border:1px solid #8c959f;border-radius:4px}
.pager ol{gap:8px}
@media (max-width:640px){
  body{font-size:15px}
  .sides{grid-template-columns:1fr}
  ul.models{grid-template-columns:1fr}
  dl{grid-template-columns:1fr}dt{margin-top:6px}
  header.top{padding:8px}
}
@media print{
  header.top,.crumbs,footer,form.filters,.pager,.skip{display:none!important}
  body{font-size:10pt;color:#000}
  main{max-width:none;padding:0}
  a{color:#000;text-decoration:none}
  .scroll{overflow:visible}
  table{width:100%;min-width:0}
  th,td{padding:2px 4px;border-bottom:1px solid #999}
  thead{display:table-header-group}
  tr{break-inside:avoid}
}
"""

JS = """\
(function () {
  "use strict";
  var me = document.currentScript;
  var root = (me && me.getAttribute("data-root")) || "";
  var q = document.getElementById("q");
  var out = document.getElementById("search-results");
  var requested = false;
  var hay = null;

  function load() {
    if (window.MLGATE_SEARCH || requested) { return; }
    requested = true;
    var s = document.createElement("script");
    s.src = root + "assets/search-index.js";
    s.onload = run;
    document.head.appendChild(s);
  }

  function item(kind, text, href) {
    var li = document.createElement("li");
    var k = document.createElement("span");
    k.className = "kind";
    k.textContent = kind;
    li.appendChild(k);
    li.appendChild(document.createTextNode(" "));
    if (href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      li.appendChild(a);
    } else {
      li.appendChild(document.createTextNode(text));
    }
    return li;
  }

  function run() {
    var term = q.value.trim().toLowerCase();
    out.textContent = "";
    if (!term) { out.hidden = true; return; }
    var items = window.MLGATE_SEARCH;
    if (!items) { load(); return; }
    if (!hay) { hay = items.map(function (x) { return (x.n + " " + x.s).toLowerCase(); }); }
    var words = term.split(/\\s+/);
    var shown = 0;
    for (var i = 0; i < items.length && shown < 50; i++) {
      var h = hay[i];
      if (words.every(function (w) { return h.indexOf(w) >= 0; })) {
        out.appendChild(item(items[i].k, items[i].n, root + items[i].u));
        shown++;
      }
    }
    if (!shown) { out.appendChild(item("", "No match", null)); }
    out.hidden = false;
  }

  if (q && out) {
    q.addEventListener("focus", load);
    q.addEventListener("input", run);
    q.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { q.value = ""; run(); } });
  }

  var form = document.querySelector("form.filters");
  if (form) {
    var rows = Array.prototype.slice.call(document.querySelectorAll("table.audit tbody tr"));
    var count = document.getElementById("f-count");
    var value = function (id) { var el = document.getElementById(id); return el ? el.value.trim().toLowerCase() : ""; };
    var apply = function () {
      var m = value("f-model"), a = value("f-alias"), k = value("f-kind"), p = value("f-person");
      var from = value("f-from"), to = value("f-to"), shown = 0;
      rows.forEach(function (r) {
        var d = r.dataset;
        var ok = (!m || d.model === m) && (!a || d.alias === a) && (!k || d.kind === k) &&
          (!p || d.people.indexOf(p) >= 0) && (!from || d.date >= from) && (!to || d.date <= to);
        r.hidden = !ok;
        if (ok) { shown++; }
      });
      count.textContent = shown + " of " + rows.length + " events shown";
    };
    form.addEventListener("input", apply);
    form.addEventListener("change", apply);
    form.addEventListener("submit", function (ev) { ev.preventDefault(); });
    apply();
  }
}());
"""
