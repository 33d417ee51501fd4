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
    // The page's filters and sort travel with the rows it asks for.
    const response = await fetch(url + window.location.search, {
      headers: { Accept: "text/html" },
      credentials: "same-origin",
    });
    if (!response.ok) return;
    // Read the body first, then take the ticks and replace the rows with no await between: a box the operator
    // ticked while the body was arriving is kept (it was lost when the ticks were taken before the read).
    const rows = await response.text();
    const ticked = new Set([...document.querySelectorAll('#case-rows input[name="call_id"]:checked')].map((b) => b.value));
    const selected = document.querySelector("#case-rows tr.selected");
    document.getElementById("case-rows").innerHTML = rows;
    for (const box of document.querySelectorAll('#case-rows input[name="call_id"]')) box.checked = ticked.has(box.value);
    if (selected) {
      const again = document.querySelector('#case-rows tr[data-call-id="' + CSS.escape(selected.dataset.callId) + '"]');
      if (again) again.classList.add("selected");
    }
    const listed = document.getElementById("cooperating-listed");
    if (listed) {
      setText("cooperating", listed.dataset.count);
      setText("urgent-count", listed.dataset.urgent);
    }
    noticeUrgent();
  }

  function updateLoad(q) {
    // The load panel (承办人) follows the queue's counts: open cases per assignee and unassigned.
    const load = document.getElementById("load");
    if (!load || q.assignees === undefined) return;
    for (const row of load.querySelectorAll("tr[data-assignee]")) {
      row.querySelector(".load-count").textContent = text(q.assignees[row.dataset.assignee] || 0);
    }
    const unassigned = document.querySelector("#load-unassigned .load-count");
    if (unassigned && q.unassigned !== undefined) unassigned.textContent = text(q.unassigned);
  }

  function setText(id, value) {
    const el = document.getElementById(id);
    if (el && value !== undefined) el.textContent = value;
  }

  // An urgent case arriving while the page is open: a badge in the title and a short tone.
  const baseTitle = document.title;
  let knownUrgent = null;
  let unseenUrgent = 0;

  function urgentIds() {
    return new Set([...document.querySelectorAll('#case-rows tr[data-urgent="1"]')].map((r) => r.dataset.callId));
  }

  function noticeUrgent() {
    const now = urgentIds();
    if (knownUrgent === null) {
      knownUrgent = now;
      return;
    }
    const fresh = [...now].filter((id) => !knownUrgent.has(id));
    knownUrgent = new Set([...knownUrgent, ...now]);
    if (!fresh.length) return;
    unseenUrgent += fresh.length;
    document.title = "(" + unseenUrgent + " " + (zh ? "紧急" : "urgent") + ") " + baseTitle;
    document.body.dataset.urgentArrived = String(unseenUrgent);
    for (const id of fresh) {
      const row = document.querySelector('#case-rows tr[data-call-id="' + CSS.escape(id) + '"]');
      if (row) row.classList.add("arrived");
    }
    beep();
  }

  function beep() {
    try {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return;
      const context = new Context();
      const tone = context.createOscillator();
      const gain = context.createGain();
      tone.frequency.value = 880;
      gain.gain.value = 0.1;
      tone.connect(gain).connect(context.destination);
      tone.start();
      tone.stop(context.currentTime + 0.25);
    } catch (e) {
      /* no sound where the browser refuses it */
    }
  }

  window.addEventListener("focus", () => {
    unseenUrgent = 0;
    document.title = baseTitle;
  });

  // Keyboard shortcuts for the common steps (not while typing in a field).
  function typing(target) {
    return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  function moveSelection(step) {
    const rows = [...document.querySelectorAll("#case-rows tr[data-call-id]")];
    if (!rows.length) return;
    const current = rows.findIndex((r) => r.classList.contains("selected"));
    const next = Math.min(rows.length - 1, Math.max(0, current + step));
    if (current >= 0) rows[current].classList.remove("selected");
    rows[next].classList.add("selected");
    rows[next].scrollIntoView({ block: "nearest" });
  }

  function clickIfThere(selector) {
    const el = document.querySelector(selector);
    if (el) el.click();
    return Boolean(el);
  }

  function shortcut(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const selected = document.querySelector("#case-rows tr.selected");
    const key = event.key;
    let done = false;
    if (key === "/") {
      const q = document.getElementById("q");
      if (q) {
        q.focus();
        done = true;
      }
    } else if (key === "j") {
      moveSelection(1);
      done = true;
    } else if (key === "k") {
      moveSelection(-1);
      done = true;
    } else if ((key === "Enter" || key === "o") && selected) {
      done = clickIfThere('#case-rows tr.selected a[href^="/cases/"]');
    } else if (key === "x" && selected) {
      const box = selected.querySelector('input[name="call_id"]');
      if (box) box.checked = !box.checked;
      done = Boolean(box);
    } else if (key === "A") {
      done = clickIfThere("#bulk-accept");
    } else if (key === "a") {
      done = clickIfThere("#step-accepted");
    } else if (key === "r") {
      done = clickIfThere("#step-responded");
    } else if (key === "s") {
      done = clickIfThere("#step-resolved");
    } else if (key === "?") {
      const hint = document.querySelector(".bulk-bar .sub, #shortcuts");
      if (hint) hint.classList.toggle("shown");
      done = Boolean(hint);
    }
    if (done) event.preventDefault();
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
    updateLoad(q);
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
    document.addEventListener("keydown", shortcut);
    noticeUrgent();
    const all = document.getElementById("tick-all");
    if (all)
      all.addEventListener("change", () => {
        for (const box of document.querySelectorAll('#case-rows input[name="call_id"]')) box.checked = all.checked;
      });
    followPendingStep();
    tick();
    setInterval(tick, 1000);
    connect();
  });
})();
