// Keeps a running campaign's progress box current: polls the admin's JSON feed every two
// seconds while the campaign is on its way, and reloads the page once when it stops (to show
// the buttons of its new status). The status the page was rendered with is the box's
// data-status: a campaign that is not running is never polled and never reloaded.
(function () {
  "use strict";
  const RUNNING = ["scheduled", "preparing", "sending"];
  const EVERY_MS = 2000;
  const AFTER_ERROR_MS = 10000;

  function update(box, data) {
    for (const cell of box.querySelectorAll("[data-field]")) {
      const value = data[cell.dataset.field];
      if (value !== undefined) cell.textContent = value;
    }
    const bar = box.querySelector("progress");
    if (bar) bar.value = data.percent;
  }

  function poll(box) {
    fetch(box.dataset.url, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((data) => {
        update(box, data);
        if (RUNNING.includes(data.status)) {
          setTimeout(() => poll(box), EVERY_MS);
        } else {
          window.location.reload(); // finished, paused or cancelled: show the new buttons
        }
      })
      .catch(() => setTimeout(() => poll(box), AFTER_ERROR_MS));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const box = document.querySelector(".campaign-progress[data-url][data-status]");
    if (box && RUNNING.includes(box.dataset.status)) setTimeout(() => poll(box), EVERY_MS);
  });
})();
