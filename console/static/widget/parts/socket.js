/*!
 * HeatDesk 供热智能客服 — website chat widget: the socket.io connection (Rasa's protocol plus heatdesk/2) and the start.
 * Loaded in order by heatdesk-widget.js (the one tag sites embed), which hands each part
 * the widget's private context `hd` (the resume token stays in it, never on `window`).
 */
window.HeatDeskWidget.part(function (hd) {
  "use strict";

  var Widget = hd.Widget, SERVER = hd.SERVER, SOCKET_PATH = hd.SOCKET_PATH, PROTOCOL = hd.PROTOCOL;
  var SESSION_KEY = hd.SESSION_KEY, session = hd.session;

  /** The socket.io browser client, vendored from npm; a host page's own `io` is left alone. */
  function loadSocketIo() {
    return new Promise(function (resolve, reject) {
      var previous = window.io;
      var tag = document.createElement("script");
      tag.src = hd.base + "vendor/socket.io.min.js";
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
      if (hd.credential) {
        request.session_id = hd.credential.session_id;
        request.resume_token = hd.credential.resume_token;
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
      hd.credential = { session_id: confirmed, resume_token: payload.resume_token };
      session.setItem(SESSION_KEY, JSON.stringify(hd.credential));
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

  /** Shows the widget, publishes its public API and connects. */
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

  hd.start = start;
});
