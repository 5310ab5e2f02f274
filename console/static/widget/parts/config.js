/*!
 * HeatDesk 供热智能客服 — website chat widget: the texts, settings, storage and DOM helpers.
 * Loaded in order by heatdesk-widget.js (the one tag sites embed), which hands each part
 * the widget's private context `hd` (the resume token stays in it, never on `window`).
 */
window.HeatDeskWidget.part(function (hd) {
  "use strict";

  var data = hd.data;

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
  hd.credential = (function () {
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

  hd.TEXT = TEXT;
  hd.QUICK_REPLIES = QUICK_REPLIES;
  hd.MAX_TEXT = MAX_TEXT;
  hd.SOCKET_PATH = SOCKET_PATH;
  hd.HANDOFF_POLL_MS = HANDOFF_POLL_MS;
  hd.TYPING_SAFETY_MS = TYPING_SAFETY_MS;
  hd.SERVER = SERVER;
  hd.PROTOCOL = PROTOCOL;
  hd.SESSION_KEY = SESSION_KEY;
  hd.OPEN_KEY = OPEN_KEY;
  hd.session = session;
  hd.el = el;
  hd.clientId = clientId;
  hd.clockTime = clockTime;
});
