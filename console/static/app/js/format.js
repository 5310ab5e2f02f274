// Time, money and label formatting (zh-CN).
import { CHANNEL, INTENTS, PRIORITY, STATUS, T } from "./i18n.js";

let serverOffsetMs = 0;

/** Align our clock with the server's (from the HTTP Date header), so countdowns agree with it. */
export function noteServerDate(header) {
  const server = Date.parse(header || "");
  if (Number.isNaN(server)) return;
  // The header has whole seconds: only a real skew (over 2 s) is worth correcting.
  const offset = server + 500 - Date.now();
  serverOffsetMs = Math.abs(offset) > 2000 ? offset : 0;
}

export function now() {
  return Date.now() + serverOffsetMs;
}

const pad = (n) => String(n).padStart(2, "0");

/** Countdown style: 05:09, 1:02:03. */
export function clock(totalSeconds) {
  const s = Math.max(0, Math.floor(Math.abs(totalSeconds)));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  return hours ? `${hours}:${pad(minutes)}:${pad(seconds)}` : `${pad(minutes)}:${pad(seconds)}`;
}

/** Human duration: 45 秒, 3 分 20 秒, 2 小时 5 分, 1 天 3 小时. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return T.never;
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return T.durationSeconds(s);
  if (s < 3600) return T.durationMinutes(Math.floor(s / 60), s % 60);
  if (s < 86400) return T.durationHours(Math.floor(s / 3600), Math.floor((s % 3600) / 60));
  return T.durationDays(Math.floor(s / 86400), Math.floor((s % 86400) / 3600));
}

export function secondsSince(iso) {
  return iso ? (now() - Date.parse(iso)) / 1000 : null;
}

export function dateTime(iso) {
  if (!iso) return T.never;
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function time(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const today = new Date(now());
  const sameDay = d.toDateString() === today.toDateString();
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return sameDay ? hm : `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}

export function isoDate(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export const intentLabel = (name) => INTENTS[name] || name || T.never;
export const statusLabel = (name) => STATUS[name] || name;
export const priorityLabel = (name) => PRIORITY[name] || name;
export const channelLabel = (name) => CHANNEL[name] || name;

/** 情绪激动 0.93 / 要求转人工 / 漏水 / 连续未识别. */
export function triggerLabel(trigger) {
  if (!trigger) return T.never;
  if (trigger.kind === "emotion") {
    const label = T.triggerEmotion(trigger.name);
    return trigger.confidence == null ? label : `${label} ${Number(trigger.confidence).toFixed(2)}`;
  }
  if (trigger.kind === "fallback") return T.triggerFallback;
  return intentLabel(trigger.name);
}

export function percent(value) {
  return value === null || value === undefined ? T.never : `${(value * 100).toFixed(1)}%`;
}

export function money(value) {
  if (value === null || value === undefined || value === "") return T.never;
  const n = Number(value);
  return Number.isNaN(n) ? String(value) : n.toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** The SLA cell of a ticket at this moment: {text, level} with level ok|warn|overdue|met|breached|none. */
export function slaState(ticket) {
  if (ticket.first_human_reply_at || ticket.status === "resolved") {
    const status = ticket.sla_status;
    if (status === "met") return { text: T.slaMet, level: "met" };
    if (status === "breached") return { text: T.slaBreachedDone, level: "breached" };
    return { text: T.slaNone, level: "none" };
  }
  const left = (Date.parse(ticket.sla_due_at) - now()) / 1000;
  if (left < 0) return { text: T.slaOverdue(clock(left)), level: "overdue" };
  return { text: T.slaLeft(clock(left)), level: left < 300 ? "warn" : "ok" };
}
