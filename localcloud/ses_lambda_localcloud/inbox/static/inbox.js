// The inbox page. It uses only the JSON API (docs/inbox.md) and builds every element with
// textContent: nothing from a message ever becomes markup. A message's HTML body is shown in a
// sandboxed frame without scripts, served with its own Content-Security-Policy.
"use strict";

// The list shows the newest LIST_LIMIT messages; updates are gathered for REFRESH_MS so that a
// burst of mail costs the local cloud one refetch, not one per message.
const LIST_LIMIT = 200;
const REFRESH_MS = 500;
const state = { view: "inbox", id: null, version: -1, openComplete: true, pollTimer: null, refreshTimer: null };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function size(bytes) {
  if (bytes < 1024) return bytes + " B";
  if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
  return (bytes / 1024 / 1024).toFixed(1) + " MB";
}

function when(value) {
  if (value === null || value === undefined) return "";
  const moment = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return isNaN(moment) ? String(value) : moment.toLocaleTimeString();
}

function badge(status) {
  return el("span", { className: "badge status-" + status }, status);
}

// --- the list --------------------------------------------------------------------------------

async function refreshList() {
  const params = new URLSearchParams({ limit: LIST_LIMIT });
  const q = document.getElementById("q").value.trim();
  const status = document.getElementById("status").value;
  if (q) params.set("q", q);
  if (status) params.set("status", status);
  const sent = state.view === "sent" || state.view === "sent-message";
  const body = await api((sent ? "/api/sent?" : "/api/messages?") + params);
  const rows = (sent ? body.sent : body.messages).filter(
    (m) => !sent || !q || [m.from, m.subject || "", ...m.to].some((t) => t.toLowerCase().includes(q.toLowerCase())));
  const tbody = document.querySelector("#messages tbody");
  tbody.replaceChildren(...rows.map((m) => {
    const href = (sent ? "#/sent/" : "#/message/") + encodeURIComponent(m.id);
    const recipients = m.to.length ? m.to.join(", ") : (m.rejected || []).map((r) => r.recipient).join(", ");
    const row = el("tr", { className: m.id === state.id ? "selected" : null, "data-id": m.id },
      el("td", {}, badge(m.status)),
      el("td", {}, m.from || "<>"),
      el("td", {}, recipients),
      el("td", {}, el("a", { href }, m.subject === null || m.subject === undefined ? "(no subject)" : m.subject || "(empty subject)")),
      el("td", { className: "num" }, size(m.size)),
      el("td", {}, when(m.receivedAt)));
    row.addEventListener("click", (event) => { if (event.target.tagName !== "A") location.hash = href; });
    return row;
  }));
  document.getElementById("empty").hidden = rows.length > 0;
}

// --- one message -----------------------------------------------------------------------------

function tabs(entries) {
  const bar = el("div", { className: "tabs", role: "tablist" });
  const panel = el("div", { className: "tab-panel" });
  const buttons = entries.map(([name, render], index) => {
    const button = el("button", { type: "button", role: "tab", "data-tab": name }, name);
    button.addEventListener("click", () => {
      buttons.forEach((b) => b.classList.remove("active"));
      button.classList.add("active");
      panel.replaceChildren(render());
    });
    if (index === 0) { button.classList.add("active"); panel.replaceChildren(render()); }
    return button;
  });
  bar.append(...buttons);
  return el("div", {}, bar, panel);
}

function bodyView(base, content) {
  const entries = [];
  if (content.hasHtml) {
    entries.push(["HTML", () => {
      const frame = el("iframe", {
        sandbox: "", src: base + "/html", referrerpolicy: "no-referrer", title: "HTML body", id: "html-body",
      });
      const load = el("button", { type: "button", id: "load-remote" }, "Load remote images");
      load.addEventListener("click", () => { frame.src = base + "/html?remote=1"; load.disabled = true; });
      return el("div", {}, el("p", { className: "muted small" },
        "Scripts never run here; remote content is blocked until you ask. ", load), frame);
    }]);
  }
  if (content.text !== null) {
    entries.push(["Text", () => el("pre", { className: "text-body" }, content.text,
      content.textTruncated ? "\n[cut: the text is longer]" : "")]);
  }
  entries.push(["Headers", () => el("table", { className: "headers" },
    el("tbody", {}, content.headers.map(([n, v]) => el("tr", {}, el("th", {}, n), el("td", {}, v)))))]);
  entries.push(["Source", () => {
    const pre = el("pre", { className: "source" }, "loading…");
    fetch(base + "/raw").then((r) => r.text()).then((t) => { pre.textContent = t; });
    return el("div", {}, el("a", { href: base + "/raw?download=1", download: "" }, "Download .eml"), pre);
  }]);
  entries.push([`Attachments (${content.attachments.length})`, () => {
    if (!content.attachments.length) return el("p", { className: "muted" }, "No attachments.");
    return el("ul", { className: "attachments" }, content.attachments.map((a) => {
      const href = `${base}/attachments/${a.index}`;
      return el("li", {},
        a.image ? el("img", { src: href + "?inline=1", alt: a.filename, className: "thumb" }) : null,
        el("a", { href, download: a.filename, className: "attachment" }, a.filename),
        el("span", { className: "muted" }, ` ${a.contentType}, ${size(a.size)}`));
    }));
  }]);
  return tabs(entries);
}

