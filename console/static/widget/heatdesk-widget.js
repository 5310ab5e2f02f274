/*!
 * HeatDesk 供热智能客服 — website chat widget.
 *
 * Embed with one tag (the socket.io client and the stylesheet are loaded from
 * the same folder as this file, never from a CDN):
 *
 *   <script src="https://console.example.com/widget/heatdesk-widget.js"
 *           data-server="https://rasa.example.com" defer></script>
 *
 * data-server   the Rasa server (default: this page's host on port 5005); only the
 *               embedding tag decides it: nothing in the page's URL can re-point
 *               the widget (a link must not send a resident's 户号 elsewhere)
 * data-title    the panel title (default 供热智能客服)
 * data-hotline  a phone number shown when the chat cannot connect
 * data-open     "true" opens the panel at once
 *
 * Speaks Rasa's socket.io protocol (session_request / session_confirm /
 * user_uttered / bot_uttered) and asks for HeatDesk's additions with
 * `protocol: "heatdesk/2"`: a server transcript replayed by message id after a
 * reload or reconnect, `user_echo`, `bot_typing`, `handoff_state` and
 * `widget_error`. The session is issued by the server with a resume token; the
 * token stays in this closure and the tab's sessionStorage, never on
 * `window.HeatDeskWidget`.
 */
