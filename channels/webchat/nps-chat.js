/*
 * NPS web chat: an embeddable chat window for Rasa's socketio channel.
 *
 * Put on any page (no CDN: the Socket.IO client is loaded from vendor/ next
 * to this file if the page has none):
 *
 *   <script src="https://bot.example.com/chat/nps-chat.js"
 *           data-server="https://bot.example.com"
 *           data-touchpoint="store"></script>
 *
 * Options (data-* attributes of the script tag, or window.NPS_CHAT = {...}
 * set before it; the object wins):
 *   server        Rasa's base URL (default: this page's origin)
 *   socket-path   Socket.IO path (default /socket.io/)
 *   touchpoint    sent in the start payload: /start{"touchpoint":"store"}
 *   start         start intent (default /start)
 *   employee      a signed employee link token (python -m nps.links): the
 *                 start payload is /start{"employee_link":"..."} and the
 *                 employees' survey opens; the server checks the signature
 *   title, placeholder, send-label, open-label, close-label: visible words
 *   open          "true": the window starts open
 *   container     CSS selector: render inline there instead of floating
 *   session-minutes  a session older than this starts a new survey (60)
 *   new-label     the "new conversation" button's words
 *   resend-label  shown when a message could not be stored (the server's
 *                 turn_failed event): the customer sends it again
 *
 * Everything the bot or the user wrote is inserted as text (textContent),
 * never as HTML.
 *
 * Who the chat talks as: the server issues the conversation. On connect the
 * page sends the token it holds (none the first time) in session_request;
 * session_confirm answers with the token to use, a new one whenever the old
 * one is missing or not valid. The token and the history live in
 * sessionStorage, so they survive a reload of this tab but are never shared
 * with another tab, nor with the next person on a shop's tablet once the
 * browser is closed. When the bot says the survey is over (a custom payload
 * {"survey_end": true}) nothing is kept any more, and "Nowa rozmowa" starts
 * afresh at any time.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var attrs = (script && script.dataset) || {};
  var globalCfg = window.NPS_CHAT || {};

  function opt(name, fallback) {
    var camel = name.replace(/-([a-z])/g, function (_, c) { return c.toUpperCase(); });
    if (globalCfg[camel] !== undefined && globalCfg[camel] !== null) return globalCfg[camel];
    if (attrs[camel] !== undefined) return attrs[camel];
    return fallback;
  }

  var cfg = {
    server: String(opt("server", window.location.origin)).replace(/\/+$/, ""),
    socketPath: opt("socket-path", "/socket.io/"),
    touchpoint: opt("touchpoint", ""),
    employee: opt("employee", ""),
    start: opt("start", "/start"),
    title: opt("title", "Twoja opinia"),
    placeholder: opt("placeholder", "Napisz wiadomość…"),
    sendLabel: opt("send-label", "Wyślij"),
    openLabel: opt("open-label", "Oceń nas"),
    closeLabel: opt("close-label", "Zamknij"),
    open: String(opt("open", "false")) === "true",
    container: opt("container", ""),
    newLabel: opt("new-label", "Nowa rozmowa"),
    resendLabel: opt("resend-label", "Nie udało się zapisać tej wiadomości. Wyślij ją jeszcze raz."),
    sessionMinutes: parseInt(opt("session-minutes", "60"), 10) || 60
  };
  var storageKey = "nps-chat:" + cfg.server;

  // ------------------------------------------------------------ storage
  // sessionStorage, never localStorage: see the header.
  function load() {
    try { return JSON.parse(window.sessionStorage.getItem(storageKey)) || {}; }
    catch (e) { return {}; }
  }
  function save(state) {
    try {
      if (state.ended) window.sessionStorage.removeItem(storageKey);
      else window.sessionStorage.setItem(storageKey, JSON.stringify(state));
    } catch (e) { /* private mode: the chat still works, only without memory */ }
  }
  var state = load();
  var fresh = !state.token || !state.lastActive ||
    Date.now() - state.lastActive > cfg.sessionMinutes * 60000;
  if (fresh) state = { token: null, history: [] };

  // --------------------------------------------------------------- view
  var css = [
    ".npsc{font:15px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d1d1f}",
    ".npsc-float{position:fixed;right:20px;bottom:20px;z-index:2147483000}",
    ".npsc-launch{background:#0b5cad;color:#fff;border:0;border-radius:24px;padding:12px 18px;",
    "font:inherit;cursor:pointer;box-shadow:0 2px 8px rgba(0,0,0,.25)}",
    ".npsc-box{display:flex;flex-direction:column;width:340px;max-width:calc(100vw - 40px);",
    "height:480px;max-height:calc(100vh - 40px);background:#fff;border-radius:12px;",
    "box-shadow:0 4px 24px rgba(0,0,0,.25);overflow:hidden}",
    ".npsc-inline .npsc-box{width:100%;max-width:none;box-shadow:none;border:1px solid #ddd}",
    ".npsc-head{display:flex;justify-content:space-between;align-items:center;",
    "background:#0b5cad;color:#fff;padding:10px 14px;font-weight:600}",
    ".npsc-close{background:none;border:0;color:#fff;font-size:20px;cursor:pointer}",
    ".npsc-new{background:none;border:1px solid #fff;border-radius:12px;color:#fff;",
    "font:inherit;font-size:13px;font-weight:400;padding:2px 8px;margin-left:auto;",
    "margin-right:8px;cursor:pointer}",
    ".npsc-log{flex:1;overflow-y:auto;padding:12px;background:#f5f6f8}",
    ".npsc-msg{max-width:85%;margin:6px 0;padding:8px 12px;border-radius:14px;",
    "white-space:pre-wrap;overflow-wrap:anywhere}",
    ".npsc-bot{background:#fff;border:1px solid #e3e5e8;border-bottom-left-radius:4px}",
    ".npsc-user{background:#0b5cad;color:#fff;margin-left:auto;border-bottom-right-radius:4px}",
    ".npsc-replies{display:flex;flex-wrap:wrap;gap:6px;margin:6px 0 10px}",
    ".npsc-reply{border:1px solid #0b5cad;color:#0b5cad;background:#fff;border-radius:16px;",
    "padding:5px 11px;font:inherit;cursor:pointer;min-width:36px}",
    ".npsc-reply:hover,.npsc-reply:focus{background:#0b5cad;color:#fff}",
    ".npsc-img{max-width:100%;border-radius:8px}",
    ".npsc-typing{color:#777;font-style:italic;margin:4px 0}",
    ".npsc-status{color:#a33;font-size:13px;padding:4px 12px}",
    ".npsc-form{display:flex;border-top:1px solid #e3e5e8}",
    ".npsc-input{flex:1;border:0;padding:12px;font:inherit;outline:none}",
    ".npsc-send{border:0;background:#0b5cad;color:#fff;padding:0 16px;font:inherit;cursor:pointer}"
  ].join("");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var style = el("style");
  style.textContent = css;
  document.head.appendChild(style);

  var root = el("div", "npsc");
  var inlineHost = cfg.container ? document.querySelector(cfg.container) : null;
  root.className += inlineHost ? " npsc-inline" : " npsc-float";
  var launcher = el("button", "npsc-launch", cfg.openLabel);
  launcher.type = "button";
  var box = el("div", "npsc-box");
  box.setAttribute("role", "dialog");
  box.setAttribute("aria-label", cfg.title);
  var head = el("div", "npsc-head");
  head.appendChild(el("span", "", cfg.title));
  var newBtn = el("button", "npsc-new", cfg.newLabel);
  newBtn.type = "button";
  head.appendChild(newBtn);
  var closeBtn = el("button", "npsc-close", "×");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", cfg.closeLabel);
  head.appendChild(closeBtn);
  var log = el("div", "npsc-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  var status = el("div", "npsc-status");
  status.hidden = true;
  var form = el("form", "npsc-form");
  var input = el("input", "npsc-input");
  input.type = "text";
  input.maxLength = 2000;
  input.placeholder = cfg.placeholder;
  input.setAttribute("aria-label", cfg.placeholder);
  var send = el("button", "npsc-send", cfg.sendLabel);
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  box.appendChild(head);
  box.appendChild(log);
  box.appendChild(status);
  box.appendChild(form);
  root.appendChild(launcher);
  root.appendChild(box);
  (inlineHost || document.body).appendChild(root);

  function setOpen(open) {
    box.hidden = !open;
    launcher.hidden = open || !!inlineHost;
    closeBtn.hidden = !!inlineHost;
    if (open) { ensureConnected(); input.focus(); }
  }
  launcher.addEventListener("click", function () { setOpen(true); });
  closeBtn.addEventListener("click", function () { setOpen(false); });

  var typing = null;
  function showTyping(on) {
    if (on && !typing) {
      typing = el("div", "npsc-typing", "…");
      log.appendChild(typing);
    } else if (!on && typing) {
      typing.remove();
      typing = null;
    }
    log.scrollTop = log.scrollHeight;
  }

  function appendText(parent, text) {
    // URLs become links; everything else stays plain text.
    var parts = String(text).split(/(https?:\/\/[^\s<>"]+)/g);
    for (var i = 0; i < parts.length; i++) {
      if (!parts[i]) continue;
      if (i % 2 === 1) {
        var a = el("a", "", parts[i]);
        a.href = parts[i];
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        parent.appendChild(a);
      } else {
        parent.appendChild(document.createTextNode(parts[i]));
      }
    }
  }

  function removeReplies() {
    var rows = log.querySelectorAll(".npsc-replies");
    for (var i = 0; i < rows.length; i++) rows[i].remove();
  }

  function render(item) {
    if (item.from === "user") {
      log.appendChild(el("div", "npsc-msg npsc-user", item.text));
    } else if (item.image) {
      var img = el("img", "npsc-img");
      img.src = item.image;
      img.alt = "";
      var holder = el("div", "npsc-msg npsc-bot");
      holder.appendChild(img);
      log.appendChild(holder);
    } else if (item.text) {
      var bubble = el("div", "npsc-msg npsc-bot");
      appendText(bubble, item.text);
      log.appendChild(bubble);
    }
    if (item.replies && item.replies.length && !item.answered) {
      var row = el("div", "npsc-replies");
      item.replies.forEach(function (reply) {
        var b = el("button", "npsc-reply", reply.title);
        b.type = "button";
        b.addEventListener("click", function () {
          item.answered = true;
          userSays(reply.title, reply.payload);
        });
        row.appendChild(b);
      });
      log.appendChild(row);
    }
    log.scrollTop = log.scrollHeight;
  }

  function remember(item) {
    state.history.push(item);
    if (state.history.length > 100) state.history.shift();
    state.lastActive = Date.now();
    save(state);
  }

  // ------------------------------------------------------------ network
  var socket = null;
  var queue = [];  // messages typed before the session was confirmed

  function emit(payload) {
    if (socket && socket.connected && state.token) {
      // The server knows this socket's conversation; session_id is sent
      // for Rasa's protocol only.
      socket.emit("user_uttered", {
        message: payload,
        session_id: state.token,
        metadata: cfg.touchpoint ? { touchpoint: String(cfg.touchpoint) } : {}
      });
      showTyping(true);
    } else {
      queue.push(payload);
      ensureConnected();
    }
  }

  function userSays(title, payload) {
    removeReplies();
    var item = { from: "user", text: title };
    render(item);
    remember(item);
    emit(payload === undefined ? title : payload);
  }

  function startPayload() {
    if (cfg.employee) return cfg.start + JSON.stringify({ employee_link: String(cfg.employee) });
    if (!cfg.touchpoint) return cfg.start;
    return cfg.start + JSON.stringify({ touchpoint: String(cfg.touchpoint) });
  }

  function onBotMessage(data) {
    showTyping(false);
    if (status.textContent === cfg.resendLabel) showStatus("");
    if (!data) return;
    if (data.custom && data.custom.survey_end) {
      // The survey is over: forget it (this view still shows it until
      // closed or "Nowa rozmowa"; a reload starts afresh).
      state.ended = true;
      state.history = [];
      save(state);
      return;
    }
    var item = { from: "bot" };
    if (data.text) item.text = String(data.text);
    if (data.attachment && data.attachment.type === "image" && data.attachment.payload) {
      item.image = String(data.attachment.payload.src || "");
    }
    var replies = data.quick_replies || data.buttons;
    if (replies && replies.length) {
      item.replies = replies.map(function (r) {
        return { title: String(r.title), payload: String(r.payload) };
      });
    }
    state.history.forEach(function (h) { if (h.replies) h.answered = true; });
    removeReplies();
    render(item);
    remember(item);
  }

  function ensureConnected() {
    if (socket) return;
    if (!window.io) {
      // No Socket.IO client on the page: load ours, from next to this file.
      var src = script && script.src ? script.src.replace(/[^\/]*$/, "") : "";
      var tag = document.createElement("script");
      tag.src = src + "vendor/socket.io.min.js";
      tag.onload = ensureConnected;
      tag.onerror = function () { showStatus("Nie udało się załadować czatu."); };
      if (!document.querySelector('script[data-npsc-io]')) {
        tag.setAttribute("data-npsc-io", "1");
        document.head.appendChild(tag);
      }
      return;
    }
    // WebSocket first, long polling as the fallback (needs `rasa run --cors`).
    // Either way the bot accepts only the pages in NPS_WEBCHAT_ORIGINS.
    socket = window.io(cfg.server, { path: cfg.socketPath, transports: ["websocket", "polling"] });
    socket.on("connect", function () {
      showStatus("");
      socket.emit("session_request", { session_id: state.token });
    });
    socket.on("session_confirm", function (token) {
      var isNew = state.token !== token;
      if (isNew && state.token) {
        // The server did not take our token (expired key, say): what is
        // shown belongs to a conversation we can no longer continue.
        clearView();
        state.history = [];
        queue = [];
      }
      state.token = token;
      state.lastActive = Date.now();
      save(state);
      if (isNew && state.history.length === 0 && queue.length === 0) queue.push(startPayload());
      var pending = queue;
      queue = [];
      pending.forEach(emit);
    });
    socket.on("bot_uttered", onBotMessage);
    // The bot could not store the last message (nothing of it was answered):
    // say so, the customer sends it again.
    socket.on("turn_failed", function () {
      showTyping(false);
      showStatus(cfg.resendLabel);
    });
    socket.on("connect_error", function () { showStatus("Łączenie…"); });
    socket.on("disconnect", function () { showStatus("Połączenie przerwane, łączę ponownie…"); });
  }

  function clearView() {
    while (log.firstChild) log.removeChild(log.firstChild);
    typing = null;
  }

  function newConversation() {
    state = { token: null, history: [] };
    save(state);
    clearView();
    queue = [];
    if (socket && socket.connected) socket.emit("session_request", { session_id: null });
    else ensureConnected();
  }
  newBtn.addEventListener("click", newConversation);

  function showStatus(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    userSays(text);
  });

  state.history.forEach(render);
  // Connects only when opened: no socket for every page view of a busy site.
  setOpen(cfg.open || !!inlineHost);
  window.NPS_CHAT_API = {
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    newConversation: newConversation
  };
})();
