// The « depuis N s » tags of the consoles (listener console, national support): a tag
// carries the seconds the server had counted when it rendered it (data-depuis-secondes) and
// counts on from there every second, from the moment it was first seen here, in the server's
// format. A tag put in place anew (a re-rendered panel) starts from its own value; a page
// stops a tag by removing its data-depuis-secondes (the call ended). Shared by the pages
// that show such a tag (a second deferred script: the Content-Security-Policy allows only
// scripts from /static, none inline).
"use strict";
(function () {
  // « 45 s », « 3 min 05 s », « 1 h 02 min »: as ivr.web.formatting.duration.
  function duration(seconds) {
    const total = Math.max(0, Math.floor(seconds));
    if (total < 60) return total + " s";
    const minutes = Math.floor(total / 60), secs = total % 60;
    if (minutes < 60) return minutes + " min " + String(secs).padStart(2, "0") + " s";
    return Math.floor(minutes / 60) + " h " + String(minutes % 60).padStart(2, "0") + " min";
  }
  const seen = new WeakMap();
  function tick() {
    for (const tag of document.querySelectorAll("[data-depuis-secondes]")) {
      const given = Number(tag.dataset.depuisSecondes);
      if (tag.dataset.depuisSecondes === "" || !Number.isFinite(given)) continue;
      if (!seen.has(tag)) seen.set(tag, performance.now());
      const more = Math.floor((performance.now() - seen.get(tag)) / 1000);
      tag.textContent = "depuis " + duration(given + more);
    }
  }
  tick();
  setInterval(tick, 1000);
})();
