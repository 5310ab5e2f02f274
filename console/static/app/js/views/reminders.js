// Reminder campaigns (supervisors): choose kind and targets, preview (households per district,
// total arrears, a sample message with the resident's own amounts), send, and follow the tally
// live (polled every 2 s while sending).
import { errorText, get, post } from "../api.js";
import { h, option, replace } from "../dom.js";
import { announce } from "../announce.js";
import { R, REMINDER_KINDS, REMINDER_STATES, REMINDER_STATUS, T } from "../i18n.js";
import { state } from "../store.js";

const POLL_MS = 2000;
const base = "/api/reminders/campaigns";

function tallyList(tally) {
  return h("ul", { class: "tally", id: "rem-tally" },
    Object.keys(REMINDER_STATES).filter((key) => tally[key]).map((key) =>
      h("li", { dataset: { state: key } }, h("span", { class: "tally-label" }, REMINDER_STATES[key]),
        h("strong", { class: "tally-count" }, String(tally[key])))));
}

function districtTable(preview) {
  return h("table", { class: "rem-districts", id: "rem-districts" },
    h("caption", {}, R.previewTitle),
    h("thead", {}, h("tr", {}, [R.districtCol, R.householdsCol, REMINDER_STATES.queued, REMINDER_STATES.no_channel,
      REMINDER_STATES.opted_out, REMINDER_STATES.throttled, R.arrearsCol].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, preview.districts.map((d) => h("tr", {},
      h("th", { scope: "row" }, d.district), h("td", {}, String(d.households)), h("td", {}, String(d.queued || 0)),
      h("td", {}, String(d.no_channel || 0)), h("td", {}, String(d.opted_out || 0)),
      h("td", {}, String(d.throttled || 0)), h("td", {}, d.total_arrears)))));
}

function campaignView(campaign, onSend, onCancel) {
  const p = campaign.preview;
  const actions = [];
  if (campaign.status === "planned") {
    actions.push(h("button", { type: "button", class: "btn btn-primary", id: "rem-send", onclick: onSend }, R.send));
  }
  if (campaign.status === "planned" || campaign.status === "sending") {
    actions.push(h("button", { type: "button", class: "btn", id: "rem-cancel", onclick: onCancel }, R.cancel));
  }
  const paused = campaign.paused_until && new Date(campaign.paused_until) > new Date();
  return h("section", { class: "rem-campaign", id: "rem-campaign", "aria-labelledby": "rem-campaign-title",
    dataset: { status: campaign.status, id: String(campaign.id) } },
  h("h2", { id: "rem-campaign-title" },
    R.campaign(campaign.id, `${REMINDER_KINDS[campaign.kind]} · ${REMINDER_STATUS[campaign.status]}`)),
  h("p", { class: "rem-summary" }, `${R.households(p.households)} · ${R.totalArrears(p.total_arrears)} · ${R.asOf(p.as_of)}`),
  districtTable(p),
  h("h3", {}, R.sample(p.sample ? p.sample.account_no : "—")),
  p.sample ? h("pre", { class: "rem-sample", id: "rem-sample" }, p.sample.text) : h("p", {}, R.noSample),
  h("p", { class: "muted small" }, R.widgetNote),
  h("h3", {}, R.tally),
  h("div", { role: "status", "aria-live": "polite", id: "rem-status" },
    campaign.quiet_hours_now && campaign.status === "sending" ? h("p", { class: "warning" }, R.quietHours) : null,
    paused ? h("p", { class: "warning" }, R.paused(campaign.pause_reason || "")) : null,
    tallyList(campaign.tally)),
  h("div", { class: "rem-actions" }, actions));
}

export function mountReminders(main) {
  const page = h("div", { class: "page reminders-page" });
  main.append(page);
  if (!state.me || state.me.role !== "supervisor") {
    page.append(h("h1", {}, R.title), h("p", { role: "alert" }, R.notAllowed));
    return null;
  }
  document.title = `${R.title} · ${T.appName}`;
  const kind = h("select", { id: "rem-kind", name: "kind" },
    Object.entries(REMINDER_KINDS).map(([key, label]) => option(key, label, key === "overdue")));
  const district = h("input", { id: "rem-district", name: "district", type: "text", maxlength: "50" });
  const minArrears = h("input", { id: "rem-min", name: "min_arrears", type: "number", min: "0", step: "0.01" });
  const days = h("input", { id: "rem-days", name: "days", type: "number", min: "0", max: "3650", step: "1" });
  const error = h("p", { class: "form-error", role: "alert", id: "rem-error" });
  const busy = h("p", { class: "muted", id: "rem-busy", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "btn btn-primary", id: "rem-preview" }, R.preview);
  const form = h("form", { class: "filters rem-form", id: "rem-form" },
    h("div", { class: "field" }, h("label", { for: "rem-kind" }, R.kind), kind),
    h("div", { class: "field" }, h("label", { for: "rem-district" }, R.district), district),
    h("div", { class: "field" }, h("label", { for: "rem-min" }, R.minArrears), minArrears),
    h("div", { class: "field" }, h("label", { for: "rem-days" }, R.days), days),
    submit);
  const result = h("div", { id: "rem-result" });
  page.append(h("h1", {}, R.title), form, busy, error, result);

  let timer = null;
  let current = null;
  let stopped = false;

  function render(campaign) {
    current = campaign;
    replace(result, campaignView(campaign, sendNow, cancelNow));
    clearTimeout(timer);
    if (!stopped && campaign.status === "sending") timer = setTimeout(refresh, POLL_MS);
  }

  async function refresh() {
    if (!current || stopped) return;
    try {
      render(await get(`${base}/${current.id}`));
    } catch (e) {
      error.textContent = errorText(e);
      timer = setTimeout(refresh, POLL_MS);
    }
  }

  async function sendNow() {
    error.textContent = "";
    try {
      render(await post(`${base}/${current.id}/send`));
      announce(R.started);
    } catch (e) {
      error.textContent = errorText(e);
    }
  }

  async function cancelNow() {
    try {
      render(await post(`${base}/${current.id}/cancel`));
    } catch (e) {
      error.textContent = errorText(e);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    busy.textContent = R.working;
    submit.disabled = true;
    const body = { kind: kind.value };
    if (district.value.trim()) body.district = district.value.trim();
    if (minArrears.value) body.min_arrears = minArrears.value;
    if (days.value) body.days = Number(days.value);
    try {
      render(await post(base, body));
      announce(R.planned);
    } catch (e) {
      error.textContent = errorText(e);
    } finally {
      busy.textContent = "";
      submit.disabled = false;
    }
  });

  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
