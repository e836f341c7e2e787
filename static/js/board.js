// The board (templates/leads/board.html). A card moves to another column by drag and drop
// (SortableJS) or by its "Move to" select and button, in place: the card moves at once, the
// move is posted to leads:board_move, and the counts change when it is done. A move the
// pipeline refuses for want of a reason (backwards, reopening, closing) asks for it in a modal
// and tries again; any other refusal, or Cancel, puts the card back where it was. "More" loads
// a column's next page in place; the closed columns collapse. Without JavaScript the cards'
// forms post to the lead's move page and "More" opens the list.
(function () {
  "use strict";
  // Django's JavaScript catalogue (/jsi18n/, loaded before this file) translates; without it
  // the English stands.
  var gettext = window.gettext || function (text) { return text; };
  var fmt = window.interpolate || function (text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  };
  var board = document.getElementById("board");
  // A boosted visit (htmx) runs this again for a new board; never twice for the same one. A
  // property, not an attribute: htmx's history snapshot (Back) keeps attributes, not listeners.
  if (!board || board.boardReady) return;
  board.boardReady = true;
  var statusBox = document.getElementById("board-status");
  var alertBox = document.getElementById("board-alert");
  var modalEl = document.getElementById("board-move-modal");
  var form = document.getElementById("board-move-form");
  var field = {
    title: document.getElementById("board-move-title"),
    intro: document.getElementById("board-move-intro"),
    error: document.getElementById("board-move-error"),
    closedGroup: document.getElementById("board-move-closed-group"),
    closed: document.getElementById("board-move-closed"),
    reasonGroup: document.getElementById("board-move-reason-group"),
    reasonLabel: document.getElementById("board-move-reason-label"),
    reason: document.getElementById("board-move-reason"),
    submit: document.getElementById("board-move-submit")
  };
  var STORE = "relocate.board.open-closed-columns";
  if (!window.relocateBoardHistory) {
    // Sortable and Bootstrap style elements from script (allowed); htmx's snapshot for Back
    // would keep those as style="" attributes, which the CSP refuses when it is put back.
    window.relocateBoardHistory = true;
    document.addEventListener("htmx:beforeHistorySave", function () {
      if (!document.getElementById("board")) return;
      document.body.querySelectorAll("[style]").forEach(function (el) { el.removeAttribute("style"); });
    });
  }
  var asking = null; // the move the modal asks a reason for
  var asked = null; // what the pipeline said it needs: "reason_required" or "closed_reason_required"

  // --- Small helpers ------------------------------------------------------------------------
  function column(stage) {
    return board.querySelector('.board-column[data-stage="' + stage + '"]');
  }
  function listOf(col) {
    return col.querySelector(".board-list");
  }
  function cardName(card) {
    return card.querySelector(".board-card-name").textContent;
  }
  function columnLabel(col) {
    return col.querySelector("h2").textContent;
  }
  function announce(text) {
    // Emptied first, so the same words twice are announced twice.
    statusBox.textContent = "";
    window.setTimeout(function () { statusBox.textContent = text; }, 50);
  }
  function showAlert(text) {
    alertBox.textContent = text;
    alertBox.classList.toggle("d-none", !text);
  }
  function csrfToken() {
    // The token htmx sends (layout.html), else the one in any card's form.
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      if (headers["X-CSRFToken"]) return headers["X-CSRFToken"];
    } catch (e) { /* fall through */ }
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function addToCount(col, delta) {
    var count = col.querySelector(".board-count");
    if (count.dataset.capped) return; // "1,000+" stays what it says
    var value = parseInt(count.dataset.count, 10) + delta;
    count.dataset.count = String(value);
    count.textContent = value.toLocaleString("en");
  }

  // Newest first, as the server orders a column: by created time, then id.
  function isNewer(a, b) {
    if (a.dataset.created !== b.dataset.created) return a.dataset.created > b.dataset.created;
    return parseInt(a.dataset.lead, 10) > parseInt(b.dataset.lead, 10);
  }
  // Put a card where it belongs in a column; focus, if it was in the card, stays in it.
  function place(card, col) {
    var focused = card.contains(document.activeElement) ? document.activeElement : null;
    var list = listOf(col);
    var before = null;
    var cards = list.querySelectorAll(".board-card");
    for (var i = 0; i < cards.length; i++) {
      if (cards[i] !== card && isNewer(card, cards[i])) { before = cards[i]; break; }
    }
    if (card.parentNode !== list || card.nextElementSibling !== before) list.insertBefore(card, before);
    if (focused && document.activeElement !== focused) focused.focus();
  }

  // --- Closed columns: collapsed unless opened (remembered in this browser) -------------------
  function openStages() {
    try { return JSON.parse(window.localStorage.getItem(STORE) || "[]"); } catch (e) { return []; }
  }
  function setCollapsed(col, collapsed, remember) {
    var toggle = col.querySelector(".board-toggle");
    col.classList.toggle("is-collapsed", collapsed);
    toggle.setAttribute("aria-expanded", String(!collapsed));
    toggle.firstChild.textContent = collapsed ? gettext("Show") : gettext("Hide");
    if (!remember) return;
    var stages = openStages().filter(function (s) { return s !== col.dataset.stage; });
    if (!collapsed) stages.push(col.dataset.stage);
    try { window.localStorage.setItem(STORE, JSON.stringify(stages)); } catch (e) { /* private mode */ }
  }
  var open = openStages();
  board.querySelectorAll(".board-column.is-closed").forEach(function (col) {
    col.querySelector(".board-toggle").hidden = false;
    setCollapsed(col, open.indexOf(col.dataset.stage) === -1, false);
  });

  // --- Moves --------------------------------------------------------------------------------
  function post(move, extra) {
    var body = new URLSearchParams();
    body.set("to_stage", move.to.dataset.stage);
    Object.keys(extra || {}).forEach(function (key) { body.set(key, extra[key]); });
    return fetch(move.card.querySelector("form.board-move").dataset.url, {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) {
        // A 404 page, a CSRF failure, a login page after the session ended: not a JSON answer.
        var text = response.status === 404 ? gettext("This lead is no longer there; reload the board.")
          : fmt(gettext("The move did not go through (%(status)s). Reload the page and try again."),
                { status: response.status }, true);
        return { ok: false, data: { error: text, code: "http_" + response.status } };
      }
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }, function () {
      return { ok: false, data: { error: gettext("The server could not be reached; the card is back where it was."),
                                  code: "network" } };
    });
  }

  function start(card, from, to, byKeyboard) {
    if (card.classList.contains("board-card-busy") || asking) {
      place(card, from); // one move at a time per card, and none while the modal asks
      return;
    }
    var move = { card: card, from: from, to: to, byKeyboard: byKeyboard };
    if (byKeyboard && to.classList.contains("is-collapsed")) setCollapsed(to, false, false);
    place(card, to);
    showAlert("");
    send(move, {});
  }

  function send(move, extra) {
    move.card.classList.add("board-card-busy");
    move.card.setAttribute("aria-busy", "true");
    return post(move, extra).then(function (result) {
      move.card.classList.remove("board-card-busy");
      move.card.removeAttribute("aria-busy");
      var code = result.data.code;
      if (result.ok) {
        done(move, result.data);
      } else if (code === "reason_required" || code === "closed_reason_required" ||
                 (asking === move && code === "closed_reason_invalid")) {
        ask(move, result.data);
      } else if (asking === move) {
        showModalError(result.data.error || gettext("The move was refused."));
      } else {
        undo(move, result.data.error || gettext("The move was refused."));
      }
    });
  }

  function done(move, data) {
    var select = move.card.querySelector("select[name=to_stage]");
    var hadFocus = document.activeElement === select;
    select.innerHTML = data.options; // the server's <option>s for the new stage, next milestone first
    if (hadFocus) select.focus();
    addToCount(move.from, -1);
    addToCount(move.to, 1);
    if (asking === move) {
      asking = null;
      bootstrap.Modal.getOrCreateInstance(modalEl).hide();
    }
    announce(data.message);
  }

  function undo(move, message) {
    place(move.card, move.from);
    if (message) {
      showAlert(message);
      announce(message);
    }
    if (move.byKeyboard) move.card.querySelector("select[name=to_stage]").focus();
  }

  // --- The modal that asks for a reason -------------------------------------------------------
  function ask(move, data) {
    var first = asking !== move;
    asking = move;
    asked = data.code === "reason_required" ? "reason_required" : "closed_reason_required";
    var closing = asked === "closed_reason_required";
    field.title.textContent = fmt(gettext("Move %(name)s to %(stage)s"),
      { name: cardName(move.card), stage: data.to_stage_label || columnLabel(move.to) }, true);
    field.closedGroup.classList.toggle("d-none", !closing);
    field.reason.required = !closing;
    field.reasonLabel.textContent = closing ? gettext("Note (optional)") : gettext("Reason");
    if (closing) {
      var reasons = data.closed_reasons || [];
      field.closed.replaceChildren(new Option(gettext("Choose a reason"), ""));
      reasons.forEach(function (r) { field.closed.add(new Option(r.label, String(r.id))); });
      field.closed.required = true;
      field.submit.disabled = reasons.length === 0;
      if (!reasons.length) {
        data.error = fmt(gettext("There is no closed reason for %(stage)s yet; an employer admin adds them in the admin (Closed reasons)."),
          { stage: data.to_stage_label.toLowerCase() }, true);
      }
    } else {
      field.closed.required = false;
      field.submit.disabled = false;
    }
    if (first) {
      field.focusCard = move.card;
      field.reason.value = "";
      field.intro.textContent = data.error;
      showModalError("");
      showModal();
    } else {
      showModalError(data.error);
    }
  }

  function showModalError(text) {
    field.error.textContent = text;
    field.error.classList.toggle("d-none", !text);
  }

  modalEl.addEventListener("shown.bs.modal", function () {
    (asked === "closed_reason_required" ? field.closed : field.reason).focus();
  });
  // Bootstrap ignores show() while the modal is still fading out: a move refused just after
  // the last one was done waits for the fade to end.
  var hiding = null; // { move: the move the modal asked for when it began to close, or null }
  var showQueued = false;
  function showModal() {
    if (hiding) showQueued = true;
    else bootstrap.Modal.getOrCreateInstance(modalEl).show();
  }
  modalEl.addEventListener("hide.bs.modal", function () {
    hiding = { move: asking };
  });
  modalEl.addEventListener("hidden.bs.modal", function () {
    var cancelled = hiding && hiding.move;
    var card = field.focusCard;
    hiding = null;
    if (cancelled && asking === cancelled) { // closed without moving: Cancel, Escape, the close button
      asking = null;
      undo(cancelled, "");
      announce(fmt(gettext("Move cancelled: %(name)s stays in %(stage)s."),
        { name: cardName(cancelled.card), stage: columnLabel(cancelled.from) }, true));
    }
    if (showQueued) {
      showQueued = false;
      if (asking) { bootstrap.Modal.getOrCreateInstance(modalEl).show(); return; }
    }
    // Back to the card, wherever it now is, rather than to the top of the page.
    if (card && document.body.contains(card)) card.querySelector("select[name=to_stage]").focus();
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!asking || field.submit.disabled) return;
    var reason = field.reason.value.trim();
    if (asked === "reason_required" && !reason) {
      showModalError(gettext("Write why the lead moves."));
      field.reason.focus();
      return;
    }
    if (asked === "closed_reason_required" && !field.closed.value) {
      showModalError(gettext("Choose why the lead is closed."));
      field.closed.focus();
      return;
    }
    var move = asking;
    var extra = { reason: reason };
    if (asked === "closed_reason_required") extra.closed_reason = field.closed.value;
    field.submit.disabled = true;
    send(move, extra).then(function () {
      if (asking === move) field.submit.disabled = asked === "closed_reason_required" && field.closed.options.length <= 1;
    });
  });

  // --- The cards' own controls: "Move to" and "More" -----------------------------------------
  board.addEventListener("submit", function (event) {
    var moveForm = event.target.closest("form.board-move");
    if (!moveForm) return;
    event.preventDefault();
    var card = moveForm.closest(".board-card");
    var from = card.closest(".board-column");
    var to = column(moveForm.elements.to_stage.value);
    if (to && to !== from) start(card, from, to, true);
  });

  board.addEventListener("click", function (event) {
    var toggle = event.target.closest(".board-toggle");
    if (toggle) {
      var col = toggle.closest(".board-column");
      setCollapsed(col, !col.classList.contains("is-collapsed"), true);
      return;
    }
    var more = event.target.closest(".board-more");
    if (more) {
      event.preventDefault();
      loadMore(more);
    }
  });

  function loadMore(link) {
    if (link.getAttribute("aria-disabled") === "true") return;
    var col = link.closest(".board-column");
    link.setAttribute("aria-disabled", "true");
    link.classList.add("disabled");
    fetch(link.dataset.url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        var fragment = document.createElement("template");
        fragment.innerHTML = html;
        var added = [];
        fragment.content.querySelectorAll(".board-card").forEach(function (card) {
          // A card moved into this column since the page loaded may come again: keep the one shown.
          if (board.querySelector('.board-card[data-lead="' + card.dataset.lead + '"]')) return;
          place(card, col);
          added.push(card);
        });
        var next = fragment.content.querySelector(".board-more");
        if (next) link.replaceWith(next); else link.remove();
        if (added.length) added[0].querySelector(".board-card-name").focus();
        else if (next) next.focus();
        announce(added.length + " more leads in " + columnLabel(col) + ".");
      })
      .catch(function () {
        link.removeAttribute("aria-disabled");
        link.classList.remove("disabled");
        showAlert(gettext("More leads could not be loaded; try again."));
      });
  }

  // --- Drag and drop ------------------------------------------------------------------------
  if (typeof Sortable === "undefined") return; // the controls on the cards still work
  board.querySelectorAll(".board-list").forEach(function (list) {
    Sortable.create(list, {
      group: "board",
      sort: false, // a column's order is the date order, not a hand-made one
      draggable: ".board-card",
      filter: "select, button, input, option",
      preventOnFilter: false, // the select and the button keep working
      delay: 200,
      delayOnTouchOnly: true, // on a touch screen a short touch scrolls
      animation: 120,
      ghostClass: "board-card-ghost",
      chosenClass: "board-card-chosen",
      onAdd: function (event) {
        start(event.item, event.from.closest(".board-column"), event.to.closest(".board-column"), false);
      }
    });
  });
})();