// A failed invocation's step carries `replay` (its rule's and action's index): a button that
// asks the local cloud to invoke the function again with the same event, then follows the
// message's timeline until the new attempt has its outcome.
function replayButton(replay) {
  const button = el("button", { type: "button", className: "replay", "data-rule": replay.rule, "data-action": replay.action }, "Replay invocation");
  button.addEventListener("click", async () => {
    button.disabled = true;
    const id = state.id;
    const base = "/api/messages/" + encodeURIComponent(id);
    try {
      await api(base + "/replay", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ rule: replay.rule, action: replay.action }),
      });
      clearTimeout(state.pollTimer);
      await refreshTimeline(base, id);
    } catch (error) {
      button.disabled = false;
      button.after(el("span", { className: "error replay-error" }, " " + error.message));
    }
  });
  return button;
}

function timelineView(steps) {
  return el("ol", { className: "timeline", id: "timeline" }, steps.map((step) => {
    const parts = [
      el("div", { className: "step-head" }, badge(step.status || "info"),
        el("span", { className: "step-kind" }, step.kind),
        el("span", { className: "step-title" }, step.title),
        step.durationMs !== undefined ? el("span", { className: "muted" }, ` ${step.durationMs} ms`) : null,
        step.at !== undefined ? el("span", { className: "muted" }, " " + when(step.at)) : null),
    ];
    if (step.object) {
      const query = new URLSearchParams({ bucket: step.object.bucket, key: step.object.key });
      parts.push(el("a", { href: "/api/objects?" + query, target: "_blank", rel: "noopener noreferrer" }, "open object"));
    }
    if (step.sent) parts.push(el("a", { href: "#/sent/" + encodeURIComponent(step.sent) }, "open sent message"));
    if (step.replay) parts.push(replayButton(step.replay));
    if (step.logs && step.logs.length) {
      parts.push(el("details", {}, el("summary", {}, `logs (${step.logs.length} lines)`),
        el("pre", { className: "logs" }, step.logs.join("\n"))));
    }
    if (step.data !== undefined && Object.keys(step.data).length) {
      parts.push(el("details", {}, el("summary", {}, "JSON"),
        el("pre", { className: "json" }, JSON.stringify(step.data, null, 2))));
    }
    return el("li", { className: `step depth-${step.depth || 0} kind-${step.kind}` }, parts);
  }));
}

async function showMessage(kind, id) {
  const base = (kind === "sent" ? "/api/sent/" : "/api/messages/") + encodeURIComponent(id);
  const pane = document.getElementById("detail-pane");
  let message;
  try {
    message = await api(base);
  } catch (error) {
    pane.replaceChildren(el("p", { className: "error" }, String(error.message)));
    return;
  }
  if (state.id !== id) return;
  const header = el("div", { className: "message-head" },
    el("h2", { id: "subject" }, message.subject === null || message.subject === undefined ? "(no subject)" : message.subject),
    el("p", {}, badge(message.status), ` from ${message.from || "<>"} to ${message.to.join(", ")} · ${size(message.size)} · ${when(message.receivedAt)}`));
  const body = message.content ? bodyView(base, message.content)
    : el("p", { className: "muted" }, message.contentMissing || "No content kept.");
  pane.replaceChildren(el("div", { className: "message" }, header,
    el("div", { className: "columns" },
      el("div", { className: "content" }, body),
      el("div", { className: "trace" }, el("h3", {}, "Path through the pipeline"), timelineView(message.timeline)))));
  // Event deliveries can finish after the message: follow them until the trace is complete.
  clearTimeout(state.pollTimer);
  state.openComplete = kind !== "message" || message.complete;
  if (!state.openComplete) {
    state.pollTimer = setTimeout(() => { if (state.id === id) refreshTimeline(base, id); }, 1000);
  }
}

async function refreshTimeline(base, id) {
  const message = await api(base);
  if (state.id !== id) return;
  const old = document.getElementById("timeline");
  if (old) old.replaceWith(timelineView(message.timeline));
  state.openComplete = message.complete;
  if (!message.complete) state.pollTimer = setTimeout(() => refreshTimeline(base, id), 1000);
}

