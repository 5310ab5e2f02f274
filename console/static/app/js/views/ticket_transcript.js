// A ticket's transcript: the messages in time order without twins, and the delivery line of each
// agent message (queued until the channel confirms, failed with a retry button).
import { toast } from "../announce.js";
import { api, errorText } from "../api.js";
import { h } from "../dom.js";
import { time } from "../format.js";
import { SENDER, T } from "../i18n.js";

function itemKey(item) {
  return item.message_id ? `m:${item.message_id}` : `t:${item.sender}|${item.ts || ""}|${item.text}`;
}

/** A message as the transcript shows it (from the transcript, or a live message event). */
function transcriptItem(message) {
  if ("source" in message) return message;
  return {
    sender: message.sender, text: message.text, ts: message.created_at, message_id: message.message_id,
    agent_name: message.agent ? message.agent.display_name : null, source: "console",
  };
}

/**
 * The transcript inside `transcript` (its list `list`, its note `note`); `ticket()` is the ticket as
 * shown, `showError` the page's alert line.
 */
export function createTranscript({ ticketNo, transcript, list, note, ticket, showError }) {
  const rendered = new Map(); // key -> li
  const delivery = new Map(); // message_id -> {status, error} of agent messages

  function messageLi(item) {
    const who = item.sender === "agent" ? item.agent_name || SENDER.agent : SENDER[item.sender] || item.sender;
    return h("li", { class: `msg msg-${item.sender}`, dataset: { key: itemKey(item), ts: item.ts || "" } },
      h("div", { class: "msg-meta" },
        h("span", { class: `who who-${item.sender}` }, who),
        item.ts ? h("time", { datetime: item.ts }, time(item.ts)) : null),
      h("div", { class: "msg-text" }, item.text),
      item.message_id && delivery.has(item.message_id) ? deliveryLine(item.message_id) : null);
  }

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

  /** Shows a message once, in time order; false when it was already shown. */
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
      : [...list.children].find((other) => other.dataset.ts && Date.parse(other.dataset.ts) > ts);
    list.insertBefore(li, before || null);
    if (scroll) transcript.scrollTop = transcript.scrollHeight;
    return true;
  }

  /** The transcript and the agent messages of a freshly loaded ticket detail. */
  function render(detail) {
    note.hidden = detail.transcript_source !== "console";
    note.textContent = T.transcriptFromSummary;
    for (const item of detail.transcript) addItem(item, false);
    for (const message of detail.messages) noteDelivery(message);
    for (const message of detail.messages) addItem(message, false);
    if (!list.children.length) list.append(h("li", { class: "muted empty" }, T.transcriptEmpty));
    else transcript.querySelectorAll("li.empty").forEach((li) => li.remove());
    transcript.scrollTop = transcript.scrollHeight;
  }

  return { addItem, noteDelivery, updateDelivery, render };
}
