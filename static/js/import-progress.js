// An import job's page (templates/admin/leads/import_job.html): while the job is queued or
// running, fetch the page again every two seconds and copy its refreshed parts in place, so the
// status line (role="status") is announced only when it changes and focus stays where it is.
(function () {
  "use strict";
  var section = document.getElementById("import-job");
  if (!section || section.dataset.active !== "true") {
    return;
  }
  function poll() {
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var freshSection = fresh.getElementById("import-job");
        if (!freshSection) {
          return;
        }
        section.querySelectorAll("[data-refresh]").forEach(function (part) {
          var update = fresh.getElementById(part.id);
          if (update && update.innerHTML !== part.innerHTML) {
            part.innerHTML = update.innerHTML;
          }
        });
        if (freshSection.dataset.active === "true") {
          window.setTimeout(poll, 2000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000); // a restart or a lost connection: keep trying, more slowly
      });
  }
  window.setTimeout(poll, 2000);
})();
