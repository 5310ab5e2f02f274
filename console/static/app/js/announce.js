// Screen-reader announcements and short visible notices (toasts).
import { h } from "./dom.js";

let polite;
let assertive;
let toasts;

export function initAnnouncer() {
  polite = document.getElementById("announce-polite");
  assertive = document.getElementById("announce-assertive");
  toasts = document.getElementById("toasts");
}

export function announce(text, urgent = false) {
  const region = urgent ? assertive : polite;
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** A visible notice that also reaches screen readers; kind: info | success | error. */
export function toast(text, kind = "info") {
  if (!toasts) return;
  const item = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  toasts.append(item);
  window.setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}
