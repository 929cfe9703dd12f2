// Keeps a running campaign's progress box current: polls the admin's JSON feed every two
// seconds while the campaign is on its way, and reloads the page once it stops.
(function () {
  "use strict";
  const RUNNING = ["scheduled", "preparing", "sending"];

  function update(box, data) {
    for (const cell of box.querySelectorAll("[data-field]")) {
      const value = data[cell.dataset.field];
      if (value !== undefined) cell.textContent = value;
    }
    const bar = box.querySelector("progress");
    if (bar) bar.value = data.percent;
  }

  function poll(box, status) {
    fetch(box.dataset.url, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((data) => {
        update(box, data);
        if (RUNNING.includes(data.status)) {
          setTimeout(() => poll(box, data.status), 2000);
        } else if (RUNNING.includes(status)) {
          window.location.reload(); // finished, paused or cancelled: show the new buttons
        }
      })
      .catch(() => setTimeout(() => poll(box, status), 10000));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const box = document.querySelector(".campaign-progress[data-url]");
    if (box) poll(box, "sending");
  });
})();
