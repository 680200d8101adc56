// desk.js: the support desk's live updates, without a framework. The
// server renders every state; this only swaps in what changed: drafts
// pushed over server-sent events, and "Draft unavailable" once a ticket's
// draft timeout passes.
(function () {
  "use strict";
  var panel = document.getElementById("draft-panel");
  var reply = document.getElementById("reply");
  var draftID = document.getElementById("draft-event-id");
  // The agent's own words are never overwritten by a draft.
  var typed = false;
  if (reply) {
    reply.addEventListener("input", function () { typed = true; });
  }

  function useDraft(text, id) {
    if (!reply) { return; }
    reply.value = text;
    draftID.value = id;
    typed = false;
  }

  function setStatus(id, state, label) {
    document.querySelectorAll("[data-status-for]").forEach(function (el) {
      if (el.dataset.statusFor === id) {
        el.dataset.state = state;
        el.textContent = label;
      }
    });
  }

  // A ticket still drafting when its timeout passes shows the timeout
  // notice the server rendered into #tpl-timed-out.
  document.querySelectorAll("[data-remaining-ms]").forEach(function (el) {
    setTimeout(function () {
      if (el.dataset.state !== "drafting") { return; }
      if (el === panel) {
        panel.replaceChildren(document.getElementById("tpl-timed-out").content.cloneNode(true));
        panel.dataset.state = "timed_out";
        setStatus(panel.dataset.ticket, "timed_out", "Draft unavailable");
      } else {
        el.dataset.state = "timed_out";
        el.textContent = "Draft unavailable";
      }
    }, Math.max(0, Number(el.dataset.remainingMs)));
  });

  var triageBox = document.getElementById("triage-box");

  function apply(u) {
    // The triage comes before or after the draft: shown on its own.
    if (u.triage && triageBox && triageBox.dataset.ticket === u.ticket_id && triageBox.innerHTML !== u.triage) {
      triageBox.innerHTML = u.triage;
    }
    if (u.state === "drafting") { return; } // the page knows that already
    setStatus(u.ticket_id, u.status, u.label);
    if (!panel || panel.dataset.ticket !== u.ticket_id || !u.panel) { return; }
    if (panel.dataset.state === u.state) { return; }
    panel.innerHTML = u.panel;
    panel.dataset.state = u.state;
    if (u.state === "ready" && reply && !typed && reply.value === "") {
      useDraft(u.draft, u.draft_event_id);
    }
  }

  var events = document.body.dataset.events;
  if (events && window.EventSource) {
    new EventSource(events).addEventListener("ticket", function (e) { apply(JSON.parse(e.data)); });
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-use-draft]");
    if (!button || !reply) { return; }
    useDraft(document.getElementById("draft-text").textContent, button.dataset.useDraft);
    reply.focus();
  });
})();
