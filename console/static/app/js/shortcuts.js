// Keyboard shortcuts (issue 15): c claim, r reply, n note, e resolve, j / k next / previous ticket,
// ? this list. Single keys without modifiers, like Gmail's: they never fire while the agent types
// in a field or picks an IME candidate, nor while a dialog is open. Each one presses what the page
// already offers (the claim and resolve buttons, the reply box), so the rules stay the page's.
import { toast } from "./announce.js";
import { get } from "./api.js";
import { h } from "./dom.js";
import { A, T } from "./i18n.js";
import { currentPath, navigate } from "./router.js";
import { state } from "./store.js";

const PRIORITY_RANK = { urgent: 0, high: 1, normal: 2 };
let installed = false;
let composing = false;

/** Whether the key belongs to what the agent is typing in. */
function typing(event) {
  const target = event.target;
  if (composing || event.isComposing || event.keyCode === 229) return true;
  if (!(target instanceof Element)) return false;
  return Boolean(target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']"));
}

function currentTicket() {
  const match = currentPath().match(/^\/tickets\/([A-Za-z0-9_-]{1,32})$/);
  return match ? match[1] : null;
}

function press(id) {
  const el = document.getElementById(id);
  if (el && !el.disabled && el.offsetParent !== null) {
    el.click();
    return true;
  }
  return false;
}

function focusField(id) {
  const el = document.getElementById(id);
  if (el && !el.disabled) {
    el.focus();
    return true;
  }
  return false;
}

const byQueueOrder = (a, b) => (PRIORITY_RANK[a.priority] ?? 9) - (PRIORITY_RANK[b.priority] ?? 9)
  || Date.parse(a.sla_due_at) - Date.parse(b.sla_due_at) || a.ticket_no.localeCompare(b.ticket_no);

/** My open tickets, then the unclaimed ones, each in the queue's order (urgent, nearest SLA). */
async function worklist() {
  const [mine, waiting] = await Promise.all([
    get("/api/tickets?assignee=me&status=open&sort=queue&limit=200"),
    get("/api/tickets?assignee=unassigned&status=new&sort=queue&limit=200"),
  ]);
  return [...mine.items.sort(byQueueOrder), ...waiting.items.sort(byQueueOrder)].map((t) => t.ticket_no);
}

async function step(direction) {
  let list = [];
  try {
    list = await worklist();
  } catch {
    toast(T.errors.network, "error");
    return;
  }
  const here = currentTicket();
  const others = list.filter((no) => no !== here);
  if (!others.length) {
    toast(A.nothingNext, "info");
    return;
  }
  const index = here ? list.indexOf(here) : -1;
  let target;
  if (index < 0) target = direction > 0 ? list[0] : list[list.length - 1];
  else target = list[(index + direction + list.length) % list.length];
  navigate(`#/tickets/${encodeURIComponent(target)}`);
}

/** The help dialog ("?"), listing every shortcut. */
export function openShortcutHelp() {
  if (document.getElementById("shortcuts-dialog")) return;
  const previous = document.activeElement;
  const close = h("button", { type: "button", class: "btn btn-primary", id: "shortcuts-close" }, T.close);
  const rows = A.shortcuts.map(([key, what]) => h("tr", {}, h("th", { scope: "row" }, h("kbd", {}, key)),
    h("td", {}, what)));
  const dialog = h("dialog", { id: "shortcuts-dialog", class: "dialog", "aria-labelledby": "shortcuts-title" },
    h("div", { class: "dialog-form" },
      h("h2", { id: "shortcuts-title" }, A.shortcutsTitle),
      h("table", { class: "shortcut-table" }, h("caption", { class: "sr-only" }, A.shortcutsTitle), h("tbody", {}, rows)),
      h("p", { class: "muted small" }, A.shortcutsNote),
      h("div", { class: "dialog-buttons" }, close)));
  const done = () => {
    dialog.close();
    dialog.remove();
    if (previous && previous.isConnected) previous.focus();
  };
  close.addEventListener("click", done);
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    done();
  });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}

/** The header's "?" button (the same help, for mouse users and screen readers). */
export function shortcutButton() {
  const button = h("button", { type: "button", class: "btn btn-quiet btn-small", id: "shortcuts-open",
    "aria-label": A.shortcutsButton, title: A.shortcutsButton }, "?");
  button.addEventListener("click", openShortcutHelp);
  return button;
}

function handle(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || !state.me) return;
  if (typing(event) || document.querySelector("dialog[open]")) return;
  const key = event.key;
  let done = true;
  const ticket = currentTicket();
  if (key === "?") openShortcutHelp();
  else if (key === "j" || key === "k") step(key === "j" ? 1 : -1);
  else if (key === "c" && ticket) done = press("action-claim");
  else if (key === "r" && ticket) done = focusField("composer");
  else if (key === "n" && ticket) done = focusField("note-input");
  else if (key === "e" && ticket) done = press("action-resolve");
  else if (["c", "r", "n", "e"].includes(key)) done = false;
  else return;
  event.preventDefault();
  if (!done) toast(A.shortcutUnavailable, "info");
}

/** Once per page: the document-wide listener. */
export function installShortcuts() {
  if (installed) return;
  installed = true;
  document.addEventListener("compositionstart", () => {
    composing = true;
  }, true);
  document.addEventListener("compositionend", () => {
    window.setTimeout(() => {
      composing = false;
    }, 0);
  }, true);
  document.addEventListener("keydown", handle);
}
