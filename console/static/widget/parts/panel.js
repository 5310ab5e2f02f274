/*!
 * HeatDesk 供热智能客服 — website chat widget: the panel (building it, opening and closing it, the connection and handoff status).
 * Loaded in order by heatdesk-widget.js (the one tag sites embed), which hands each part
 * the widget's private context `hd` (the resume token stays in it, never on `window`).
 */
window.HeatDeskWidget.part(function (hd) {
  "use strict";

  var data = hd.data, TEXT = hd.TEXT, QUICK_REPLIES = hd.QUICK_REPLIES, MAX_TEXT = hd.MAX_TEXT;
  var HANDOFF_POLL_MS = hd.HANDOFF_POLL_MS, TYPING_SAFETY_MS = hd.TYPING_SAFETY_MS;
  var OPEN_KEY = hd.OPEN_KEY, session = hd.session, el = hd.el;

  function Widget() {
    this.sessionId = hd.credential ? hd.credential.session_id : null;
    this.confirmed = false;
    this.lastId = 0;
    this.seen = new Set();
    this.outbox = []; // {clientId, message, display, node}
    this.unread = 0;
    this.handoff = { status: "bot" };
    this.typingTimer = null;
    this.handoffTimer = null;
    this.socket = null;
    this.composing = false;
    this.build();
  }

  Widget.prototype.build = function () {
    var self = this;
    var title = data.title || TEXT.title;
    this.host = el("div", { id: "heatdesk-widget", "data-state": "closed" });
    this.host.style.visibility = "hidden"; // until the stylesheet is in: no flash of unstyled UI
    var root = this.host.attachShadow ? this.host.attachShadow({ mode: "open" }) : this.host;
    var css = el("link", { rel: "stylesheet", href: hd.base + "heatdesk-widget.css" });
    css.addEventListener("load", function () { self.host.style.visibility = ""; });
    css.addEventListener("error", function () { self.host.style.visibility = ""; });
    root.appendChild(css);

    this.badge = el("span", { className: "hdw-badge", "aria-hidden": "true", hidden: true });
    this.launcher = el(
      "button",
      { type: "button", className: "hdw-launcher", "aria-expanded": "false", "aria-controls": "hdw-panel", "aria-label": TEXT.open },
      [this.icon(), this.badge]
    );
    this.subtitle = el("p", { className: "hdw-subtitle", id: "hdw-subtitle", text: TEXT.statusConnecting });
    this.closeButton = el("button", { type: "button", className: "hdw-close", "aria-label": TEXT.close, text: "×" });
    var header = el("header", { className: "hdw-header" }, [
      el("div", { className: "hdw-avatar", "aria-hidden": "true", text: "暖" }),
      el("div", { className: "hdw-heading" }, [el("h2", { id: "hdw-title", text: title }), this.subtitle]),
      this.closeButton,
    ]);
    this.connBanner = el("div", { className: "hdw-conn", role: "status", hidden: true });
    this.handoffBanner = el("div", { className: "hdw-handoff", role: "status", hidden: true });
    this.log = el("div", {
      className: "hdw-log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-label": TEXT.logLabel,
      tabindex: "0",
    }, [el("p", { className: "hdw-intro", text: TEXT.intro })]);
    this.typing = el("div", { className: "hdw-typing", hidden: true }, [
      el("span", { className: "hdw-dots", "aria-hidden": "true" }, [el("i"), el("i"), el("i")]),
      el("span", { className: "hdw-typing-text", text: TEXT.typing }),
    ]);
    this.typingStatus = el("div", { className: "hdw-sr", role: "status" });
    var quick = el("div", { className: "hdw-quick", role: "group", "aria-label": TEXT.quickGroup });
    QUICK_REPLIES.forEach(function (reply) {
      var button = el("button", { type: "button", className: "hdw-chip", text: reply.title });
      button.addEventListener("click", function () { self.send(reply.message, reply.title !== reply.message ? reply.title : null); });
      quick.appendChild(button);
    });
    this.input = el("textarea", {
      id: "hdw-input",
      className: "hdw-input",
      rows: "1",
      maxlength: String(MAX_TEXT),
      placeholder: TEXT.placeholder,
      title: TEXT.inputHint,
      "aria-describedby": "hdw-input-hint",
    });
    this.form = el("form", { className: "hdw-compose" }, [
      el("label", { className: "hdw-sr", for: "hdw-input", text: TEXT.inputLabel }),
      el("span", { className: "hdw-sr", id: "hdw-input-hint", text: TEXT.inputHint }),
      this.input,
      el("button", { type: "submit", className: "hdw-send", text: TEXT.send }),
    ]);
    this.panel = el(
      "section",
      { id: "hdw-panel", className: "hdw-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "hdw-title", hidden: true },
      [header, this.connBanner, this.handoffBanner, this.log, this.typing, this.typingStatus, quick, this.form]
    );
    root.appendChild(el("div", { className: "hdw" }, [this.panel, this.launcher]));

    this.launcher.addEventListener("click", function () { self.toggle(); });
    this.closeButton.addEventListener("click", function () { self.close(true); });
    this.panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        event.preventDefault();
        self.close(true);
      }
    });
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.submitInput();
    });
    this.input.addEventListener("compositionstart", function () { self.composing = true; });
    this.input.addEventListener("compositionend", function () { self.composing = false; });
    this.input.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.shiftKey) return;
      // IME-safe: the Enter that confirms a 拼音 candidate must never send.
      if (event.isComposing || self.composing || event.keyCode === 229) return;
      event.preventDefault();
      self.submitInput();
    });
    this.input.addEventListener("input", function () { self.autosize(); });
    // Follow new messages unless the resident scrolled up to read older ones.
    this.stick = true;
    this.log.addEventListener("scroll", function () {
      self.stick = self.log.scrollHeight - self.log.scrollTop - self.log.clientHeight < 48;
    });
  };

  Widget.prototype.icon = function () {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute(
      "d",
      "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-4.5 3.6A.9.9 0 0 1 3 20.9V6a2 2 0 0 1 1-2zm3 6.2a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 0 0 0-2.6zm5 0a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 0 0 0-2.6zm5 0a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 0 0 0-2.6z"
    );
    svg.appendChild(path);
    return svg;
  };

  Widget.prototype.mount = function () {
    document.body.appendChild(this.host);
    if (data.open === "true" || session.getItem(OPEN_KEY) === "1") this.open(false);
    this.renderStatus();
  };

  // -- panel -------------------------------------------------------------------------------

  Widget.prototype.isOpen = function () {
    return !this.panel.hidden;
  };

  Widget.prototype.open = function (focus) {
    this.panel.hidden = false;
    this.host.setAttribute("data-state", "open");
    this.launcher.setAttribute("aria-expanded", "true");
    session.setItem(OPEN_KEY, "1");
    this.setUnread(0);
    this.scrollToEnd(true);
    if (focus !== false) this.input.focus();
  };

  Widget.prototype.close = function (returnFocus) {
    this.panel.hidden = true;
    this.host.setAttribute("data-state", "closed");
    this.launcher.setAttribute("aria-expanded", "false");
    session.setItem(OPEN_KEY, "0");
    if (returnFocus) this.launcher.focus();
  };

  Widget.prototype.toggle = function () {
    if (this.isOpen()) this.close(true);
    else this.open(true);
  };

  Widget.prototype.setUnread = function (count) {
    this.unread = count;
    this.badge.textContent = count > 99 ? "99+" : String(count);
    this.badge.hidden = count === 0;
    this.launcher.setAttribute("aria-label", TEXT.open + (count ? TEXT.unread(count) : ""));
  };

  Widget.prototype.autosize = function () {
    this.input.style.height = "auto";
    this.input.style.height = Math.min(this.input.scrollHeight, 120) + "px";
  };

  Widget.prototype.scrollToEnd = function (force) {
    if (!force && !this.stick) return;
    this.log.scrollTop = this.log.scrollHeight;
    this.stick = true;
  };

  // -- status: connection and handoff --------------------------------------------------------------

  Widget.prototype.setConnection = function (state) {
    this.connection = state;
    this.host.setAttribute("data-connection", state);
    if (state === "reconnecting") {
      this.connBanner.textContent = TEXT.reconnecting;
      this.connBanner.hidden = false;
    } else if (state === "offline") {
      this.connBanner.textContent = data.hotline ? TEXT.offlineHotline(data.hotline) : TEXT.offline;
      this.connBanner.hidden = false;
    } else {
      this.connBanner.hidden = true;
    }
    this.renderStatus();
  };

  Widget.prototype.setHandoff = function (state) {
    var self = this;
    this.handoff = state || { status: "bot" };
    this.host.setAttribute("data-handoff", this.handoff.status);
    clearInterval(this.handoffTimer);
    this.handoffTimer = null;
    if (this.handoff.status === "queued") {
      // The queue moves as agents claim tickets: ask again now and then.
      this.handoffTimer = setInterval(function () {
        if (self.socket && self.socket.connected && self.confirmed) {
          self.socket.emit("handoff_state_request", {});
        }
      }, HANDOFF_POLL_MS);
    }
    if (this.handoff.status !== "bot") this.setTyping(false);
    this.renderStatus();
  };

  Widget.prototype.renderStatus = function () {
    var handoff = this.handoff;
    var text;
    if (handoff.status === "queued") text = TEXT.queued(handoff.position);
    else if (handoff.status === "agent") text = TEXT.agent(handoff.agent);
    else text = null;
    this.handoffBanner.hidden = !text;
    if (text && this.handoffBanner.textContent !== text) this.handoffBanner.textContent = text;

    var subtitle;
    if (this.connection === "reconnecting") subtitle = TEXT.reconnecting;
    else if (this.connection === "offline") subtitle = TEXT.statusOffline;
    else if (this.connection !== "open") subtitle = TEXT.statusConnecting;
    else if (handoff.status === "queued") subtitle = TEXT.queuedShort;
    else if (handoff.status === "agent") subtitle = TEXT.agentLabel(handoff.agent);
    else subtitle = TEXT.statusBot;
    this.subtitle.textContent = subtitle;
  };

  Widget.prototype.setTyping = function (on) {
    var self = this;
    clearTimeout(this.typingTimer);
    this.typing.hidden = !on;
    this.host.setAttribute("data-typing", on ? "true" : "false");
    this.typingStatus.textContent = on ? TEXT.typing : "";
    if (on) {
      this.scrollToEnd(false);
      this.typingTimer = setTimeout(function () { self.setTyping(false); }, TYPING_SAFETY_MS);
    }
  };

  hd.Widget = Widget;
});
