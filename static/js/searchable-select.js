// Long selects (countries, citizenships, time zones) become searchable with Tom Select.
// Without JavaScript they stay plain <select>s that work as they are.
(function () {
  "use strict";
  function enhance(select) {
    if (typeof TomSelect === "undefined" || select.tomselect) return;
    var multiple = select.multiple;
    var control = new TomSelect(select, {
      plugins: multiple ? ["remove_button"] : [],
      maxOptions: null,
      refreshThrottle: 0,  // local options: filter on every key, so Enter picks what is shown
      create: false,
      allowEmptyOption: !multiple,
      closeAfterSelect: !multiple,
      hidePlaceholder: multiple,
      placeholder: multiple ? select.dataset.placeholder : undefined,  // in the page's language (the form sets it)
      // After each pick the search starts afresh, ready for the next country.
      onItemAdd: multiple ? function () { this.setTextboxValue(""); this.refreshOptions(false); } : undefined
    });
    // The search box is now the control people use (the label points at it); the original
    // select stays only to carry the value with the form, hidden from assistive technology too.
    select.setAttribute("aria-hidden", "true");
    var described = select.getAttribute("aria-describedby");
    if (described) control.control_input.setAttribute("aria-describedby", described);
    var help = document.getElementById(select.id + "_helptext");
    if (help && select.dataset.jsHelp) help.textContent = select.dataset.jsHelp;
  }
  function start() {
    document.querySelectorAll("select[data-searchable]").forEach(enhance);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
