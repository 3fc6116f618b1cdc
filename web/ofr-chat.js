/*
 * OFR chat widget for Rasa's socket.io channel.
 *
 * Usage on any page (assets served by the bot's own server, nothing from a CDN):
 *   <script src="https://BOT/webhooks/webchat/vendor/socket.io.min.js"></script>
 *   <script src="https://BOT/webhooks/webchat/ofr-chat.js"></script>
 *   <script>OFRChat.mount({ serverUrl: "https://BOT" });</script>
 *
 * The conversation survives page reloads: the session id and the messages shown
 * are kept in the browser's localStorage; Rasa keeps the same conversation because
 * the socket.io channel runs with session_persistence.
 *
 * No message is lost when the connection drops (a server of the cluster stopped,
 * the network blinked): each message goes with an id of its own and waits, kept
 * with the conversation, until the server acknowledges it; on reconnecting (or
 * reloading) the widget sends the messages not acknowledged again, same ids. The
 * server runs a message once (a turn already stored answers from the store), and
 * answers carry the id they answer and their number, so none is shown twice.
 */
(function () {
  "use strict";

  var LABELS = {
    en: {
      title: "OFR assistant",
      open: "Open the OFR chat",
      close: "Close the chat",
      input: "Your question",
      placeholder: "Ask about OFR…",
      send: "Send",
      you: "You",
      bot: "OFR assistant",
      offline: "Connecting…",
      staff: "IOM staff",
      helpful: "Helpful",
      notHelpful: "Not helpful",
      feedback: "Did this answer help?",
      email: "Your e-mail address for the answer (optional)",
      notSent: "This message could not be sent. Please send it again.",
      intro: "Ask me about Option Freiwillige Rückkehr (OFR).\nPlease do not write personal data about clients here. To delete this conversation, write “delete my data”."
    },
    de: {
      title: "OFR-Assistent",
      open: "OFR-Chat öffnen",
      close: "Chat schließen",
      input: "Ihre Frage",
      placeholder: "Fragen Sie zu OFR…",
      send: "Senden",
      you: "Sie",
      bot: "OFR-Assistent",
      offline: "Verbindung wird aufgebaut…",
      staff: "IOM-Mitarbeitende",
      helpful: "Hilfreich",
      notHelpful: "Nicht hilfreich",
      feedback: "Hat diese Antwort geholfen?",
      email: "Ihre E-Mail-Adresse für die Antwort (freiwillig)",
      notSent: "Diese Nachricht konnte nicht gesendet werden. Bitte senden Sie sie noch einmal.",
      intro: "Fragen Sie mich zu „Option Freiwillige Rückkehr“ (OFR).\nBitte schreiben Sie hier keine personenbezogenen Daten über Klientinnen und Klienten. Um dieses Gespräch zu löschen, schreiben Sie „Lösche meine Daten“."
    }
  };

  function browserLanguage() {
    var code = (navigator.language || "de").toLowerCase();
    return code.indexOf("en") === 0 ? "en" : "de";
  }

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "s-" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Bot texts are plain text: keep line breaks, turn URLs into links, never inject HTML.
  function renderText(container, text) {
    var urlPattern = /(https?:\/\/[^\s<>"')]+|[\w.+-]+@[\w-]+\.[\w.]+)/g;
    (text || "").split("\n").forEach(function (line, index) {
      if (index > 0) container.appendChild(document.createElement("br"));
      var last = 0;
      line.replace(urlPattern, function (match, _g, offset) {
        container.appendChild(document.createTextNode(line.slice(last, offset)));
        var href = match.indexOf("@") > 0 && match.indexOf("http") !== 0 ? "mailto:" + match : match;
        var link = el("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, match);
        container.appendChild(link);
        last = offset + match.length;
        return match;
      });
      container.appendChild(document.createTextNode(line.slice(last)));
    });
  }

  function mount(options) {
    options = options || {};
    var serverUrl = options.serverUrl || window.location.origin;
    var storageKey = options.storageKey || "ofr-chat";
    var language = options.language || browserLanguage();
    var labels = LABELS[language];
    var target = options.container || document.body;

    var state = JSON.parse(localStorage.getItem(storageKey) || "null") || {
      sessionId: uuid(),
      messages: [],
      open: !!options.startOpen
    };
    function save() { localStorage.setItem(storageKey, JSON.stringify(state)); }
    // Messages sent and not yet acknowledged, and how many answers to each recent
    // message were shown (so that those sent again are not shown twice).
    state.pending = state.pending || [];
    state.replies = state.replies || {};
    save();

    var root = el("section", { class: "ofr-chat", "aria-label": labels.title });
    var toggle = el("button", { type: "button", class: "ofr-chat__toggle", "aria-expanded": "false",
                                "aria-controls": "ofr-chat-panel" }, labels.open);
    var panel = el("div", { id: "ofr-chat-panel", class: "ofr-chat__panel", hidden: "" });
    var header = el("div", { class: "ofr-chat__header" });
    header.appendChild(el("h2", { class: "ofr-chat__title" }, labels.title));
    var close = el("button", { type: "button", class: "ofr-chat__close", "aria-label": labels.close }, "×");
    header.appendChild(close);
    var log = el("div", { class: "ofr-chat__log", role: "log", "aria-live": "polite",
                          "aria-relevant": "additions", tabindex: "0" });
    var status = el("p", { class: "ofr-chat__status", role: "status" }, labels.offline);
    var form = el("form", { class: "ofr-chat__form" });
    var inputId = "ofr-chat-input";
    form.appendChild(el("label", { for: inputId, class: "ofr-chat__label" }, labels.input));
    var input = el("input", { id: inputId, type: "text", autocomplete: "off", maxlength: "2000",
                              placeholder: labels.placeholder });
    var send = el("button", { type: "submit", class: "ofr-chat__send" }, labels.send);
    form.appendChild(input);
    form.appendChild(send);
    panel.appendChild(header);
    panel.appendChild(log);
    panel.appendChild(status);
    panel.appendChild(form);
    root.appendChild(toggle);
    root.appendChild(panel);
    target.appendChild(root);

    var fieldCount = 0;

    function show(message, remember) {
      var bubble = el("div", { class: "ofr-chat__message ofr-chat__message--" + message.from });
      var sender = message.from === "user" ? labels.you : message.from === "staff" ? labels.staff : labels.bot;
      bubble.appendChild(el("span", { class: "ofr-chat__sender" }, sender));
      var body = el("div", { class: "ofr-chat__text" });
      renderText(body, message.text);
      bubble.appendChild(body);
      // A handover offer that can send the answer by e-mail: an optional field,
      // read when "Yes, pass it on" is pressed and never stored in the browser.
      var email = null;
      if (message.handoverEmail) {
        var fieldId = "ofr-chat-email-" + (++fieldCount);
        var field = el("div", { class: "ofr-chat__email" });
        field.appendChild(el("label", { for: fieldId }, labels.email));
        email = el("input", { id: fieldId, type: "email", autocomplete: "email", maxlength: "254" });
        field.appendChild(email);
        bubble.appendChild(field);
      }
      if (message.buttons && message.buttons.length) {
        var group = el("div", { class: "ofr-chat__buttons", role: "group" });
        message.buttons.forEach(function (button) {
          var b = el("button", { type: "button", class: "ofr-chat__button" }, button.title);
          b.addEventListener("click", function () {
            var extra = email && button.payload.indexOf("handover:") === 0 ? { email: email.value.trim() } : null;
            ask(button.title, button.payload, extra);
          });
          group.appendChild(b);
        });
        bubble.appendChild(group);
      }
      if (message.feedback && message.feedback.length === 2) {
        bubble.appendChild(votes(message));
      }
      log.appendChild(bubble);
      log.scrollTop = log.scrollHeight;
      if (remember) { state.messages.push(message); state.messages = state.messages.slice(-200); save(); }
    }

    // 👍 / 👎 under an answer: one tap, sent without a bubble of its own; the
    // choice stays shown (and stored, so a reload does not ask again).
    function votes(message) {
      var group = el("div", { class: "ofr-chat__votes", role: "group", "aria-label": labels.feedback });
      var names = [labels.helpful, labels.notHelpful];
      var buttons = message.feedback.map(function (button, index) {
        var b = el("button", { type: "button", class: "ofr-chat__vote", "aria-label": names[index],
                               title: names[index], "aria-pressed": String(message.voted === index) }, button.title);
        if (message.voted !== undefined) b.disabled = true;
        b.addEventListener("click", function () {
          message.voted = index;
          buttons.forEach(function (other, i) {
            other.disabled = true;
            other.setAttribute("aria-pressed", String(i === index));
          });
          save();
          emitMessage(button.payload);
        });
        group.appendChild(b);
        return b;
      });
      return group;
    }

    function setOpen(open) {
      state.open = open;
      save();
      panel.hidden = !open;
      toggle.hidden = open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open) input.focus(); else toggle.focus();
    }

    var socket = window.io(serverUrl, { path: options.socketPath || "/socket.io", transports: ["websocket", "polling"] });
    socket.on("connect", function () {
      socket.emit("session_request", { session_id: state.sessionId });
      status.textContent = "";
      // Sent before and not acknowledged: again, with the same ids.
      state.pending.slice().forEach(resend);
    });
    socket.on("disconnect", function () { status.textContent = labels.offline; });
    // Staff answers ask for an acknowledgement (ack): the server keeps them until
    // one arrives, so a chat that closed meanwhile gets them when the user is back.
    // One offered again (its ack was lost on the way) is acknowledged, not shown
    // twice: the ids of the staff answers shown are kept with the messages.
    socket.on("bot_uttered", function (data, ack) {
      if (data && data.in_reply_to !== undefined && alreadyShown(data)) return;
      if (data && data.conversation_deleted) { forgetHistory(); return; }
      if (!data || (!data.text && !data.quick_replies && !data.buttons)) return;
      var answerId = data.staff_answer ? data.answer_id : undefined;
      state.staffAnswers = state.staffAnswers || [];
      if (answerId !== undefined && state.staffAnswers.indexOf(answerId) !== -1) {
        if (typeof ack === "function") ack(true);
        return;
      }
      var buttons = (data.quick_replies || data.buttons || []).map(function (b) {
        return { title: b.title, payload: b.payload };
      });
      var message = { from: data.staff_answer ? "staff" : "bot", text: data.text || "", buttons: buttons };
      if (data.feedback) message.feedback = data.feedback.map(function (b) { return { title: b.title, payload: b.payload }; });
      if (data.handover && data.handover.email) message.handoverEmail = true;
      if (answerId !== undefined) state.staffAnswers = state.staffAnswers.concat([answerId]).slice(-200);
      show(message, true);
      if (typeof ack === "function") ack(true);
    });

    // The bot erased the conversation: the browser forgets it too (stored messages
    // and session id); what is on screen stays until the page is left.
    function forgetHistory() {
      state.messages = [];
      state.staffAnswers = [];
      state.pending = [];
      state.replies = {};
      state.sessionId = uuid();
      save();
      socket.emit("session_request", { session_id: state.sessionId });
    }

    // An answer to a message sent with an id: true when the widget showed it
    // already (the message was sent again after a dropped connection).
    function alreadyShown(data) {
      var id = String(data.in_reply_to);
      var index = typeof data.answer_index === "number" ? data.answer_index : 0;
      var shown = state.replies[id] || 0;
      if (index < shown) return true;
      delete state.replies[id];  // re-added last: the oldest are dropped first
      state.replies[id] = index + 1;
      var ids = Object.keys(state.replies);
      if (ids.length > 50) delete state.replies[ids[0]];
      save();
      return false;
    }

    function emitMessage(message, extra) {
      var metadata = { language: language };
      Object.keys(extra || {}).forEach(function (key) { metadata[key] = extra[key]; });
      var entry = { id: uuid(), message: message, metadata: metadata, sessionId: state.sessionId, tries: 0 };
      state.pending.push(entry);
      save();
      if (socket.connected) transmit(entry);
      // Not connected: sent when the connection is back ("connect" above).
    }

    function transmit(entry) {
      entry.tries += 1;
      save();
      socket.emit("user_uttered", { message: entry.message, session_id: entry.sessionId,
                                    customData: entry.metadata, message_id: entry.id,
                                    resent: entry.tries > 1 },
                  function () { acknowledged(entry.id); });
    }

    function acknowledged(id) {
      state.pending = state.pending.filter(function (entry) { return entry.id !== id; });
      save();
    }

    function resend(entry) {
      if (entry.sessionId !== state.sessionId) { acknowledged(entry.id); return; }
      if (entry.tries >= 5) {  // the server never acknowledged it: say so
        acknowledged(entry.id);
        show({ from: "bot", text: labels.notSent }, true);
        return;
      }
      transmit(entry);
    }

    function ask(text, payload, extra) {
      if (!text.trim()) return;
      show({ from: "user", text: text }, true);
      emitMessage(payload || text, extra);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value;
      input.value = "";
      ask(text);
      input.focus();
    });
    toggle.addEventListener("click", function () { setOpen(true); });
    close.addEventListener("click", function () { setOpen(false); });
    panel.addEventListener("keydown", function (event) { if (event.key === "Escape") setOpen(false); });

    show({ from: "bot", text: labels.intro }, false);
    state.messages.forEach(function (message) { show(message, false); });
    setOpen(state.open);
    return { ask: ask, open: function () { setOpen(true); } };
  }

  window.OFRChat = { mount: mount };
})();
