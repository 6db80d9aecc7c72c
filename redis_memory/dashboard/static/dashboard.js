// redis-memory dashboard: one EventSource, plain DOM. Every value from Redis is
// set as text (never as HTML).
"use strict";
(() => {
  const token = new URLSearchParams(window.location.search).get("token");
  const query = token ? "?token=" + encodeURIComponent(token) : "";
  const MAX_ROWS = 200;
  const $ = (id) => document.getElementById(id);
  let lastSeq = 0;

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (name === "class") node.className = value;
      else if (name === "title") node.title = value;
      else if (name.startsWith("data-")) node.setAttribute(name, value);
      else node[name] = value;
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const pad = (n) => String(n).padStart(2, "0");
  function clock(ts) {
    if (!ts) return "";
    const d = new Date(ts * 1000);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  function ago(ts) {
    if (!ts) return "";
    const s = Math.max(0, Date.now() / 1000 - ts);
    if (s < 60) return `${Math.round(s)} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    return `${(s / 3600).toFixed(1)} h ago`;
  }
  function seconds(value) {
    if (value === null || value === undefined) return "never";
    if (value < 60) return `${value.toFixed(1)} s`;
    if (value < 3600) return `${(value / 60).toFixed(1)} min`;
    return `${(value / 3600).toFixed(1)} h`;
  }
  function bytes(n) {
    if (n < 1024) return `${n} B`;
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let size = n;
    for (const unit of units) {
      size /= 1024;
      if (size < 1024 || unit === "TiB") return `${size.toFixed(1)} ${unit}`;
    }
    return `${n} B`;
  }
  const percent = (rate) => (rate === null || rate === undefined ? "–" : `${(rate * 100).toFixed(1)} %`);
  const json = (value) => (typeof value === "string" ? value : JSON.stringify(value));
  const short = (text, n = 120) => (text.length > n ? text.slice(0, n - 1) + "…" : text);

  function fill(id, rows, cells, empty = "none") {
    const body = $(id);
    if (!body) return;
    const columns = body.closest("table").querySelectorAll("th").length;
    body.replaceChildren();
    if (!rows || rows.length === 0) {
      body.append(el("tr", {}, el("td", { class: "none", colSpan: columns }, empty)));
      return;
    }
    for (const row of rows) {
      const tr = el("tr");
      for (const cell of cells(row)) {
        tr.append(cell instanceof Node && cell.tagName === "TD" ? cell : el("td", {}, cell));
      }
      body.append(tr);
    }
  }
  const when = (ts) => el("td", { class: "nowrap" }, ago(ts));
  const num = (value) => el("td", { class: "n" }, value === null || value === undefined ? "–" : value);

  function showError(id, panel) {
    const node = $(id + "-error");
    if (!node) return;
    const error = panel && panel.error;
    node.hidden = !error;
    node.textContent = error || "";
  }

  // -- status ---------------------------------------------------------------------------
  function pill(id, label, ok, text) {
    const node = $(id);
    node.className = "pill " + (ok === true ? "ok" : ok === false ? "bad" : "wait");
    node.textContent = `${label}: ${text}`;
  }
  function renderStatus(status) {
    const redis = status.redis || {};
    const feed = status.feed || {};
    pill("redis-status", "Redis", redis.ok, redis.ok ? "connected" : redis.ok === false ? "unreachable" : "…");
    pill("feed-status", "feed", feed.ok, feed.ok ? "live" : "reconnecting");
    const down = redis.ok === false || (feed.ok === false && feed.error && feed.error.startsWith("Redis unreachable"));
    document.body.classList.toggle("down", Boolean(down));
    const banner = $("banner");
    banner.hidden = !down;
    if (down) {
      const error = (redis.error || feed.error || "").replace(/^Redis unreachable: /, "").replace(/\.$/, "");
      banner.textContent = `Redis unreachable since ${clock(redis.ok === false ? redis.since : feed.since)}: ${short(error, 240)}. ` +
        `The readings below are from ${clock(status.refreshed) || "before"}; both recover on their own.`;
    }
    if (status.refreshed) $("refreshed").textContent = `read ${clock(status.refreshed)}`;
  }

  // -- the feed ---------------------------------------------------------------------------
  // Shown first, in this order; then the rest. Ids the row shows already are left out.
  const FIRST = ["queue", "task_id", "owner", "worker", "agent", "author", "subject", "op", "keys"];
  const SKIP = new Set(["event", "ids", "session_id", "user_id", "team"]);
  function summary(event) {
    const data = event.data || {};
    const parts = [];
    if (data.event !== undefined) parts.push(el("b", {}, String(data.event)));
    if (event.topic === "session" && data.added !== undefined) {
      parts.push(` +${data.added} message${data.added === 1 ? "" : "s"}`);
      if (data.count !== undefined) parts.push(` (${data.count} in all)`);
    } else if (event.topic === "cache") {
      if (data.cache) parts.push(` ${data.cache}`);
      if (data.tier) parts.push(` ${data.tier}`);
      if (typeof data.seconds === "number") parts.push(` ${(data.seconds * 1000).toFixed(1)} ms`);
    } else {
      const keys = Object.keys(data).filter((key) => !SKIP.has(key) && data[key] !== null);
      keys.sort((a, b) => (FIRST.includes(a) ? FIRST.indexOf(a) : 99) - (FIRST.includes(b) ? FIRST.indexOf(b) : 99));
      const shown = keys.map((key) => `${key}=${short(json(data[key]), 28)}`).join(" ");
      if (shown) parts.push(" " + short(shown, 200));
    }
    return parts;
  }
  function addEvent(event, animate = true) {
    if (event.seq <= lastSeq) return;
    lastSeq = event.seq;
    const scope = event.scope ? el("span", { class: "mono" }, event.scope, " ") : null;
    const row = el(
      "li",
      { class: animate ? "event new" : "event", "data-topic": event.topic, "data-scope": event.scope || "", "data-seq": String(event.seq) },
      el("span", { class: "muted mono" }, clock(event.ts)),
      el("span", { class: `topic topic-${event.topic}` }, event.topic),
      el("span", { class: "what" }, scope, ...summary(event)),
    );
    const list = $("feed");
    list.prepend(row);
    while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
  }

  // -- the readings -------------------------------------------------------------------------
  function renderSessions(sessions) {
    showError("sessions", sessions);
    const count = sessions.count === null || sessions.count === undefined ? "" : String(sessions.count);
    $("sessions-count").textContent = count + (sessions.truncated ? "+" : "");
    fill("sessions", sessions.active, (row) => [
      el("span", { class: "mono" }, row.session_id),
      num(row.per_minute),
      num(row.count),
      when(row.last),
    ], "no appends in the last 10 minutes");
  }

  function renderCache(cache) {
    $("cache-rate").textContent = cache.hits + cache.misses ? `${percent(cache.hit_rate)} hits` : "";
    fill("caches", cache.caches, (row) => [
      row.cache, num(row.hits), num(row.exact), num(row.semantic), num(row.misses), num(percent(row.hit_rate)),
    ], "no lookups seen yet (caches announce them with publish_events=True)");
    const list = $("lookups");
    list.replaceChildren();
    for (const lookup of (cache.recent || []).slice(0, 24)) {
      const label = lookup.event === "hit" ? `hit ${lookup.tier}` : "miss";
      const ms = typeof lookup.seconds === "number" ? ` ${(lookup.seconds * 1000).toFixed(1)} ms` : "";
      list.append(el("li", { class: lookup.event, title: `${lookup.cache} at ${clock(lookup.ts)}` }, `${lookup.cache}: ${label}${ms}`));
    }
  }

  function bar(width) {
    const node = el("span");
    node.style.width = `${Math.round(width)}%`;
    return node;
  }

  function renderMemory(memory) {
    showError("memory", memory);
    const kinds = memory.kinds || [];
    const most = Math.max(1, ...kinds.map((row) => row.bytes));
    const total = kinds.reduce((sum, row) => sum + row.bytes, 0);
    $("memory-total").textContent = memory.refreshed ? `${bytes(total)}, measured ${clock(memory.refreshed)}` : "measuring…";
    fill("memory", kinds, (row) => [
      row.kind,
      num(row.keys),
      num((row.exact ? "" : "~") + bytes(row.bytes)),
      el("td", { class: "bar" }, bar((100 * row.bytes) / most)),
    ], memory.refreshed ? "no keys" : "measuring…");
  }

  function holdName(hold) {
    return `${hold.kind} ${hold.name}`;
  }

  function renderTeams(teams) {
    showError("teams", teams);
    const box = $("teams");
    box.replaceChildren();
    const rows = teams.teams || [];
    if (!rows.length) {
      box.append(el("p", { class: "muted" }, "no team has a live agent"));
      return;
    }
    for (const team of rows) {
      const table = el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "agent"), el("th", {}, "can"), el("th", {}, "holds"), el("th", { class: "n" }, "alive for"))),
        el("tbody"));
      const section = el("div", { class: "team" },
        el("h3", {}, team.team, " ", el("span", { class: "muted" }, `${team.agents.length} live`,
          team.orphaned.length ? `, ${team.orphaned.length} orphaned hold${team.orphaned.length === 1 ? "" : "s"}` : "")),
        table);
      box.append(section);
      const body = table.querySelector("tbody");
      const agents = team.agents.map((agent) => ({ ...agent, dead: false }));
      for (const hold of team.orphaned) agents.push({ id: hold.holder, capabilities: [], holds: [hold], expires_in: null, dead: true });
      for (const agent of agents) {
        body.append(el("tr", {},
          el("td", { class: agent.dead ? "mono state-orphaned" : "mono" }, agent.id, agent.dead ? " (gone)" : ""),
          el("td", {}, agent.capabilities.join(", ")),
          el("td", { class: agent.dead ? "state-orphaned" : "" }, agent.holds.map(holdName).join(", ") || "–"),
          num(agent.dead ? "gone" : seconds(agent.expires_in))));
      }
    }
  }

  function renderHolds(holds) {
    showError("holds", holds);
    $("holds-orphaned").textContent = holds.orphaned ? `${holds.orphaned} orphaned` : "";
    fill("holds", holds.holds, (row) => [
      el("span", { class: "mono" }, holdName(row)),
      el("span", { class: "mono" }, row.holder),
      el("span", { class: `state-${row.state}` }, row.state + (row.team ? ` (${row.team})` : "")),
      num(seconds(row.expires_in)),
    ], "nothing is held");
  }

  function renderConflicts(conflicts) {
    showError("conflicts", conflicts);
    fill("conflicts", conflicts.conflicts, (row) => [
      el("span", { class: "mono" }, row.task_id),
      row.subject,
      Object.entries(row.verdicts).map(([author, verdict]) => `${author}: ${short(json(verdict), 60)}`).join("; "),
      when(row.opened),
    ], "agents agree");
  }

  function renderQueues(pqueues, streams) {
    showError("pqueues", pqueues);
    showError("streams", streams);
    fill("pqueues", pqueues.queues, (row) => [row.queue, num(row.ready), num(row.delayed), num(row.leased)], "no queued tasks");
    fill("streams", streams.queues, (row) => [
      row.queue, num(row.length), num(row.pending),
      Object.entries(row.consumers || {}).map(([name, n]) => `${name}: ${n}`).join(", "),
    ], "no stream queues");
  }

  function renderLocks(locks, ratelimits) {
    showError("locks", locks);
    showError("ratelimits", ratelimits);
    fill("locks", locks.locks, (row) => [el("span", { class: "mono" }, row.name), num(seconds(row.expires_in))], "no lock held");
    fill("ratelimits", ratelimits.limits, (row) => [
      el("span", { class: "mono" }, row.name),
      num(row.tokens === null ? "–" : row.tokens.toFixed(2)),
      num(seconds(row.full_in)),
    ], "every bucket is full");
  }

  function renderReadings(r) {
    renderStatus(r);
    $("url").textContent = r.url || "";
    $("refresh-every").textContent = r.refresh_seconds;
    $("events-total").textContent = r.events ? `${r.events.total} seen` : "";
    if (r.sessions) renderSessions(r.sessions);
    if (r.cache) renderCache(r.cache);
    if (r.memory) renderMemory(r.memory);
    if (r.teams) renderTeams(r.teams);
    if (r.holds) renderHolds(r.holds);
    if (r.conflicts) renderConflicts(r.conflicts);
    if (r.pqueues && r.streams) renderQueues(r.pqueues, r.streams);
    if (r.locks && r.ratelimits) renderLocks(r.locks, r.ratelimits);
  }

  // -- the stream ----------------------------------------------------------------------------
  function connect() {
    const source = new EventSource("/events" + query);
    source.addEventListener("open", () => pill("page-status", "page", true, "live"));
    source.addEventListener("error", () => {
      // EventSource reconnects by itself (the server asks for 1 s).
      pill("page-status", "page", false, source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    });
    source.addEventListener("hello", (message) => {
      const hello = JSON.parse(message.data);
      for (const event of hello.events) addEvent(event, false);
      renderReadings(hello.readings);
    });
    source.addEventListener("feed", (message) => addEvent(JSON.parse(message.data)));
    source.addEventListener("readings", (message) => renderReadings(JSON.parse(message.data)));
    source.addEventListener("status", (message) => renderStatus(JSON.parse(message.data)));
  }

  connect();
})();
