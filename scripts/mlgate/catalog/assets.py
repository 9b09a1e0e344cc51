"""The site's one stylesheet and one script, written into DIR/assets/ (no CDN, no web font, no framework).

Colours meet WCAG AA contrast on white; a delta says "better"/"worse" in words too (for screen readers and
for readers who do not tell red from green). The script loads the search index on first use, filters it,
filters the audit trail (this page at once, the whole trail once ``audit/history.js`` is loaded), and draws
the comparison of any two versions from a model's ``compare/data.js``; it builds everything with
``textContent`` only, so no text from the registry is ever read as markup.
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
.unverified{color:var(--bad);font-style:italic}
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
form.filters,form.pickers{display:flex;flex-wrap:wrap;gap:6px 10px;align-items:center;margin:12px 0}
form.filters select,form.filters input,form.pickers select,form.pickers button,.pager button{font:inherit;padding:4px 8px;border:1px solid #8c959f;border-radius:4px;background:#fff;color:var(--fg)}
button:focus{outline:3px solid #f0a000;outline-offset:1px}
button:disabled{color:var(--muted)}
tr.differs th,tr.differs td{background:#fff8db}
#cmp-out td{overflow-wrap:anywhere;min-width:6em}
.scroll:focus{outline:3px solid #f0a000}
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

  function el(tag, text, cls) {
    var x = document.createElement(tag);
    if (text !== undefined && text !== null) { x.textContent = text; }
    if (cls) { x.className = cls; }
    return x;
  }

  function shown(v) {
    if (v === null || v === undefined) { return "\u2014"; }
    if (typeof v === "object") { return JSON.stringify(v); }
    return String(v);
  }

  function cell(tag, content) {
    var c = el(tag);
    if (content !== null && typeof content === "object" && content.nodeType) { c.appendChild(content); }
    else { c.textContent = shown(content); }
    return c;
  }

  // a table with a caption and column headers; each row: [cells...], the first a row header; row.cls a class
  function table(caption, heads, rows, cls) {
    var wrap = el("div", null, "scroll"), t = el("table", null, cls || ""), head = el("tr"), body = el("tbody");
    t.appendChild(el("caption", caption));
    heads.forEach(function (h) { var th = el("th", h); th.scope = "col"; head.appendChild(th); });
    t.appendChild(el("thead")).appendChild(head);
    rows.forEach(function (r) {
      var tr = el("tr", null, r.cls || "");
      r.forEach(function (c, i) {
        var x = cell(i === 0 ? "th" : "td", c);
        if (i === 0) { x.scope = "row"; }
        if (r.num && r.num.indexOf(i) >= 0) { x.className = "num"; }
        tr.appendChild(x);
      });
      body.appendChild(tr);
    });
    t.appendChild(body);
    wrap.appendChild(t);
    wrap.tabIndex = 0;  // a table wider than the screen scrolls by keyboard too
    wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", caption);
    return wrap;
  }

  // --- compare any two versions (models/NAME/compare/): drawn from window.MLGATE_COMPARE (data.js) ---
  var C = window.MLGATE_COMPARE;
  var pickA = document.getElementById("cmp-a"), pickB = document.getElementById("cmp-b");
  if (C && pickA && pickB && C.versions.length) {
    var byV = {};
    C.versions.forEach(function (v) { byV[String(v.v)] = v; });
    var cmpOut = document.getElementById("cmp-out"), note = document.getElementById("cmp-note");
    var cmpLink = document.getElementById("cmp-link");

    var round = function (x) { return Number(x.toPrecision(12)); };

    var delta = function (m, va, vb) {
      var dir = C.directions[m] || [null, "no metric gate names it"];
      if (typeof va !== "number" || typeof vb !== "number") { return {text: "\u2014", dir: dir}; }
      var d = round(vb - va), cls = "plain", word = "";
      if (dir[0] && isFinite(d)) {
        cls = d === 0 ? "same" : (d > 0) === (dir[0] === "higher") ? "better" : "worse";
        word = cls;
      }
      var span = el("span", (d >= 0 ? "+" : "") + String(d), "delta " + cls);
      if (word) { span.appendChild(el("span", " (" + word + ")", "sr")); }
      return {node: span, dir: dir};
    };

    var side = function (label, v) {
      var box = el("div", null, "side"), h = el("h2", label + ": ");
      var a = el("a", "v" + v.v);
      a.href = "../versions/" + encodeURIComponent(v.v) + "/";
      h.appendChild(a);
      v.aliases.forEach(function (x) { h.appendChild(document.createTextNode(" ")); h.appendChild(el("span", x, "alias")); });
      if (v.deprecated) { h.appendChild(el("span", " deprecated: " + v.deprecated, "health bad")); }
      box.appendChild(h);
      box.appendChild(el("p", v.description, "description"));
      box.appendChild(el("p", "Created " + shown(v.created_at).slice(0, 16).replace("T", " ") + " by " + shown(v.created_by)));
      return box;
    };

    var fields = function (title, key, a, b) {
      var fa = a[key] || {}, fb = b[key] || {}, names = Object.keys(fa);
      Object.keys(fb).forEach(function (k) { if (!(k in fa)) { names.push(k); } });
      if (!names.length) { return el("p", title + ": none on either side", "muted"); }
      var differ = 0;
      var rows = names.map(function (k) {
        var same = JSON.stringify(fa[k]) === JSON.stringify(fb[k]);
        if (!same) { differ++; }
        var r = [k, fa[k], fb[k], same ? "same" : "differs"];
        r.cls = same ? "" : "differs";
        return r;
      });
      return table(title + ": " + differ + " of " + names.length + " differ", ["field", "a (v" + a.v + ")", "b (v" + b.v + ")", ""], rows, "fields");
    };

    var cardTable = function (a, b) {
      if (!a.card && !b.card) { return el("p", "Neither version has a card.", "muted"); }
      var sa = {}, sb = {}, names = [];
      (a.card || []).forEach(function (s) { sa[s[0].toLowerCase()] = s[1]; names.push(s[0]); });
      (b.card || []).forEach(function (s) { sb[s[0].toLowerCase()] = s[1]; if (!(s[0].toLowerCase() in sa)) { names.push(s[0]); } });
      var say = function (card, found, k) {
        if (!card) { return "no card"; }
        if (!(k in found)) { return "missing"; }
        return found[k] ? "has content" : "empty";
      };
      var rows = names.map(function (n) {
        var k = n.toLowerCase(), r = [n, say(a.card, sa, k), say(b.card, sb, k)];
        r.cls = r[1] === r[2] ? "" : "differs";
        return r;
      });
      return table("Card sections", ["section", "a (v" + a.v + ")", "b (v" + b.v + ")"], rows, "card-sections");
    };

    var draw = function (a, b) {
      cmpOut.textContent = "";
      var sides = el("div", null, "sides");
      sides.appendChild(side("a", a));
      sides.appendChild(side("b", b));
      cmpOut.appendChild(sides);
      var names = Object.keys(a.metrics);
      Object.keys(b.metrics).forEach(function (k) { if (!(k in a.metrics)) { names.push(k); } });
      var sec = el("section");
      sec.appendChild(el("h2", "Metrics"));
      if (names.length) {
        var rows = names.map(function (m) {
          var d = delta(m, a.metrics[m], b.metrics[m]);
          var r = [m, a.metrics[m], b.metrics[m], d.node || d.text,
            (d.dir[0] ? d.dir[0] + " is better" : "unknown") + " (" + d.dir[1] + ")"];
          r.num = [1, 2, 3];
          return r;
        });
        sec.appendChild(table("Metrics side by side (delta is b \u2212 a; coloured by the policy's direction)",
          ["metric", "a (v" + a.v + ")", "b (v" + b.v + ")", "delta", "better is"], rows, "metrics"));
      } else {
        sec.appendChild(el("p", "no metrics on either side", "muted"));
      }
      cmpOut.appendChild(sec);
      var rest = el("section");
      rest.appendChild(el("h2", "Parameters, lineage, environment and artifact"));
      [["Parameters", "params"], ["Lineage", "lineage"], ["Environment", "environment"],
        ["Evaluation data set", "eval_dataset"], ["Artifact", "artifact"]].forEach(function (x) {
        rest.appendChild(fields(x[0], x[1], a, b));
      });
      cmpOut.appendChild(rest);
      var cards = el("section");
      cards.appendChild(el("h2", "Card sections and evidence"));
      cards.appendChild(cardTable(a, b));
      cards.appendChild(el("p", "Evidence: a (v" + a.v + ") " + (a.evidence.join(", ") || "none") +
        "; b (v" + b.v + ") " + (b.evidence.join(", ") || "none")));
      cmpOut.appendChild(cards);
    };

    var update = function () {
      var a = byV[pickA.value], b = byV[pickB.value];
      if (!a || !b) { return; }
      var query = "?a=" + encodeURIComponent(a.v) + "&b=" + encodeURIComponent(b.v);
      cmpLink.href = query;
      try { history.replaceState(null, "", query); } catch (err) { /* a page opened from disk may refuse */ }
      document.title = "Compare " + C.model + " v" + a.v + " and v" + b.v + " \u00b7 mlgate catalog";
      draw(a, b);
    };

    var asked = new URLSearchParams(location.search || location.hash.replace(/^#/, "?"));
    var numbers = C.versions.map(function (v) { return String(v.v); });
    var latest = numbers[numbers.length - 1];
    var other = C.champion !== null && String(C.champion) !== latest ? String(C.champion) : numbers[numbers.length - 2] || latest;
    var missing = [];
    var choose = function (key, fallback) {
      var want = asked.get(key);
      if (want !== null && !(want in byV)) { missing.push(want); }
      return want !== null && want in byV ? want : fallback;
    };
    pickA.value = choose("a", other);
    pickB.value = choose("b", latest);
    if (missing.length) {
      note.textContent = C.model + " has no version " + missing.join(" or ") + ": showing v" + pickA.value + " and v" + pickB.value + ".";
      note.hidden = false;
    }
    document.getElementById("cmp-nojs").hidden = true;
    document.getElementById("cmp-form").hidden = false;
    pickA.addEventListener("change", update);
    pickB.addEventListener("change", update);
    document.getElementById("cmp-swap").addEventListener("click", function () {
      var x = pickA.value;
      pickA.value = pickB.value;
      pickB.value = x;
      update();
    });
    update();
  }

  // --- the audit trail's filters: over this page at once, over the whole trail (audit/history.js) when loaded ---
  var form = document.querySelector("form.filters");
  if (form) {
    var tbody = document.querySelector("table.audit tbody");
    var rows = Array.prototype.slice.call(tbody.rows);
    var count = document.getElementById("f-count");
    var total = parseInt(form.getAttribute("data-total") || "0", 10);
    var pagers = Array.prototype.slice.call(document.querySelectorAll("nav.pager.static"));
    var more = document.getElementById("f-pages"), where = document.getElementById("f-where");
    var prev = document.getElementById("f-prev"), next = document.getElementById("f-next");
    var PAGE = 200, at = 0, matches = [], asking = false, failed = false;
    var words = {promotion: "promoted", rollback: "rolled back", removal: "removed"};
    var value = function (id) { var x = document.getElementById(id); return x ? x.value.trim().toLowerCase() : ""; };
    var wanted = function () {
      return {m: value("f-model"), a: value("f-alias"), k: value("f-kind"), p: value("f-person"),
        from: value("f-from"), to: value("f-to")};
    };
    var fits = function (f, d) {
      return (!f.m || d.model === f.m) && (!f.a || d.alias === f.a) && (!f.k || d.kind === f.k) &&
        (!f.p || d.people.indexOf(f.p) >= 0) && (!f.from || d.date >= f.from) && (!f.to || d.date <= f.to);
    };
    var facts = function (ev) {
      var people = [ev.author, ev.merger];
      if (Array.isArray(ev.approvers)) { ev.approvers.forEach(function (x) { people.push(x.login); }); }
      return {model: (ev.model || "").toLowerCase(), alias: (ev.alias || "").toLowerCase(),
        kind: String(ev.kind).toLowerCase(), people: people.filter(Boolean).join(" ").toLowerCase(),
        date: String(ev.time || "").slice(0, 10)};
    };
    var muted = function (text) { return el("span", text, "muted"); };
    var move = function (ev) {
      if (ev.kind === "removal" || ev.to === null || ev.to === undefined) { return "removed (was v" + shown(ev.from) + ")"; }
      if (ev.from === null || ev.from === undefined) { return "set to v" + shown(ev.to); }
      return (words[ev.kind] || ev.kind) + " v" + shown(ev.from) + " \u2192 v" + shown(ev.to);
    };
    var line = function (ev) {
      var r = el("tr"), t = el("time", String(ev.time || "").slice(0, 16).replace("T", " "));
      t.setAttribute("datetime", String(ev.time || ""));
      var model = "\u2014";
      if (ev.model) { model = el("a", ev.model); model.href = root + "models/" + encodeURIComponent(ev.model) + "/"; }
      var who = shown(ev.author) + (ev.merger && ev.merger !== ev.author ? " (merged by " + ev.merger + ")" : "");
      var approvers = muted("unknown (" + (ev.approvers_unknown || "no forge") + ")");
      if (Array.isArray(ev.approvers)) {  // the counted ones, then those the token could not verify
        approvers = el("span");
        var names = ev.approvers.map(function (x) { return document.createTextNode(x.login); });
        (Array.isArray(ev.not_counted) ? ev.not_counted : []).forEach(function (n) {
          if (!n || n.unverified !== true) { return; }
          var reason = String(n.reason || "");
          var u = el("span", n.login + " (approved; not verified: " + reason.split(" (")[0] + ")", "unverified");
          u.title = reason;
          names.push(u);
        });
        names.forEach(function (node, i) { if (i) { approvers.appendChild(document.createTextNode(", ")); } approvers.appendChild(node); });
        if (!names.length) { approvers = muted("none"); }
      }
      var cells = [t, ev.kind, model, ev.alias || "", ev.alias ? move(ev) : (ev.to !== null && ev.to !== undefined ? "v" + ev.to : ""),
        who, ev.pr !== null && ev.pr !== undefined ? "#" + ev.pr : muted("no PR"), approvers,
        el("code", String(ev.commit).slice(0, 12))];
      cells.forEach(function (c) { r.appendChild(cell("td", c)); });
      return r;
    };
    var draw = function () {
      tbody.textContent = "";
      var end = Math.min(matches.length, at + PAGE);
      for (var i = at; i < end; i++) { tbody.appendChild(line(matches[i])); }
      var pages = Math.max(1, Math.ceil(matches.length / PAGE));
      more.hidden = pages < 2;
      where.textContent = "page " + (Math.floor(at / PAGE) + 1) + " of " + pages;
      prev.disabled = at === 0;
      next.disabled = end >= matches.length;
      count.textContent = matches.length + " of " + total + " events match" +
        (pages > 1 ? " (" + (at + 1) + " to " + end + " shown)" : "");
    };
    var load = function () {
      if (window.MLGATE_HISTORY || asking) { return; }
      asking = true;
      var s = document.createElement("script");
      s.src = root + "audit/history.js";
      s.onload = apply;  // the filters offer every value of the trail from the start (the page lists them)
      s.onerror = function () { failed = true; apply(); };
      document.head.appendChild(s);
    };
    var apply = function () {
      var f = wanted(), any = f.m || f.a || f.k || f.p || f.from || f.to;
      var whole = window.MLGATE_HISTORY;
      if (any && !whole && !failed) { load(); }
      if (!any || !whole) {  // this page's own rows, filtered at once
        more.hidden = true;
        pagers.forEach(function (p) { p.hidden = false; });
        if (tbody.rows.length !== rows.length || (rows.length && tbody.rows[0] !== rows[0])) {
          tbody.textContent = "";
          rows.forEach(function (r) { tbody.appendChild(r); });
        }
        var n = 0;
        rows.forEach(function (r) { var ok = fits(f, r.dataset); r.hidden = !ok; if (ok) { n++; } });
        count.textContent = !any ? rows.length + " of " + total + " events on this page" :
          failed ? n + " of this page's " + rows.length + " events match (the whole trail could not be loaded)" :
          n + " of this page's " + rows.length + " events match; searching the whole trail\u2026";
        return;
      }
      pagers.forEach(function (p) { p.hidden = true; });
      matches = whole.events.filter(function (ev) { return fits(f, facts(ev)); });
      at = 0;
      draw();
    };
    prev.addEventListener("click", function () { at = Math.max(0, at - PAGE); draw(); });
    next.addEventListener("click", function () { if (at + PAGE < matches.length) { at += PAGE; draw(); } });
    form.addEventListener("focusin", load);
    form.addEventListener("input", apply);
    form.addEventListener("change", apply);
    form.addEventListener("submit", function (ev) { ev.preventDefault(); });
    apply();
  }
}());
"""