// --- the send form ---------------------------------------------------------------------------

function sendForm() {
  const field = (label, input) => el("label", {}, el("span", {}, label), input);
  const to = el("input", { id: "send-to", type: "text", required: true, placeholder: "support@mail.example.com" });
  const from = el("input", { id: "send-from", type: "text", placeholder: "tester@example.org" });
  const subject = el("input", { id: "send-subject", type: "text" });
  const text = el("textarea", { id: "send-body", rows: 6 });
  const file = el("input", { id: "send-file", type: "file" });
  const result = el("pre", { id: "send-result", className: "muted" });
  const button = el("button", { type: "button", id: "send-button" }, "Send over SMTP (STARTTLS)");
  button.addEventListener("click", async () => {
    button.disabled = true;
    result.textContent = "sending…";
    try {
      const payload = { to: to.value, from: from.value, subject: subject.value, body: text.value };
      if (file.files.length) {
        const chosen = file.files[0];
        const data = await new Promise((resolve, reject) => {
          const reader = new FileReader();
          reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
          reader.onerror = () => reject(reader.error);
          reader.readAsDataURL(chosen);
        });
        payload.attachment = { filename: chosen.name, contentType: chosen.type || "application/octet-stream", data };
      }
      const response = await fetch("/api/send", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
      });
      const body = await response.json();
      if (!response.ok && !body.rejected) throw new Error(body.error || response.statusText);
      result.textContent = body.messageId
        ? `accepted as ${body.messageId}` + (Object.keys(body.rejected).length ? `; rejected ${JSON.stringify(body.rejected)}` : "")
        : `not accepted: ${JSON.stringify(body.rejected)}`;
      if (body.messageId) {
        const link = el("a", { href: "#/message/" + encodeURIComponent(body.messageId), id: "sent-link" }, " open it");
        result.append(link);
      }
    } catch (error) {
      result.textContent = "error: " + error.message;
    } finally {
      button.disabled = false;
    }
  });
  return el("form", { className: "send-form", id: "send-form" }, el("h2", {}, "Send a test message"),
    field("To", to), field("From", from), field("Subject", subject), field("Body", text),
    field("Attachment", file), button, result);
}

// --- routing and live updates ----------------------------------------------------------------

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [view, ...rest] = hash.split("/");
  const id = rest.length ? decodeURIComponent(rest.join("/")) : null;
  state.view = view === "message" ? "message" : view === "sent" ? (id ? "sent-message" : "sent") : view === "send" ? "send" : "inbox";
  state.id = id;
  clearTimeout(state.pollTimer);
  for (const name of ["inbox", "sent", "send"]) {
    document.getElementById("nav-" + name).classList.toggle("active",
      state.view.startsWith(name === "inbox" ? "message" : name) || (name === "inbox" && state.view === "inbox"));
  }
  const pane = document.getElementById("detail-pane");
  if (state.view === "send") pane.replaceChildren(sendForm());
  else if (state.view === "message") showMessage("message", id);
  else if (state.view === "sent-message") showMessage("sent", id);
  else pane.replaceChildren(el("p", { className: "muted" }, "Choose a message to see its content and its path through the pipeline."));
  refreshList().catch(showError);
}

function showError(error) {
  document.getElementById("live").textContent = "error: " + error.message;
}

function live() {
  const indicator = document.getElementById("live");
  const source = new EventSource("/api/stream");
  source.addEventListener("open", () => { indicator.textContent = "live"; indicator.className = "live on"; });
  source.addEventListener("error", () => { indicator.textContent = "reconnecting"; indicator.className = "live"; });
  source.addEventListener("change", (event) => {
    const { version } = JSON.parse(event.data);
    if (version === state.version || state.refreshTimer) return;
    state.refreshTimer = setTimeout(() => {
      state.refreshTimer = null;
      state.version = version;
      refreshList().catch(showError);
      if (state.view === "message" && state.id && !state.openComplete) {
        clearTimeout(state.pollTimer);
        refreshTimeline("/api/messages/" + encodeURIComponent(state.id), state.id).catch(() => {});
      }
    }, REFRESH_MS);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("search").addEventListener("submit", (event) => event.preventDefault());
  document.getElementById("q").addEventListener("input", () => refreshList().catch(showError));
  document.getElementById("status").addEventListener("change", () => refreshList().catch(showError));
  document.getElementById("delete-all").addEventListener("click", async () => {
    if (!confirm("Forget every finished message and the sent mail?")) return;
    await fetch("/api/messages", { method: "DELETE" });
    location.hash = "#/";
    refreshList().catch(showError);
  });
  window.addEventListener("hashchange", route);
  route();
  live();
});
