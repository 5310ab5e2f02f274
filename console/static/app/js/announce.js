// Screen-reader announcements and short visible notices (toasts).
import { h } from "./dom.js";

let polite;
let assertive;

export function initAnnouncer() {
  polite = document.getElementById("announce-polite");
  assertive = document.getElementById("announce-assertive");
}

export function announce(text, urgent = false) {
  const region = urgent ? assertive : polite;
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** A short notice in the top bar (the latest one only, so it never covers the page);
 * kind: info | success | error. */
export function toast(text, kind = "info") {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  box.replaceChildren(item);
  window.setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}
