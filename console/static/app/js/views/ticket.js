// One ticket: transcript and live chat, composer with canned replies, notes, claim/transfer/
// resolve/reopen, and a side panel with the account and the user's earlier tickets.
import { announce, toast } from "../announce.js";
import { api, errorText } from "../api.js";
import { claimTicket } from "../actions.js";
import { h, option, replace } from "../dom.js";
import { openDialog } from "../dialog.js";
import {
  channelLabel, dateTime, intentLabel, priorityLabel, slaState, statusLabel, time, triggerLabel,
} from "../format.js";
import { A, HISTORY, RESOLUTION, T } from "../i18n.js";
import { notify, state, subscribe, upsertTicket } from "../store.js";
import { openTransfer } from "../transfer.js";
import { renderAccount } from "./account.js";
import { lookupHistoryDetail, mountAccountLookup } from "./account_lookup.js";
import { mountCanned } from "./ticket_canned.js";
import { createTranscript } from "./ticket_transcript.js";

const OPEN = new Set(["new", "assigned", "in_progress"]);

function newClientId() {
  const bytes = new Uint8Array(12);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function mountTicket(main, ticketNo) {
  let detail = null;
  let sending = false;
  const noteIds = new Set();

  // --- skeleton
  const heading = h("h1", { id: "ticket-title", tabindex: "-1" }, T.ticketTitle(ticketNo));
  const badges = h("div", { class: "ticket-badges" });
  const actions = h("div", { class: "ticket-actions", role: "group", "aria-label": T.ticketMeta });
  const alertBox = h("p", { class: "form-error", id: "ticket-alert", role: "alert" });
  const head = h("div", { class: "ticket-head" },
    h("div", { class: "ticket-title-row" },
      h("a", { href: "#/queue", class: "back-link" }, T.backToQueue), heading, badges, actions),
    alertBox);

  const transcriptNote = h("p", { class: "muted small", id: "transcript-note", hidden: true });
  const transcriptList = h("ol", { class: "transcript-list" });
  const transcript = h("div", {
    class: "transcript", id: "transcript", role: "log", "aria-live": "polite", "aria-relevant": "additions",
    "aria-labelledby": "transcript-title", tabindex: "0",
  }, transcriptList);
  const composer = h("textarea", {
    id: "composer", name: "reply", rows: "3", maxlength: "2000", placeholder: T.composerPlaceholder,
    "aria-describedby": "composer-hint canned-hint", "aria-autocomplete": "list", "aria-controls": "canned-list",
  });
  // "/" in the composer: this ticket's canned replies, variables filled by the server.
  const cannedList = h("ul", { id: "canned-list", role: "listbox", class: "canned-list", "aria-label": T.cannedReplies,
    hidden: true });
  const composerHint = h("p", { class: "muted small", id: "composer-hint" });
  const canned = h("select", { id: "canned", name: "canned" }, option("", T.cannedPick));
  const sendButton = h("button", { type: "submit", class: "btn btn-primary", id: "send" }, T.send);
  const composerForm = h("form", { class: "composer", id: "composer-form" },
    h("label", { for: "composer" }, T.composerLabel),
    composer,
    cannedList,
    h("div", { class: "composer-bar" },
      h("label", { for: "canned", class: "inline-label" }, T.cannedReplies), canned,
      h("span", { class: "muted small", id: "canned-hint" }, T.cannedHint), sendButton),
    composerHint);

  const conversation = h("section", { class: "conversation", "aria-labelledby": "transcript-title" },
    h("h2", { id: "transcript-title" }, T.transcript), transcriptNote, transcript, composerForm);

  const accountBox = h("div", { id: "account-panel" }, h("p", { class: "muted" }, T.loading));
  const lookupBox = h("div", { id: "account-lookup" });
  const metaBox = h("dl", { class: "meta", id: "ticket-meta" });
  const notesList = h("ul", { class: "notes", id: "notes" });
  const noteInput = h("textarea", { id: "note-input", name: "note", rows: "2", maxlength: "4000",
    "aria-describedby": "notes-hint" });
  const noteButton = h("button", { type: "submit", class: "btn", id: "add-note" }, T.addNote);
  const noteForm = h("form", { class: "note-form", id: "note-form" },
    h("label", { for: "note-input" }, T.noteLabel), noteInput, noteButton);
  const relatedList = h("ul", { class: "related", id: "related" });
  const historyList = h("ol", { class: "history", id: "history" });

  const side = h("aside", { class: "side", "aria-label": T.account },
    h("section", { "aria-labelledby": "account-title" }, h("h2", { id: "account-title" }, T.account), accountBox,
      lookupBox),
    h("section", { "aria-labelledby": "notes-title", class: "notes-section" },
      h("h2", { id: "notes-title" }, T.notes), h("p", { class: "muted small", id: "notes-hint" }, T.notesHint),
      notesList, noteForm),
    h("section", { "aria-labelledby": "meta-title" }, h("h2", { id: "meta-title" }, T.ticketMeta), metaBox),
    h("section", { "aria-labelledby": "related-title" },
      h("h2", { id: "related-title" }, T.relatedTickets), relatedList),
    h("section", { "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, T.history), historyList));

  main.append(h("div", { class: "page ticket-page" }, head, h("div", { class: "ticket-body" }, conversation, side)));

  // --- state helpers
  const ticket = () => state.tickets.get(ticketNo) || detail;
  const isHolder = (t) => Boolean(t && t.assignee && state.me && t.assignee.id === state.me.id);
  const isSupervisor = () => state.me && state.me.role === "supervisor";
  const lookup = mountAccountLookup(lookupBox, {
    ticketNo, accountBox, ticket, canUse: () => isHolder(ticket()) || isSupervisor(),
    onAttached: (updated) => {
      upsertTicket(updated);
      renderHead();
      refreshSide();
    },
  });

  function showError(text) {
    alertBox.textContent = text;
  }

  const messages = createTranscript({
    ticketNo, transcript, list: transcriptList, note: transcriptNote, ticket, showError,
  });
  let composing = false; // an IME candidate is being chosen
  const cannedReplies = mountCanned({
    ticketNo, composer, list: cannedList, select: canned, isComposing: () => composing,
  });

  // --- header and actions
  function renderHead() {
    const t = ticket();
    if (!t) return;
    const sla = slaState(t);
    replace(badges,
      h("span", { class: `prio prio-badge-${t.priority}` }, priorityLabel(t.priority)),
      h("span", { class: `status status-${t.status}`, id: "ticket-status" }, statusLabel(t.status)),
      h("span", { class: "chip" }, intentLabel(t.category)),
      h("span", { class: "chip chip-trigger" }, triggerLabel(t.trigger)),
      h("span", { class: `sla sla-${sla.level}`, id: "ticket-sla" }, sla.text));
    const buttons = [];
    const open = OPEN.has(t.status);
    if (t.status === "new" && !t.assignee) buttons.push(button("claim", T.claim, "btn-primary", onClaim));
    if (open && (isHolder(t) || isSupervisor())) {
      buttons.push(button("transfer", T.transfer, "", onTransfer));
      buttons.push(button("resolve", T.resolve, "btn-primary", onResolve));
    }
    if (t.status === "resolved") buttons.push(button("reopen", T.reopen, "", onReopen));
    // Live updates re-render the header often: keep the same buttons (and the keyboard focus).
    const signature = buttons.map((b) => b.id).join(",");
    if (actions.dataset.signature !== signature) {
      const focused = actions.contains(document.activeElement) ? document.activeElement.id : null;
      replace(actions, buttons);
      actions.dataset.signature = signature;
      const again = focused && document.getElementById(focused);
      if (again) again.focus();
      else if (focused) heading.focus();
    }
    renderComposerState();
    lookup.refresh();
  }

  function button(id, label, cls, handler) {
    const el = h("button", { type: "button", class: `btn ${cls}`, id: `action-${id}` }, label);
    el.addEventListener("click", handler);
    return el;
  }

  function renderComposerState() {
    const t = ticket();
    let hint = "";
    let enabled = false;
    if (!t) hint = T.loading;
    else if (t.status === "resolved") hint = T.composerResolved;
    else if (isHolder(t)) enabled = true;
    else if (t.assignee) hint = T.composerNotHolder(t.assignee.display_name);
    else hint = T.composerNeedClaim;
    composer.disabled = !enabled;
    canned.disabled = !enabled;
    sendButton.disabled = !enabled || sending;
    composerHint.textContent = enabled ? "" : hint;
    composerHint.hidden = enabled;
  }

  function renderMeta() {
    const t = ticket();
    const pairs = [
      [T.channel, channelLabel(t.channel)],
      [T.createdAt, dateTime(t.created_at)],
      [T.assignee, t.assignee ? t.assignee.display_name : T.unassigned],
      [A.ticketTeam, t.team ? t.team.name : T.never],
      [T.queuePosition, detail && detail.queue_position ? T.queuePositionValue(detail.queue_position) : T.never],
      [T.trigger, triggerLabel(t.trigger)],
      [T.triggerText, t.trigger ? t.trigger.text : T.never],
    ];
    if (t.resolution_category) pairs.push([T.resolutionCategory, RESOLUTION[t.resolution_category] || t.resolution_category]);
    replace(metaBox, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  }

  // --- notes, related, history
  function addNote(note) {
    if (noteIds.has(note.id)) return;
    noteIds.add(note.id);
    notesList.querySelectorAll("li.empty").forEach((li) => li.remove());
    notesList.append(h("li", { class: "note", dataset: { noteId: note.id } },
      h("div", { class: "msg-meta" }, h("span", { class: "who" }, note.agent ? note.agent.display_name : ""),
        h("time", { datetime: note.created_at }, time(note.created_at))),
      h("div", { class: "msg-text" }, note.text)));
  }

  function renderNotes() {
    for (const note of detail.notes) addNote(note);
    if (!notesList.children.length) notesList.append(h("li", { class: "muted empty" }, T.notesEmpty));
  }

  function renderRelated() {
    const items = detail.related_tickets || [];
    if (!items.length) {
      replace(relatedList, h("li", { class: "muted" }, T.relatedEmpty));
      return;
    }
    replace(relatedList, items.map((t) => h("li", {},
      h("a", { href: `#/tickets/${encodeURIComponent(t.ticket_no)}` }, t.ticket_no),
      ` ${intentLabel(t.category)} · ${statusLabel(t.status)} · ${dateTime(t.created_at)}`)));
  }

  function renderHistory() {
    replace(historyList, (detail.history || []).map((e) => h("li", {},
      h("time", { datetime: e.created_at }, time(e.created_at)), " ",
      `${HISTORY[e.kind] || e.kind}${e.agent ? ` · ${e.agent.display_name}` : ""}`,
      e.detail && e.detail.resolution_category ? ` · ${RESOLUTION[e.detail.resolution_category] || ""}` : "",
      lookupHistoryDetail(e))));
  }

  // --- loading
  async function load(first = false) {
    try {
      const fetched = await api.ticket(ticketNo);
      detail = fetched;
      upsertTicket(fetched);
      state.freshTickets.delete(ticketNo);
      notify({ type: "viewed" });
      renderHead();
      renderMeta();
      messages.render(detail);
      renderNotes();
      renderRelated();
      renderHistory();
      if (first) {
        document.title = `${T.ticketTitle(ticketNo)} · ${T.appName}`;
        heading.focus();
        loadAccount();
        cannedReplies.load();
      }
    } catch (error) {
      showError(errorText(error));
      if (first) replace(accountBox);
    }
  }

  async function loadAccount() {
    try {
      const panel = detail.account_no ? await api.account(ticketNo) : null;
      renderAccount(accountBox, panel, detail.summary || {});
    } catch {
      renderAccount(accountBox, null, detail.summary || {});
    }
  }

  // --- actions
  async function onClaim() {
    showError("");
    const claimed = await claimTicket(ticketNo, { onError: showError });
    if (claimed) {
      renderHead();
      renderMeta();
      composer.focus();
    } else {
      renderHead();
      renderMeta();
    }
  }

  async function onTransfer() {
    showError("");
    try {
      await openTransfer(ticketNo, ticket(), () => {
        renderHead();
        renderMeta();
      });
    } catch (error) {
      showError(errorText(error));
    }
  }

  async function onResolve() {
    showError("");
    const category = h("select", { id: "resolve-category", name: "category", required: true },
      Object.entries(RESOLUTION).map(([value, label]) => option(value, label)));
    const note = h("textarea", { id: "resolve-note", name: "note", rows: "3", maxlength: "2000" });
    openDialog({
      id: "resolve-dialog",
      title: T.resolveTitle,
      body: [h("div", { class: "field" }, h("label", { for: "resolve-category" }, T.resolutionCategory), category),
        h("div", { class: "field" }, h("label", { for: "resolve-note" }, T.resolutionNote), note)],
      confirm: T.resolve,
      onConfirm: async () => {
        const updated = await api.resolve(ticketNo, category.value, note.value.trim());
        upsertTicket(updated);
        toast(T.resolved, "success");
        announce(T.resolved);
        renderHead();
        renderMeta();
        refreshSide();
      },
    });
  }

  async function onReopen() {
    showError("");
    try {
      const updated = await api.reopen(ticketNo);
      upsertTicket(updated);
      toast(T.reopened, "success");
      renderHead();
      renderMeta();
    } catch (error) {
      showError(errorText(error));
    }
  }

  async function send() {
    const text = composer.value.trim();
    if (!text || sending) return;
    sending = true;
    sendButton.disabled = true;
    sendButton.textContent = T.sending;
    showError("");
    try {
      const created = await api.send(ticketNo, text, newClientId());
      upsertTicket(created.ticket);
      messages.noteDelivery(created.message);
      messages.addItem(created.message);
      composer.value = "";
      if (created.delivery === "pending") toast(T.deliveryPending, "info");
      renderHead();
    } catch (error) {
      showError(errorText(error));
    } finally {
      sending = false;
      sendButton.textContent = T.send;
      renderComposerState();
      composer.focus();
    }
  }

  // Enter sends; Shift+Enter is a new line; never while an IME candidate is being chosen.
  composer.addEventListener("compositionstart", () => {
    composing = true;
  });
  composer.addEventListener("compositionend", () => {
    window.setTimeout(() => {
      composing = false;
    }, 0);
  });
  composer.addEventListener("keydown", (event) => {
    if (cannedReplies.onKey(event)) return;
    if (event.key !== "Enter" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.isComposing || event.keyCode === 229 || composing) return;
    event.preventDefault();
    send();
  });
  composerForm.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });

  noteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = noteInput.value.trim();
    if (!text) return;
    noteButton.disabled = true;
    try {
      addNote(await api.note(ticketNo, text));
      noteInput.value = "";
      toast(T.noteAdded, "success");
    } catch (error) {
      showError(errorText(error));
    } finally {
      noteButton.disabled = false;
    }
  });

  async function refreshSide() {
    try {
      detail = { ...detail, ...(await api.ticket(ticketNo)) };
      renderHistory();
      renderMeta();
    } catch {
      // keep what is shown
    }
  }

  // --- live
  const unsubscribe = subscribe((change) => {
    if (change.type === "reload") {
      load();
      return;
    }
    if (change.type === "ticket" && change.ticket.ticket_no === ticketNo) {
      renderHead();
      renderMeta();
      return;
    }
    if (change.type !== "event" || change.event.ticket_no !== ticketNo) return;
    const event = change.event;
    if (event.type === "ticket.message" && event.message) {
      messages.noteDelivery(event.message);
      if (messages.addItem(event.message) && event.message.sender === "user") announce(T.announceUserMessage(event.message.text));
    } else if (event.type === "ticket.note_added" && event.note) {
      addNote(event.note);
    } else if (event.type === "ticket.delivery_failed") {
      showError(T.deliveryFailed(event.reason || ""));
      if (event.message) messages.updateDelivery(event.message);
    } else if (event.type === "ticket.message_delivered" && event.message) {
      messages.updateDelivery(event.message);
    } else if (["ticket.claimed", "ticket.transferred", "ticket.resolved", "ticket.reopened", "ticket.requeued"]
      .includes(event.type)) {
      refreshSide();
    }
    renderHead();
    renderMeta();
  });
  const timer = window.setInterval(() => {
    const t = ticket();
    const el = document.getElementById("ticket-sla");
    if (t && el) {
      const sla = slaState(t);
      el.textContent = sla.text;
      el.className = `sla sla-${sla.level}`;
    }
  }, 1000);

  renderComposerState();
  load(true);
  return () => {
    unsubscribe();
    window.clearInterval(timer);
  };
}
