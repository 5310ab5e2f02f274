// Account lookup in the ticket's side panel (issue 15): the agent enters the 户号 the resident
// typed; the server looks it up in the billing system and verifies it against the phone tail the
// resident gave in the conversation (POST /api/tickets/{no}/account-lookup). The household is
// shown with its payments, and 未验证 stays in plain sight when the resident proved nothing.
import { ApiError, post } from "../api.js";
import { h, replace } from "../dom.js";
import { money } from "../format.js";
import { LOOKUP, T } from "../i18n.js";
import { renderAccount } from "./account.js";

function errorFor(error) {
  if (!(error instanceof ApiError)) return LOOKUP.errors.other;
  return LOOKUP.errors[error.status] || LOOKUP.errors.other;
}

function banner(result) {
  if (result.verified) {
    return h("p", { class: "lookup-verified", role: "note", "data-testid": "lookup-verified" }, LOOKUP.verified);
  }
  const text = result.verification === "tail_mismatch" ? LOOKUP.tailMismatch(result.phone_tail || "") : LOOKUP.noTail;
  return h("p", { class: "warning", role: "note", "data-testid": "lookup-unverified" },
    h("strong", {}, `${LOOKUP.unverified}：`), text);
}

function paymentsTable(bills) {
  const rows = (bills || []).flatMap((b) => (b.payments || []).map((p) => ({ ...p, season: b.season })));
  if (!rows.length) return h("p", { class: "muted small", id: "lookup-payments-none" }, LOOKUP.noPayments);
  return h("table", { class: "bills", id: "lookup-payments" },
    h("caption", {}, LOOKUP.payments),
    h("thead", {}, h("tr", {}, [LOOKUP.payDate, T.season, LOOKUP.payAmount, LOOKUP.payChannel]
      .map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((p) => h("tr", {},
      h("th", { scope: "row" }, p.date),
      h("td", {}, p.season || T.never),
      h("td", {}, money(p.amount)),
      h("td", {}, LOOKUP.channels[p.channel] || p.channel || T.never)))));
}

/** Shows a lookup's household in the account card: the verification first, then the account. */
export function renderLookup(box, result) {
  renderAccount(box, { available: true, verified: true, account_no: result.account_no, account: result.account }, {});
  box.prepend(banner(result));
  box.append(paymentsTable(result.account.bills));
}

/** A history line's detail for a lookup (" · 2024000003 · 已核实"). */
export function lookupHistoryDetail(event) {
  if (event.kind !== "account_lookup" || !event.detail) return "";
  const d = event.detail;
  const state = d.found === false ? LOOKUP.historyMissing : d.verified ? LOOKUP.historyVerified : LOOKUP.unverified;
  return ` · ${d.account_no || ""} · ${state}`;
}

/**
 * The lookup form under the account card. `canUse()` says whether this agent may look up
 * (holder or supervisor); `onAttached(ticket)` gets the ticket with its new account.
 */
export function mountAccountLookup(container, { ticketNo, accountBox, ticket, canUse, onAttached }) {
  const input = h("input", {
    id: "account-lookup-input", name: "account_no", type: "text", inputmode: "numeric", autocomplete: "off",
    maxlength: "40", "aria-describedby": "account-lookup-hint account-lookup-error",
  });
  const submit = h("button", { type: "submit", class: "btn", id: "account-lookup-submit" }, LOOKUP.submit);
  const error = h("p", { class: "form-error", id: "account-lookup-error", role: "alert" });
  const status = h("p", { class: "sr-only", id: "account-lookup-status", "aria-live": "polite" });
  const form = h("form", { class: "lookup-form", id: "account-lookup-form", novalidate: true },
    h("label", { for: "account-lookup-input" }, LOOKUP.label),
    h("div", { class: "lookup-row" }, input, submit),
    h("p", { class: "muted small", id: "account-lookup-hint" }, LOOKUP.hint),
    error, status);
  replace(container, form);
  let busy = false;
  let prefilled = false;

  function refresh() {
    const t = ticket();
    form.hidden = !(t && canUse());
    if (t && !prefilled && !input.value && t.account_no && !t.account_verified) input.value = t.account_no;
    if (t) prefilled = true;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    const value = input.value.trim();
    error.textContent = "";
    if (!value) {
      error.textContent = LOOKUP.errors[400];
      input.focus();
      return;
    }
    busy = true;
    submit.disabled = true;
    submit.textContent = LOOKUP.working;
    try {
      const result = await post(`/api/tickets/${encodeURIComponent(ticketNo)}/account-lookup`, { account_no: value });
      renderLookup(accountBox, result);
      status.textContent = result.verified ? LOOKUP.announceVerified(result.account_no)
        : LOOKUP.announceUnverified(result.account_no);
      if (onAttached) onAttached(result.ticket);
    } catch (failure) {
      error.textContent = errorFor(failure);
      input.focus();
    } finally {
      busy = false;
      submit.disabled = false;
      submit.textContent = LOOKUP.submit;
    }
  });

  refresh();
  return { refresh };
}
