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
import { A, CANNED_GAP, HISTORY, RESOLUTION, SENDER, T } from "../i18n.js";
import { notify, state, subscribe, upsertTicket } from "../store.js";
import { openTransfer } from "../transfer.js";
import { renderAccount } from "./account.js";
import { lookupHistoryDetail, mountAccountLookup } from "./account_lookup.js";

const OPEN = new Set(["new", "assigned", "in_progress"]);

function itemKey(item) {
  return item.message_id ? `m:${item.message_id}` : `t:${item.sender}|${item.ts || ""}|${item.text}`;
}

function newClientId() {
  const bytes = new Uint8Array(12);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A message as the transcript shows it (from the transcript, or a live message event). */
function transcriptItem(message) {
  if ("source" in message) return message;
  return {
    sender: message.sender, text: message.text, ts: message.created_at, message_id: message.message_id,
    agent_name: message.agent ? message.agent.display_name : null, source: "console",
  };
}

export function mountTicket(main, ticketNo) {
  let detail = null;
  let sending = false;
  const rendered = new Map(); // key -> li
  const delivery = new Map(); // message_id -> {status, error} of agent messages
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

  // --- transcript
  function messageLi(item) {
    const who = item.sender === "agent" ? item.agent_name || SENDER.agent : SENDER[item.sender] || item.sender;
    return h("li", { class: `msg msg-${item.sender}`, dataset: { key: itemKey(item), ts: item.ts || "" } },
      h("div", { class: "msg-meta" },
        h("span", { class: `who who-${item.sender}` }, who),
        item.ts ? h("time", { datetime: item.ts }, time(item.ts)) : null),
      h("div", { class: "msg-text" }, item.text),
      item.message_id && delivery.has(item.message_id) ? deliveryLine(item.message_id) : null);
  }

  // --- delivery of agent messages: queued until the channel confirms, failed with a retry button
  // Answers and live events may arrive out of order (a retry's failure can beat the retry's own
  // answer): a status never goes back to an older send, nor from an outcome back to "queued".
  function noteDelivery(message) {
    if (!(message && message.sender === "agent" && message.delivery_status)) return;
    const attempt = message.delivery_attempt || 0;
    const rank = message.delivery_status === "queued" ? 0 : 1;
    const known = delivery.get(message.message_id);
    if (known && (attempt < known.attempt || (attempt === known.attempt && rank < known.rank))) return;
    delivery.set(message.message_id, { status: message.delivery_status, error: message.delivery_error, attempt, rank });
  }

  function deliveryLine(messageId) {
    const { status, error } = delivery.get(messageId);
    const label = status === "delivered" ? T.deliveryDelivered
      : status === "failed" ? T.deliveryFailedShort(error || "") : T.deliveryQueued;
    const retry = status === "failed" && ticket() && ticket().status !== "resolved"
      ? h("button", { type: "button", class: "btn btn-small retry", onclick: () => retryDelivery(messageId) }, T.retry) : null;
    return h("div", { class: `msg-delivery delivery-${status}`, dataset: { delivery: status } }, label, retry);
  }

  function updateDelivery(message) {
    noteDelivery(message);
    const li = rendered.get(`m:${message.message_id}`);
    if (!li || !delivery.has(message.message_id)) return;
    const old = li.querySelector(".msg-delivery");
    const line = deliveryLine(message.message_id);
    if (old) old.replaceWith(line);
    else li.append(line);
  }

  async function retryDelivery(messageId) {
    showError("");
    try {
      const answer = await api.retry(ticketNo, messageId);
      updateDelivery(answer.message);
      toast(T.retried, "info");
    } catch (error) {
      showError(errorText(error));
    }
  }

  function addItem(raw, scroll = true) {
    const item = transcriptItem(raw);
    const key = itemKey(item);
    if (rendered.has(key)) return false;
    // A live console message may already be shown under its tracker twin's text key.
    if (item.message_id) {
      const twin = [...rendered.entries()].find(([k, li]) => k.startsWith("t:") && li.dataset.sender === item.sender
        && li.dataset.text === item.text && Math.abs(Date.parse(li.dataset.ts || 0) - Date.parse(item.ts || 0)) < 300000);
      if (twin) return false;
    }
    const li = messageLi(item);
    li.dataset.sender = item.sender;
    li.dataset.text = item.text;
    rendered.set(key, li);
    const ts = Date.parse(item.ts || "");
    const before = Number.isNaN(ts) ? null
      : [...transcriptList.children].find((other) => other.dataset.ts && Date.parse(other.dataset.ts) > ts);
    transcriptList.insertBefore(li, before || null);
    if (scroll) transcript.scrollTop = transcript.scrollHeight;
    return true;
  }

  function renderTranscript() {
    transcriptNote.hidden = detail.transcript_source !== "console";
    transcriptNote.textContent = T.transcriptFromSummary;
    for (const item of detail.transcript) addItem(item, false);
    for (const message of detail.messages) noteDelivery(message);
    for (const message of detail.messages) addItem(message, false);
    if (!transcriptList.children.length) transcriptList.append(h("li", { class: "muted empty" }, T.transcriptEmpty));
    else transcript.querySelectorAll("li.empty").forEach((li) => li.remove());
    transcript.scrollTop = transcript.scrollHeight;
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
      renderTranscript();
      renderNotes();
      renderRelated();
      renderHistory();
      if (first) {
        document.title = `${T.ticketTitle(ticketNo)} · ${T.appName}`;
        heading.focus();
        loadAccount();
        loadCanned();
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
      noteDelivery(created.message);
      addItem(created.message);
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
  let composing = false;
  composer.addEventListener("compositionstart", () => {
    composing = true;
  });
  composer.addEventListener("compositionend", () => {
    window.setTimeout(() => {
      composing = false;
    }, 0);
  });
  composer.addEventListener("keydown", (event) => {
    if (!cannedList.hidden && cannedKey(event)) return;
    if (event.key !== "Enter" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.isComposing || event.keyCode === 229 || composing) return;
    event.preventDefault();
    send();
  });
  composerForm.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  canned.addEventListener("change", () => {
    const item = cannedItems.find((c) => String(c.id) === canned.value);
    canned.value = "";
    if (!item) return;
    composer.value = composer.value ? `${composer.value}${item.text}` : item.text;
    composer.focus();
    warnMissing(item);
  });

  // --- canned replies: the dropdown, and "/" + a few letters in the composer
  let cannedItems = [];
  let cannedMatches = [];
  let cannedActive = -1;
  let slashStart = -1;

  async function loadCanned() {
    try {
      cannedItems = await api.cannedReplies(ticketNo);
    } catch {
      cannedItems = [];
    }
    replace(canned, option("", T.cannedPick), cannedItems.map((c) => option(String(c.id), `/${c.shortcut} ${c.title}`)));
  }

  /** The "/query" just before the caret (at the start or after a space), or null. */
  function slashQuery() {
    const before = composer.value.slice(0, composer.selectionStart);
    const found = before.match(/(^|\s)\/([^\s/]*)$/);
    return found ? { start: before.length - found[2].length - 1, query: found[2].toLowerCase() } : null;
  }

  function updateCanned() {
    const found = slashQuery();
    if (!found || !cannedItems.length) {
      closeCanned();
      return;
    }
    slashStart = found.start;
    cannedMatches = cannedItems
      .filter((c) => `${c.shortcut} ${c.title} ${c.text}`.toLowerCase().includes(found.query))
      .slice(0, 8);
    if (!cannedMatches.length) {
      closeCanned();
      return;
    }
    cannedActive = 0;
    renderCanned();
  }

  function renderCanned() {
    replace(cannedList, cannedMatches.map((c, i) => {
      const item = h("li", { id: `canned-opt-${c.id}`, role: "option", class: "canned-option",
        "aria-selected": String(i === cannedActive) },
      h("span", { class: "canned-key" }, `/${c.shortcut}`), h("span", { class: "canned-title" }, c.title),
      h("span", { class: "canned-text" }, c.text));
      item.addEventListener("mousedown", (event) => {
        event.preventDefault(); // keep the focus in the composer
        insertCanned(c);
      });
      return item;
    }));
    cannedList.hidden = false;
    composer.setAttribute("aria-activedescendant", `canned-opt-${cannedMatches[cannedActive].id}`);
  }

  function closeCanned() {
    cannedList.hidden = true;
    cannedMatches = [];
    cannedActive = -1;
    composer.removeAttribute("aria-activedescendant");
  }

  function insertCanned(item) {
    const caret = composer.selectionStart;
    composer.value = composer.value.slice(0, slashStart) + item.text + composer.value.slice(caret);
    const end = slashStart + item.text.length;
    composer.setSelectionRange(end, end);
    closeCanned();
    composer.focus();
    warnMissing(item);
  }

  function warnMissing(item) {
    if (item.missing && item.missing.length) {
      toast(T.cannedMissing(item.missing.map((name) => CANNED_GAP[name] || name).join("、")), "info");
    }
  }

  /** Arrow keys move, Enter or Tab inserts, Escape closes; true when the key was ours. */
  function cannedKey(event) {
    if (event.isComposing || event.keyCode === 229 || composing) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      cannedActive = (cannedActive + step + cannedMatches.length) % cannedMatches.length;
      renderCanned();
    } else if (event.key === "Enter" || event.key === "Tab") {
      insertCanned(cannedMatches[cannedActive]);
    } else if (event.key === "Escape") {
      closeCanned();
    } else {
      return false;
    }
    event.preventDefault();
    event.stopPropagation();
    return true;
  }
  composer.addEventListener("input", updateCanned);
  composer.addEventListener("blur", () => window.setTimeout(closeCanned, 0));
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
      noteDelivery(event.message);
      if (addItem(event.message) && event.message.sender === "user") announce(T.announceUserMessage(event.message.text));
    } else if (event.type === "ticket.note_added" && event.note) {
      addNote(event.note);
    } else if (event.type === "ticket.delivery_failed") {
      showError(T.deliveryFailed(event.reason || ""));
      if (event.message) updateDelivery(event.message);
    } else if (event.type === "ticket.message_delivered" && event.message) {
      updateDelivery(event.message);
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
