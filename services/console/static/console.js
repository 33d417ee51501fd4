// Hotline console: live queues over server-sent events, ages that tick, no framework, no CDN.
"use strict";
(function () {
  const zh = document.body.dataset.lang === "zh";

  function age(seconds) {
    seconds = Math.max(0, seconds);
    if (seconds < 60) return Math.round(seconds) + (zh ? " 秒" : " s");
    if (seconds < 3600) return Math.round(seconds / 60) + (zh ? " 分钟" : " min");
    if (seconds < 86400) return (seconds / 3600).toFixed(1) + (zh ? " 小时" : " h");
    return (seconds / 86400).toFixed(1) + (zh ? " 天" : " d");
  }

  function tick() {
    const now = Date.now();
    for (const el of document.querySelectorAll("[data-since]")) {
      const since = el.dataset.since;
      el.textContent = since ? age((now - Date.parse(since)) / 1000) : "—";
    }
  }

  function text(value) {
    return value === undefined || value === null ? "—" : String(value);
  }

  function queueCell(row, cls, value) {
    const cell = row.querySelector("." + cls);
    if (cell && cell.textContent !== value) cell.textContent = value;
  }

  function addQueueRow(body, q) {
    const row = document.createElement("tr");
    row.dataset.queueId = q.queue_id;
    const name = document.createElement("td");
    const link = document.createElement("a");
    link.href = "/queues/" + q.queue_id;
    link.textContent = q.unit_name;
    const sub = document.createElement("div");
    sub.className = "sub";
    sub.textContent = q.queue_id;
    name.append(link, sub);
    row.appendChild(name);
    const kind = document.createElement("td");
    kind.textContent = q.unit_kind;
    row.appendChild(kind);
    for (const cls of ["depth", "overdue", "oldest", "total"]) {
      const td = document.createElement("td");
      td.className = "n " + cls;
      row.appendChild(td);
    }
    body.appendChild(row);
    return row;
  }

  function updateQueues(queues) {
    const table = document.getElementById("queues");
    if (!table) return;
    const body = table.tBodies[0];
    for (const q of queues) {
      let row = body.querySelector('tr[data-queue-id="' + CSS.escape(q.queue_id) + '"]');
      if (!row) row = addQueueRow(body, q);
      queueCell(row, "depth", text(q.depth));
      queueCell(row, "overdue", text(q.overdue));
      queueCell(row, "total", text(q.dispatched_total));
      const oldest = row.querySelector(".oldest");
      if (oldest) oldest.dataset.since = q.oldest_waiting ? q.oldest_waiting.received_at : "";
    }
    const updated = document.getElementById("updated");
    if (updated) updated.textContent = new Date().toLocaleTimeString();
  }

  let lastSignature = null;
  let refreshing = null;

  async function refreshRows(url) {
    const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!response.ok) return;
    document.getElementById("case-rows").innerHTML = await response.text();
    const listed = document.getElementById("cooperating-listed");
    const cooperating = document.getElementById("cooperating");
    if (listed && cooperating) cooperating.textContent = listed.dataset.count;
  }

  function updateQueue(queues) {
    const figures = document.getElementById("queue-figures");
    if (!figures) return;
    const q = queues.find((item) => item.queue_id === figures.dataset.queueId);
    if (!q) return;
    document.getElementById("depth").textContent = text(q.depth);
    if (q.overdue !== undefined && q.overdue !== null) document.getElementById("overdue").textContent = text(q.overdue);
    const oldest = figures.querySelector(".oldest");
    if (oldest) oldest.dataset.since = q.oldest_waiting ? q.oldest_waiting.received_at : "";
    const copy = Object.assign({}, q);
    if (copy.oldest_waiting) copy.oldest_waiting = Object.assign({}, copy.oldest_waiting, { age_seconds: 0 });
    const signature = JSON.stringify(copy);
    if (signature !== lastSignature) {
      lastSignature = signature;
      const url = document.getElementById("cases").dataset.rows;
      refreshing = (refreshing || Promise.resolve()).then(() => refreshRows(url)).catch(() => {});
    }
  }

  function connect() {
    const live = document.getElementById("live");
    if (!live || !window.EventSource) return;
    const source = new EventSource("/live/queues");
    source.addEventListener("queues", (event) => {
      const data = JSON.parse(event.data);
      live.classList.remove("off");
      live.title = "";
      updateQueues(data.queues);
      updateQueue(data.queues);
      tick();
    });
    source.onerror = () => {
      live.classList.add("off");
      live.title = live.dataset.offline;
    };
  }

  // After a step, reload the case a few times until the metrics store shows it (usually well under 1 s).
  function followPendingStep() {
    const done = document.getElementById("done");
    if (!done || done.dataset.pending !== "1") return;
    const url = new URL(window.location.href);
    const tries = Number(url.searchParams.get("wait") || "0");
    if (tries >= 10) return;
    url.searchParams.set("wait", String(tries + 1));
    setTimeout(() => window.location.replace(url.toString()), 300);
  }

  document.addEventListener("DOMContentLoaded", () => {
    followPendingStep();
    tick();
    setInterval(tick, 1000);
    connect();
  });
})();
