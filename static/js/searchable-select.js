// Long selects (countries, citizenships, time zones) become searchable with Tom Select.
// Without JavaScript they stay plain <select>s that work as they are.
(function () {
  "use strict";
  function enhance(select) {
    if (typeof TomSelect === "undefined" || select.tomselect) return;
    var multiple = select.multiple;
    new TomSelect(select, {
      plugins: multiple ? ["remove_button"] : [],
      maxOptions: null,
      create: false,
      allowEmptyOption: !multiple,
      closeAfterSelect: !multiple,
      hidePlaceholder: multiple,
      placeholder: multiple ? "Type to search" : undefined
    });
    var help = document.getElementById(select.id + "_helptext");
    if (help && select.dataset.jsHelp) help.textContent = select.dataset.jsHelp;
  }
  function start() {
    document.querySelectorAll("select[data-searchable]").forEach(enhance);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
