// The supervisors' dashboard: queue, response and handle times, SLA, handoff rate,
// complaints per day and district and arrears by district (Chart.js, vendored).
import { api, errorText } from "../api.js";
import { h, replace } from "../dom.js";
import { dateTime, duration, isoDate, money, now, percent } from "../format.js";
import { T } from "../i18n.js";
import { state, subscribe } from "../store.js";

const COLORS = { blue: "#1f5fa8", red: "#b3261e", orange: "#b85c00", teal: "#00695c", grey: "#5f6368" };
const REFRESH_MS = 30000;

function card(id, title, value, detail) {
  return h("div", { class: "kpi", id },
    h("h2", { class: "kpi-title" }, title),
    h("p", { class: "kpi-value" }, value),
    detail ? h("p", { class: "kpi-detail muted" }, detail) : null);
}

function durationCard(id, title, stats) {
  return card(id, title, duration(stats.avg_seconds),
    `${T.statMedian} ${duration(stats.median_seconds)} · ${T.statP90} ${duration(stats.p90_seconds)} · ${T.statCount(stats.count)}`);
}

/** A chart with a data table beside it for screen readers (and for when Chart.js is missing). */
function chartFigure(id, title, labels, series, labelHeader) {
  const canvas = h("canvas", { id: `${id}-canvas`, role: "img", "aria-label": title });
  const table = h("table", { class: "sr-only", id: `${id}-table` },
    h("caption", {}, T.chartTableCaption(title)),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, labelHeader),
      series.map((s) => h("th", { scope: "col" }, s.label)))),
    h("tbody", {}, labels.map((label, i) => h("tr", {}, h("th", { scope: "row" }, label),
      series.map((s) => h("td", {}, String(s.data[i])))))));
  const figure = h("figure", { class: "chart", id },
    h("figcaption", {}, title), h("div", { class: "chart-box" }, canvas), table);
  return { figure, canvas };
}

