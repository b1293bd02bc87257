// Live parts of the console: an element with data-live="URL" is refreshed from URL (an HTML
// fragment) every data-interval milliseconds (default 1000); nothing else runs here.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const element of document.querySelectorAll("[data-live]")) {
    const every = Number(element.dataset.interval || 1000);
    let last = element.innerHTML;
    const refresh = async () => {
      try {
        const response = await fetch(element.dataset.live, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}});
        if (response.redirected || !response.ok) return;  // signed out or server busy: keep what is shown
        const html = await response.text();
        if (html !== last) {
          // keep the keyboard where it was: refocus the control with the same id after the swap
          const focused = element.contains(document.activeElement) ? document.activeElement.id : "";
          element.innerHTML = html;
          if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
          last = html;
          element.dispatchEvent(new CustomEvent("live-updated", {bubbles: true}));
        }
      } catch (error) {
        // the server restarts or the network drops: try again on the next tick
      } finally {
        setTimeout(refresh, every);
      }
    };
    setTimeout(refresh, every);
  }
});
