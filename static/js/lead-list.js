// The lead list: "select every lead on this page" ticks (and unticks) every row's box.
// Delegated from the document, once, so it works after htmx swaps the page in.
(function () {
  if (window.relocateLeadList) return;
  window.relocateLeadList = true;
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (!all) return;
    var form = all.closest("form");
    if (!form) return;
    form.querySelectorAll('input[type="checkbox"][name="' + all.dataset.selectAll + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });
})();
