/*
 * Local demo only (index.html): lets ?server=...&touchpoint=...&employee=... choose the
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
    // A staff member's link (python -m nps.links employee --store S) opens
    // the employees' survey; the bot checks the link's signature.
    employee: query.get("employee") || "",
    open: query.get("open") || "true"
  };
  var tag = document.createElement("script");
  tag.src = "nps-chat.js";
  document.body.appendChild(tag);
})();