export function mountDashboard(main) {
  const page = h("div", { class: "page dashboard-page" });
  main.append(page);
  if (!state.me || state.me.role !== "supervisor") {
    page.append(h("h1", {}, T.dashboardTitle), h("p", { role: "alert" }, T.dashboardNotAllowed));
    return null;
  }
  document.title = `${T.dashboardTitle} · ${T.appName}`;
  const today = isoDate(now());
  const from = h("input", { type: "date", id: "dash-from", name: "from", value: isoDate(now() - 6 * 86400000) });
  const to = h("input", { type: "date", id: "dash-to", name: "to", value: today });
  const refresh = h("button", { type: "submit", class: "btn" }, T.refresh);
  const exportLink = h("a", { class: "btn btn-quiet", id: "dash-export", href: api.exportUrl(from.value, to.value) },
    T.exportCsv);
  const generated = h("p", { class: "muted small", id: "dash-generated", "aria-live": "polite" });
  const error = h("p", { class: "form-error", role: "alert" });
  const toolbar = h("form", { class: "filters dash-toolbar" },
    h("div", { class: "field field-inline" }, h("label", { for: "dash-from" }, T.dateFrom), from),
    h("div", { class: "field field-inline" }, h("label", { for: "dash-to" }, T.dateTo), to),
    refresh, exportLink, generated);
  const kpis = h("div", { class: "kpis", id: "kpis" });
  const charts = h("div", { class: "charts", id: "charts" });
  const arrears = h("section", { class: "arrears", "aria-labelledby": "arrears-title" });
  page.append(h("div", { class: "page-head" }, h("h1", {}, T.dashboardTitle)), toolbar, error, kpis, charts, arrears);

  let chartInstances = [];
  function destroyCharts() {
    chartInstances.forEach((c) => c.destroy());
    chartInstances = [];
  }

  function draw(canvas, config) {
    if (!window.Chart) return;
    chartInstances.push(new window.Chart(canvas, config));
  }

  function barConfig(labels, datasets, { horizontal = false, integer = true } = {}) {
    return {
      type: "bar",
      data: { labels, datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        indexAxis: horizontal ? "y" : "x",
        datasets: { bar: { maxBarThickness: 36 } },
        plugins: { legend: { display: datasets.length > 1, labels: { font: { size: 12 } } } },
        scales: {
          [horizontal ? "y" : "x"]: { ticks: { font: { size: 12 } } },
          [horizontal ? "x" : "y"]: { beginAtZero: true, ticks: { precision: integer ? 0 : undefined, font: { size: 12 } } },
        },
      },
    };
  }

  function render(data) {
    destroyCharts();
    const q = data.queue;
    replace(kpis,
      card("kpi-queue", T.kpiQueue, String(q.length), T.kpiOpen(q.open)),
      card("kpi-oldest", T.kpiOldest, q.oldest_waiting ? duration(q.oldest_waiting.waiting_seconds) : T.never,
        q.oldest_waiting ? q.oldest_waiting.ticket_no : T.kpiOldestNone),
      durationCard("kpi-first-response", T.kpiFirstResponse, data.first_response),
      durationCard("kpi-handle", T.kpiHandle, data.handle_time),
      card("kpi-sla", T.kpiSla, percent(data.sla.attainment),
        T.kpiSlaDetail(data.sla.met, data.sla.breached, data.sla.pending)),
      card("kpi-handoff", T.kpiHandoff, percent(data.handoff.rate),
        T.kpiHandoffDetail(data.handoff.tickets, data.handoff.conversations)),
      card("kpi-csat", T.kpiCsat, data.csat.average == null ? T.never : data.csat.average.toFixed(1),
        T.kpiCsatDetail(data.csat.count)));

    const days = data.complaints_per_day.map((d) => d.date.slice(5));
    const perDay = chartFigure("chart-complaints-day", T.chartComplaintsPerDay, days, [
      { label: T.seriesComplaints, data: data.complaints_per_day.map((d) => d.count) },
      { label: T.seriesTickets, data: data.tickets_per_day.map((d) => d.count) },
    ], T.colDate);
    const districts = data.complaints_per_district;
    const perDistrict = chartFigure("chart-complaints-district", T.chartComplaintsPerDistrict,
      districts.map((d) => d.district || T.unknownDistrict), [
        { label: T.seriesComplaints, data: districts.map((d) => d.count) }], T.colDistrictName);
    const items = data.arrears_by_district.items || [];
    const arrearsChart = chartFigure("chart-arrears", T.chartArrears, items.map((d) => d.district), [
      { label: T.seriesArrears, data: items.map((d) => Number(d.amount)) },
      { label: T.seriesLateFees, data: items.map((d) => Number(d.late_fees)) },
    ], T.colDistrictName);
    replace(charts, perDay.figure, perDistrict.figure, arrearsChart.figure);
    draw(perDay.canvas, barConfig(days, [
      { label: T.seriesComplaints, data: data.complaints_per_day.map((d) => d.count), backgroundColor: COLORS.red },
      { label: T.seriesTickets, data: data.tickets_per_day.map((d) => d.count), backgroundColor: COLORS.blue },
    ]));
    draw(perDistrict.canvas, barConfig(districts.map((d) => d.district || T.unknownDistrict), [
      { label: T.seriesComplaints, data: districts.map((d) => d.count), backgroundColor: COLORS.orange },
    ], { horizontal: true }));
    draw(arrearsChart.canvas, barConfig(items.map((d) => d.district), [
      { label: T.seriesArrears, data: items.map((d) => Number(d.amount)), backgroundColor: COLORS.teal },
      { label: T.seriesLateFees, data: items.map((d) => Number(d.late_fees)), backgroundColor: COLORS.grey },
    ], { integer: false }));

    const a = data.arrears_by_district;
    replace(arrears, h("h2", { id: "arrears-title" }, `${T.arrearsTable} · ${T.asOf(a.as_of)}`),
      a.available
        ? h("div", { class: "table-wrap" }, h("table", { class: "arrears-table", id: "arrears-table" },
          h("thead", {}, h("tr", {}, [T.colDistrictName, T.colHouseholds, T.colArrearsHouseholds, T.colAmount,
            T.colUnpaid, T.colLateFees, T.colCredit].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, items.length ? items.map((d) => h("tr", {},
            h("th", { scope: "row" }, d.district), h("td", {}, String(d.households)), h("td", {}, String(d.accounts)),
            h("td", {}, money(d.amount)), h("td", {}, money(d.unpaid_principal)), h("td", {}, money(d.late_fees)),
            h("td", {}, String(d.credit_warnings))))
            : h("tr", {}, h("td", { colspan: "7" }, T.noData)))))
        : h("p", { class: "muted" }, T.arrearsUnavailable));
    generated.textContent = T.generatedAt(dateTime(data.generated_at));
  }

  let busy = false;
  async function load() {
    if (busy) return;
    busy = true;
    error.textContent = "";
    exportLink.href = api.exportUrl(from.value, to.value);
    try {
      render(await api.dashboard(from.value || null, to.value || null));
    } catch (err) {
      error.textContent = errorText(err);
    } finally {
      busy = false;
    }
  }

  toolbar.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  let pending = null;
  const unsubscribe = subscribe((change) => {
    if (change.type !== "event" && change.type !== "reload") return;
    window.clearTimeout(pending);
    pending = window.setTimeout(load, 1500);
  });
  const timer = window.setInterval(load, REFRESH_MS);
  load();

  return () => {
    unsubscribe();
    window.clearInterval(timer);
    window.clearTimeout(pending);
    destroyCharts();
  };
}
