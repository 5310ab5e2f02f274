// Desktop notifications (Notification API) while the console's tab is hidden: a ticket routed to
// me (auto-assigned, a follow-up, transferred to me or to my team, or a new ticket waiting in a
// queue I work) and a resident's new message on a ticket I hold. Permission is asked only from
// the header button (a user gesture), never on page load; the title counter and the beep stay.
import { toast } from "./announce.js";
import { h } from "./dom.js";
import { A } from "./i18n.js";
import { navigate } from "./router.js";
import { state } from "./store.js";
import { myTeamIds } from "./teams.js";

// A new ticket is announced after this delay, once routing (auto-assignment) had its say.
const SETTLE_MS = 1500;
const shown = new Set(); // ticket_no|reason already notified (the stream may replay)
let button = null;

const supported = () => typeof window.Notification === "function";
const permission = () => (supported() ? window.Notification.permission : "unsupported");
const hidden = () => document.visibilityState === "hidden";

function renderButton() {
  if (!button) return;
  button.hidden = permission() !== "default";
}

/** The header's "开启桌面通知" button: shown only while the browser has not been asked. */
export function notifyButton() {
  button = h("button", { type: "button", class: "btn btn-quiet btn-small", id: "notify-enable",
    title: A.notifyEnableHelp }, A.notifyEnable);
  button.addEventListener("click", async () => {
    button.disabled = true;
    let answer = "default";
    try {
      answer = await window.Notification.requestPermission();
    } catch {
      answer = permission();
    }
    button.disabled = false;
    renderButton();
    if (answer === "granted") toast(A.notifyOn, "success");
    else if (answer === "denied") toast(A.notifyBlocked, "info");
  });
  renderButton();
  return button;
}

function show(key, title, body, ticketNo) {
  if (shown.has(key)) return;
  shown.add(key);
  if (shown.size > 500) shown.delete(shown.values().next().value);
  if (permission() !== "granted" || !hidden()) return;
  try {
    const note = new window.Notification(title, { body: body || "", tag: ticketNo, lang: "zh-CN" });
    note.onclick = () => {
      window.focus();
      navigate(`#/tickets/${encodeURIComponent(ticketNo)}`);
      if (typeof note.close === "function") note.close();
    };
  } catch {
    // e.g. a browser that only notifies from a service worker: the title counter remains
  }
}

const mine = (agent) => Boolean(agent && state.me && agent.id === state.me.id);

/** Called for every live event (app.js). */
export function desktopEvent(event) {
  if (!state.me) return;
  const ticket = event.ticket;
  const no = event.ticket_no || (ticket && ticket.ticket_no);
  if (!no) return;
  if (event.type === "ticket.assigned" && mine(event.agent)) {
    if (!hidden()) toast(A.assignedToYou(no), "info");
    show(`${no}|assigned|${event.ts || ""}`, A.notifyAssignedTitle(no), ticket && ticket.last_user_text, no);
  } else if (event.type === "ticket.transferred" && mine(event.to) && !mine(event.by)) {
    show(`${no}|transfer|${event.ts || ""}`, A.notifyAssignedTitle(no), ticket && ticket.last_user_text, no);
  } else if (event.type === "ticket.transferred" && event.to_team && !mine(event.by)
    && myTeamIds().has(event.to_team.id)) {
    // Auto-assignment may hand it on at once: announce it only if it is still waiting.
    setTimeout(() => {
      const now = state.tickets.get(no);
      if (now && !now.assignee) show(`${no}|team|${event.ts || ""}`, A.notifyTeamTitle(no, event.to_team.name),
        now.last_user_text, no);
    }, SETTLE_MS);
  } else if (event.type === "ticket.created" && ticket && !ticket.assignee) {
    const teams = myTeamIds();
    if (ticket.team && !teams.has(ticket.team.id)) return;
    setTimeout(() => {
      const now = state.tickets.get(no) || ticket;
      if (!now.assignee && now.status === "new") show(`${no}|new`, A.notifyNewTitle(no), now.last_user_text, no);
    }, SETTLE_MS);
  } else if (event.type === "ticket.message" && event.message && event.message.sender === "user"
    && ticket && mine(ticket.assignee)) {
    show(`${no}|msg|${event.message.message_id}`, A.notifyMessageTitle(no), event.message.text, no);
  }
}
