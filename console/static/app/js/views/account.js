// The side panel's account card: live billing data (masked), or the bot's summary when
// the billing system does not answer.
import { h, replace } from "../dom.js";
import { money } from "../format.js";
import { T } from "../i18n.js";

function row(label, value) {
  return [h("dt", {}, label), h("dd", {}, value ?? T.never)];
}

function billTable(bills) {
  if (!bills || !bills.length) return null;
  return h("table", { class: "bills" },
    h("caption", {}, T.bills),
    h("thead", {}, h("tr", {}, [T.season, T.principal, T.paid, T.unpaid, T.lateFee, T.overdueDays]
      .map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, bills.map((b) => {
      const unpaid = b.unpaid_principal ?? b.unpaid;
      const overdue = b.overdue_days ?? null;
      return h("tr", { class: b.credit_warning ? "credit-warning" : "" },
        h("th", { scope: "row" }, b.season || T.never),
        h("td", {}, money(b.principal)),
        h("td", {}, money(b.paid)),
        h("td", {}, money(unpaid)),
        h("td", {}, money(b.late_fee), b.capped ? h("span", { class: "small" }, T.cappedNote) : null),
        h("td", {}, overdue === null ? T.never : T.days(overdue)));
    })));
}

function totals(bills) {
  const due = bills.reduce((sum, b) => sum + Number(b.total_due ?? (Number(b.unpaid_principal ?? b.unpaid ?? 0)
    + Number(b.late_fee ?? 0))), 0);
  return due;
}

export function renderAccount(box, panel, summary) {
  const claimedNo = (panel && panel.account_no) || summary.account_no;
  if (claimedNo && panel && panel.verified === false) {
    // A number the resident never proved: shown as such, and no bills for it.
    replace(box,
      h("p", { class: "warning", role: "note", "data-testid": "account-unverified" }, T.accountUnverified),
      h("dl", { class: "meta" }, row(T.accountNo, `${claimedNo}（${T.unverified}）`)));
    return;
  }
  const live = panel && panel.available && panel.account;
  const account = live ? panel.account : summary;
  const accountNo = (panel && panel.account_no) || summary.account_no;
  if (!accountNo && !live) {
    replace(box, h("p", { class: "muted" }, T.accountNone));
    return;
  }
  const bills = account.bills || [];
  const warn = bills.some((b) => b.credit_warning);
  replace(box,
    h("p", { class: "muted small" }, live ? `${T.accountLive} · ${T.asOf(account.as_of)}` : T.accountFromSummary),
    h("dl", { class: "meta" },
      row(T.accountNo, accountNo),
      row(T.holder, account.holder_masked),
      live ? row(T.phone, account.phone_masked) : null,
      row(T.address, account.address),
      row(T.district, account.district),
      live && account.area_m2 ? row(T.area, T.squareMeters(account.area_m2)) : null,
      bills.length ? row(T.totalDue, T.yuan(money(totals(bills)))) : null),
    billTable(bills),
    warn ? h("p", { class: "warning", role: "note" }, T.creditWarning) : null);
}