(function () {
  "use strict";

  if (window.HeatDeskWidget) {
    return; // embedded twice: keep the first
  }
  window.HeatDeskWidget = { loading: true };

  var script =
    document.currentScript || document.querySelector('script[src*="heatdesk-widget.js"]');
  var BASE = new URL(".", (script && script.src) || location.href).href;
  var data = (script && script.dataset) || {};

  // Every text the resident sees (the server's own texts live in connectors/messages.py).
  var TEXT = {
    title: "供热智能客服",
    open: "打开在线客服",
    close: "关闭在线客服",
    unread: function (n) { return "（" + n + " 条未读消息）"; },
    statusBot: "智能客服 · 在线",
    statusConnecting: "正在连接…",
    statusOffline: "暂时无法连接",
    queued: function (position) {
      return position ? "已转人工 · 您目前排在第 " + position + " 位，请稍候" : "已转人工 · 正在为您安排客服";
    },
    queuedShort: "已转人工 · 排队中",
    agent: function (name) { return "已转人工 · 客服" + (name ? " " + name : "") + " 正在为您服务"; },
    agentLabel: function (name) { return "人工客服" + (name ? " " + name : ""); },
    botLabel: "智能客服",
    youSaid: "您说：",
    botSaid: "客服说：",
    reconnecting: "重新连接中…",
    offline: "在线客服暂时无法连接，请稍后再试。",
    offlineHotline: function (phone) { return "在线客服暂时无法连接，您也可以拨打服务热线 " + phone + "。"; },
    typing: "客服正在输入…",
    sending: "发送中…",
    notSent: "未发送",
    placeholder: "请输入您的问题…",
    inputHint: "按 Enter 发送，Shift+Enter 换行",
    inputLabel: "输入您的问题",
    send: "发送",
    quickGroup: "常见问题",
    logLabel: "聊天记录",
    intro: "您好！我是供热智能客服，可以帮您查欠费和滞纳金、解答缴费和采暖问题、登记报修。请直接输入问题，或点击下方常见问题。",
    tooLong: function (n) { return "消息太长了（最多 " + n + " 个字），请精简后再发送。"; },
  };

  // The common questions under the input; `message` is what Rasa reads.
  var QUICK_REPLIES = [
    { title: "查欠费", message: "查欠费" },
    { title: "滞纳金怎么算", message: "滞纳金怎么算" },
    { title: "暖气不热", message: "暖气不热" },
    { title: "转人工", message: "转人工" },
  ];

  var MAX_TEXT = 2000;
  var SOCKET_PATH = data.socketPath || "/socket.io";
  var HANDOFF_POLL_MS = 15000;
  var TYPING_SAFETY_MS = 60000;

  function httpUrl(value) {
    if (!value) return null;
    try {
      var url = new URL(value, location.href);
      if (url.protocol !== "http:" && url.protocol !== "https:") return null;
      return url.origin + url.pathname.replace(/\/+$/, "");
    } catch (error) {
      return null;
    }
  }

  function resolveServer() {
    var fallback =
      location.protocol === "http:" || location.protocol === "https:"
        ? location.protocol + "//" + location.hostname + ":5005"
        : "http://localhost:5005";
    return httpUrl(data.server) || fallback;
  }

  var SERVER = resolveServer();
  var PROTOCOL = "heatdesk/2";
  var SESSION_KEY = "heatdesk-widget:session:" + SERVER;
  var OPEN_KEY = "heatdesk-widget:open:" + SERVER;

  // Storage may be unavailable (privacy modes, sandboxed frames): fall back to memory.
  var memory = {};
  function storage(kind) {
    try {
      var store = window[kind];
      var probe = "heatdesk-widget:probe";
      store.setItem(probe, "1");
      store.removeItem(probe);
      return store;
    } catch (error) {
      return {
        getItem: function (key) { return Object.prototype.hasOwnProperty.call(memory, key) ? memory[key] : null; },
        setItem: function (key, value) { memory[key] = String(value); },
        removeItem: function (key) { delete memory[key]; },
      };
    }
  }
  var session = storage("sessionStorage");

  // The server-issued session {session_id, resume_token}: in this closure and this tab only.
  var credential = (function () {
    try {
      var stored = JSON.parse(session.getItem(SESSION_KEY) || "null");
      return stored && typeof stored.session_id === "string" && typeof stored.resume_token === "string" ? stored : null;
    } catch (error) {
      return null;
    }
  })();

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(child);
    });
    return node;
  }

  function clientId() {
    var random = "";
    if (window.crypto && window.crypto.getRandomValues) {
      var bytes = new Uint8Array(8);
      window.crypto.getRandomValues(bytes);
      random = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    } else {
      random = Math.random().toString(16).slice(2) + Date.now().toString(16);
    }
    return "c-" + random;
  }

  function clockTime(ts) {
    var date = ts ? new Date(ts * 1000) : new Date();
    return date.toLocaleString("zh-CN", { hour12: false });
  }

  /** The socket.io browser client, vendored from npm; a host page's own `io` is left alone. */
  function loadSocketIo() {
    return new Promise(function (resolve, reject) {
      var previous = window.io;
      var tag = document.createElement("script");
      tag.src = BASE + "vendor/socket.io.min.js";
      tag.async = true;
      tag.onload = function () {
        var io = window.io;
        if (previous !== undefined) window.io = previous;
        if (typeof io !== "function") reject(new Error("socket.io client missing"));
        else resolve(io);
      };
      tag.onerror = function () { reject(new Error("socket.io client failed to load")); };
      document.head.appendChild(tag);
    });
  }

  function Widget() {
    this.sessionId = credential ? credential.session_id : null;
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
    var css = el("link", { rel: "stylesheet", href: BASE + "heatdesk-widget.css" });
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

  // -- messages ------------------------------------------------------------------------------------

  /** Inserts a message in id order; messages without an id yet (sending) stay at the end. */
  Widget.prototype.place = function (node, id) {
    if (id) {
      node.setAttribute("data-id", String(id));
      var items = this.log.querySelectorAll(".hdw-msg");
      for (var i = 0; i < items.length; i++) {
        var other = items[i];
        if (other === node) continue;
        var otherId = Number(other.getAttribute("data-id") || "0");
        if (!otherId || otherId > id) {
          this.log.insertBefore(node, other);
          return;
        }
      }
    }
    this.log.appendChild(node);
  };

  Widget.prototype.remember = function (id) {
    if (!id) return;
    this.seen.add(id);
    if (id > this.lastId) this.lastId = id;
  };

  Widget.prototype.userNode = function (text, ts) {
    return el("div", { className: "hdw-msg hdw-msg--user" }, [
      el("span", { className: "hdw-sr", text: TEXT.youSaid }),
      el("div", { className: "hdw-bubble", text: text, title: clockTime(ts) }),
    ]);
  };

  Widget.prototype.botNode = function (payload) {
    var self = this;
    var metadata = (payload && payload.metadata) || {};
    var agent = typeof metadata.agent === "string" && metadata.agent ? metadata.agent : null;
    var text = payload && typeof payload.text === "string" ? payload.text : "";
    var image = payload && payload.attachment && payload.attachment.payload && payload.attachment.payload.src;
    if (!text && !image) return null; // custom payloads are for other front ends
    var children = [
      agent ? el("div", { className: "hdw-sender", text: TEXT.agentLabel(agent) }) : null,
      el("span", { className: "hdw-sr", text: agent ? TEXT.agentLabel(agent) + "：" : TEXT.botSaid }),
      text ? el("div", { className: "hdw-bubble", text: text, title: clockTime(payload.ts) }) : null,
    ];
    if (image && /^https?:\/\//.test(image)) {
      children.push(el("img", { className: "hdw-image", src: image, alt: "" }));
    }
    var replies = Array.isArray(payload.quick_replies) ? payload.quick_replies : payload.buttons;
    if (Array.isArray(replies) && replies.length) {
      var group = el("div", { className: "hdw-replies", role: "group" });
      replies.forEach(function (reply) {
        if (!reply || typeof reply.title !== "string") return;
        var button = el("button", { type: "button", className: "hdw-chip", text: reply.title });
        button.addEventListener("click", function () {
          var message = typeof reply.payload === "string" && reply.payload ? reply.payload : reply.title;
          self.send(message, message !== reply.title ? reply.title : null);
        });
        group.appendChild(button);
      });
      children.push(group);
    }
    return el("div", { className: "hdw-msg hdw-msg--bot" + (agent ? " hdw-msg--agent" : "") }, children);
  };

  Widget.prototype.showBot = function (payload, live) {
    var id = payload && typeof payload.message_id === "number" ? payload.message_id : null;
    if (id && this.seen.has(id)) return;
    this.remember(id);
    var node = this.botNode(payload);
    if (!node) return;
    this.place(node, id);
    this.scrollToEnd(false);
    if (live && !this.isOpen()) this.setUnread(this.unread + 1);
  };

  Widget.prototype.showUser = function (entry) {
    var id = entry.id;
    if (id && this.seen.has(id)) {
      this.settle(entry.client_id, id);
      return;
    }
    this.remember(id);
    if (this.settle(entry.client_id, id)) return;
    this.place(this.userNode(entry.text || "", entry.ts), id);
    this.scrollToEnd(false);
  };

  /** The server stored one of our own messages: it is no longer "sending". */
  Widget.prototype.settle = function (cid, id) {
    if (!cid) return false;
    for (var i = 0; i < this.outbox.length; i++) {
      var item = this.outbox[i];
      if (item.clientId === cid) {
        this.outbox.splice(i, 1);
        item.node.classList.remove("hdw-msg--pending", "hdw-msg--failed");
        var meta = item.node.querySelector(".hdw-meta");
        if (meta) meta.remove();
        if (id && !item.node.getAttribute("data-id")) this.place(item.node, id);
        return true;
      }
    }
    return false;
  };

  Widget.prototype.notice = function (text) {
    var node = el("div", { className: "hdw-notice", text: text });
    this.log.appendChild(node);
    this.scrollToEnd(true);
  };

  /** A new server-side conversation: drop what belonged to the old one, keep what is still being sent. */
  Widget.prototype.clearLog = function () {
    var items = this.log.querySelectorAll(".hdw-msg:not(.hdw-msg--pending), .hdw-notice");
    for (var i = 0; i < items.length; i++) items[i].remove();
    this.seen = new Set();
    this.lastId = 0;
  };

  // -- sending ---------------------------------------------------------------------------------------

  Widget.prototype.submitInput = function () {
    var text = this.input.value.trim();
    if (!text) return;
    if (text.length > MAX_TEXT) {
      this.notice(TEXT.tooLong(MAX_TEXT));
      return;
    }
    this.input.value = "";
    this.autosize();
    this.send(text, null);
  };

  Widget.prototype.send = function (message, display) {
    message = String(message || "").trim();
    if (!message) return;
    var node = this.userNode(display || message);
    node.classList.add("hdw-msg--pending");
    node.appendChild(el("div", { className: "hdw-meta", "aria-hidden": "true", text: TEXT.sending }));
    var item = { clientId: clientId(), message: message, display: display, node: node };
    this.outbox.push(item);
    this.log.appendChild(node);
    this.scrollToEnd(true);
    this.transmit(item);
  };

  Widget.prototype.transmit = function (item) {
    if (!this.socket || !this.socket.connected || !this.confirmed) return; // sent after session_confirm
    // No session id: the server answers on the session this socket was confirmed.
    var body = {
      message: item.message,
      client_id: item.clientId,
      metadata: { page: location.pathname },
    };
    if (item.display) body.display = item.display;
    this.socket.emit("user_uttered", body);
  };

  /** The server refused one of our messages: keep it visible, marked 未发送, with the reason. */
  Widget.prototype.fail = function (cid, text) {
    var failed = this.outbox.filter(function (item) { return item.clientId === cid; });
    this.outbox = this.outbox.filter(function (item) { return item.clientId !== cid; });
    failed.forEach(function (item) {
      item.node.classList.remove("hdw-msg--pending");
      item.node.classList.add("hdw-msg--failed");
      var meta = item.node.querySelector(".hdw-meta");
      if (meta) meta.textContent = TEXT.notSent;
    });
    if (text) this.notice(text);
  };

  // -- the socket ----------------------------------------------------------------------------------------

  Widget.prototype.connect = function (io) {
    var self = this;
    var socket = io(SERVER, {
      path: SOCKET_PATH,
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 5000,
      timeout: 10000,
    });
    this.socket = socket;
    this.setConnection("connecting");

    socket.on("connect", function () {
      self.confirmed = false;
      var request = { protocol: PROTOCOL, last_message_id: self.lastId };
      if (credential) {
        request.session_id = credential.session_id;
        request.resume_token = credential.resume_token;
      }
      socket.emit("session_request", request);
    });
    socket.on("disconnect", function () {
      self.confirmed = false;
      self.setTyping(false);
      self.setConnection("reconnecting");
    });
    socket.on("connect_error", function () {
      self.setConnection(self.everConnected ? "reconnecting" : "offline");
    });
    socket.on("session_confirm", function (payload) {
      if (!payload || typeof payload.session_id !== "string" || typeof payload.resume_token !== "string") return;
      var confirmed = payload.session_id;
      if (self.sessionId && self.sessionId !== confirmed) {
        self.clearLog(); // the server started a new conversation
      }
      self.sessionId = confirmed;
      credential = { session_id: confirmed, resume_token: payload.resume_token };
      session.setItem(SESSION_KEY, JSON.stringify(credential));
      self.confirmed = true;
      self.everConnected = true;
      self.setConnection("open");
      self.outbox.slice().forEach(function (item) { self.transmit(item); });
    });
    socket.on("transcript", function (payload) {
      var messages = (payload && Array.isArray(payload.messages)) ? payload.messages : [];
      messages.forEach(function (entry) {
        if (!entry || typeof entry.id !== "number") return;
        if (entry.role === "user") self.showUser(entry);
        else if (entry.role === "bot") {
          var bot = Object.assign({}, entry.payload || {}, { message_id: entry.id, ts: entry.ts });
          self.showBot(bot, false);
        }
      });
      self.scrollToEnd(true);
    });
    socket.on("user_echo", function (entry) {
      if (entry && typeof entry.id === "number") self.showUser(entry);
    });
    socket.on("bot_uttered", function (payload) {
      if (payload && typeof payload === "object") self.showBot(payload, true);
    });
    socket.on("bot_typing", function (payload) {
      self.setTyping(Boolean(payload && payload.typing) && self.handoff.status === "bot");
    });
    socket.on("handoff_state", function (payload) {
      if (payload && typeof payload.status === "string") self.setHandoff(payload);
    });
    socket.on("widget_error", function (payload) {
      var text = payload && typeof payload.message === "string" ? payload.message : "";
      if (payload && payload.client_id) self.fail(payload.client_id, text);
      else if (text) self.notice(text);
    });
  };

  function start() {
    var widget = new Widget();
    widget.mount();
    window.HeatDeskWidget = {
      server: SERVER,
      open: function () { widget.open(true); },
      close: function () { widget.close(false); },
      send: function (text) { widget.send(text, null); },
      // The conversation id agents see on the ticket; without the token it opens nothing.
      conversationId: function () { return widget.sessionId ? "widget:" + widget.sessionId : null; },
    };
    loadSocketIo().then(
      function (io) { widget.connect(io); },
      function () { widget.setConnection("offline"); }
    );
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
