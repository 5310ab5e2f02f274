/*!
 * HeatDesk 供热智能客服 — website chat widget: the messages (shown in id order, sent, settled or marked 未发送).
 * Loaded in order by heatdesk-widget.js (the one tag sites embed), which hands each part
 * the widget's private context `hd` (the resume token stays in it, never on `window`).
 */
window.HeatDeskWidget.part(function (hd) {
  "use strict";

  var Widget = hd.Widget, TEXT = hd.TEXT, MAX_TEXT = hd.MAX_TEXT;
  var el = hd.el, clientId = hd.clientId, clockTime = hd.clockTime;

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
});
