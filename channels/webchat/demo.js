/*
 * Local demo only (index.html): lets ?server=...&touchpoint=... choose the
 * Rasa server and the touchpoint, then loads the widget. A company's own page
 * does not need this file: it sets data-server / data-touchpoint on the
 * <script src="nps-chat.js"> tag. (The widget itself never reads the URL, so
 * a crafted link cannot point a company's chat at someone else's server.)
 */
(function () {
  "use strict";
  var query = new URLSearchParams(window.location.search);
  window.NPS_CHAT = {
    server: query.get("server") || "http://127.0.0.1:5005",
    touchpoint: query.get("touchpoint") || "store",
    open: query.get("open") || "true"
  };
  var tag = document.createElement("script");
  tag.src = "nps-chat.js";
  document.body.appendChild(tag);
})();
