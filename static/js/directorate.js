// Small behaviours shared by every page. Pages work without this file.
//
// Keyboard shortcuts (listed in the help overlay, opened with "?"):
//   j / k    move the selection down / up the rows of a list (the review queue, the ticket list)
//   Enter    open the selected row (the selected row's link has the focus)
//   a        on a ticket under review: the approve credits field (adjust, then Enter approves)
//   e        the escalate note (Enter escalates)
//   s        the send-back note (Enter sends back)
//   n        the next ticket in my review queue
//   ?        this help; Esc closes it
//   Esc      also dismisses a refusal shown at the top of the page
// Shortcuts never fire while typing in a field, or with Ctrl, Alt or Meta held.
(function () {
  "use strict";

  function typing(target) {
    if (!target || !target.closest) return false;
    return !!target.closest("input, textarea, select, [contenteditable]:not([contenteditable=false])");
  }

  // The list the j/k keys walk: the first marked list on the page that has rows.
  function keyboardRows() {
    const lists = document.querySelectorAll("[data-keyboard-list]");
    for (const list of lists) {
      const rows = [...list.querySelectorAll("tbody tr")].filter((row) => row.querySelector("a[href]"));
      if (rows.length) return rows;
    }
    return [];
  }

  function select(step) {
    const rows = keyboardRows();
    if (!rows.length) return false;
    let index = rows.findIndex((row) => row.classList.contains("is-selected"));
    if (index === -1) {
      const focused = rows.findIndex((row) => row.contains(document.activeElement));
      index = focused;
    }
    const next = index === -1 ? (step > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, index + step));
    rows.forEach((row) => {
      row.classList.remove("is-selected");
      row.removeAttribute("aria-current");
    });
    const row = rows[next];
    row.classList.add("is-selected");
    row.setAttribute("aria-current", "true");
    const link = row.querySelector("a[href]");
    link.focus();
    row.scrollIntoView({ block: "nearest" });
    return true;
  }

  function focusField(id) {
    const field = document.getElementById(id);
    if (!field) return false;
    field.focus({ preventScroll: true });
    field.scrollIntoView({ block: "center", behavior: "instant" });
    if (field.select) field.select();
    return true;
  }

  // The next ticket in my review queue: the first one listed that is not the ticket on screen.
  function nextInQueue() {
    const queueUrl = document.body.dataset.queueUrl;
    if (!queueUrl) return false;
    const here = window.location.pathname;
    const busy = document.getElementById("queue-busy");
    if (busy) busy.hidden = false;
    fetch(queueUrl, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        const doc = new DOMParser().parseFromString(html, "text/html");
        const links = [...doc.querySelectorAll("#ticket-results tbody a[href]")]
          .map((a) => a.getAttribute("href"))
          .filter((href) => href && href.startsWith("/") && new URL(href, window.location.origin).pathname !== here);
        window.location.assign(links.length ? links[0] : queueUrl);
      })
      .catch(() => window.location.assign(queueUrl));
    return true;
  }

  let returnFocusTo = null;

  function openHelp() {
    const help = document.getElementById("shortcuts");
    if (!help || help.open || typeof help.showModal !== "function") return false;
    returnFocusTo = document.activeElement;
    help.showModal();
    return true;
  }

  function setUpHelp() {
    const help = document.getElementById("shortcuts");
    if (!help) return;
    help.addEventListener("close", () => {
      const target = returnFocusTo && document.contains(returnFocusTo) ? returnFocusTo : document.getElementById("main");
      returnFocusTo = null;
      if (target) target.focus();
    });
    // A click on the backdrop (outside the box) closes it too.
    help.addEventListener("click", (event) => {
      if (event.target === help) help.close();
    });
    document.querySelectorAll("[data-open-shortcuts]").forEach((button) => {
      button.hidden = false;
      button.addEventListener("click", openHelp);
    });
  }

  const keys = {
    j: () => select(1),
    k: () => select(-1),
    a: () => focusField("approve-credits"),
    e: () => focusField("escalate-note"),
    s: () => focusField("sendback-note"),
    n: nextInQueue,
    "?": openHelp,
  };

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    const flash = document.getElementById("flash");
    if (event.key === "Escape" && flash && flash.firstChild) {
      flash.replaceChildren(); // Esc dismisses a refusal, even from inside the field being corrected
      return;
    }
    if (typing(event.target)) return;
    const help = document.getElementById("shortcuts");
    if (help && help.open) return; // the dialog has the keyboard; Esc closes it
    const action = keys[event.key];
    if (action && action()) event.preventDefault();
  });

  // After a decision on a ticket under review, offer the next ticket of the queue. The ticket
  // may be redrawn again by a live update: the offer (and the focus on it) survives that.
  let decided = false;

  function offerNext() {
    const next = document.querySelector("#ticket .next-in-queue");
    if (!decided || !next) return;
    next.hidden = false;
    const link = next.querySelector("a");
    if (!link) return;
    const active = document.activeElement;
    if (!active || active === document.body || active === document.getElementById("main")) link.focus();
    // A redraw above the offer can move it after it took the focus: keep the focused offer on screen.
    if (document.activeElement === link) link.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("htmx:beforeSwap", (event) => {
    const form = event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
    const target = event.detail && event.detail.target;
    if (form && form.dataset && form.dataset.decision !== undefined && target && target.id === "ticket"
        && event.detail.xhr && event.detail.xhr.status < 300
        && !event.detail.xhr.getResponseHeader("X-Decision-Pending")) {  // a large award asks to confirm first
      decided = true;
    }
  });
  document.addEventListener("htmx:load", () => window.setTimeout(offerNext, 0));

  // A live update redraws the ticket on screen: what the reader was typing into it, and where, survives that, and
  // so do the files chosen for upload.
  const DRAFT_FIELDS = "#ticket textarea[id], #ticket input[id][type=text], #ticket input[id][type=number], #ticket input[id][type=search]";
  const DRAFT_FILES = "#ticket input[id][type=file]";
  let drafts = null;

  function liveRefresh(event) {
    const source = event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
    return !!(source && source.id && source.id.startsWith("ticket-live-"));
  }

  // A live event about a change the ticket on screen already shows does not redraw it again: that redraw would
  // drop a file being chosen or a refusal being read. Such a change is mostly this page's own action, whose event
  // may arrive before the action's answer: while a form of the ticket is on its way, the redraw waits for that
  // answer, and happens after it only if the answer shows an older ticket than the event.
  let waitingRedraw = null;

  const shownChangedAt = () => Date.parse(document.getElementById("ticket")?.dataset.updatedAt);
  const ticketFormOnItsWay = () => !!document.querySelector("#ticket form.htmx-request"); // htmx marks it

  function redrawTicket(anchor) {
    window.htmx.ajax("GET", anchor.dataset.liveUrl, { source: anchor, target: "#ticket", select: "#ticket", swap: "outerHTML" })
      .catch(() => {}); // best effort: the next event or reconnect tries again
  }

  document.addEventListener("htmx:beforeRequest", (event) => {
    const source = event.detail && event.detail.elt;
    if (!source || !source.id || !source.id.startsWith("ticket-live-") || !source.dataset.updatedAt) return;
    if (shownChangedAt() >= Date.parse(source.dataset.updatedAt)) {
      event.preventDefault();
    } else if (ticketFormOnItsWay()) {
      event.preventDefault();
      waitingRedraw = source;
    }
  });
  document.addEventListener("htmx:afterRequest", () => {  // the answer, if any, is on screen now
    if (!waitingRedraw || ticketFormOnItsWay()) return;
    const anchor = waitingRedraw;
    waitingRedraw = null;
    if (!(shownChangedAt() >= Date.parse(anchor.dataset.updatedAt))) redrawTicket(anchor);
  });

  // A form on its way to the server holds no draft: what it says is sent. A live redraw that lands before the
  // form's own answer (which htmx then drops, its form being gone) must not put the sent text back.
  const sending = new WeakSet();
  const formOf = (event) => {
    const source = event.detail && event.detail.elt;
    return source && source.closest ? source.closest("form") : null;
  };
  document.addEventListener("htmx:beforeRequest", (event) => { const form = formOf(event); if (form) sending.add(form); });
  document.addEventListener("htmx:afterRequest", (event) => { const form = formOf(event); if (form) sending.delete(form); });

  document.addEventListener("htmx:beforeSwap", (event) => {
    if (!liveRefresh(event)) return;
    const active = document.activeElement;
    drafts = { focused: active && active.id && active.closest("#ticket") ? active.id : null, fields: [] };
    document.querySelectorAll(DRAFT_FIELDS).forEach((field) => {
      if (field.form && sending.has(field.form)) return;
      if (field.value !== field.defaultValue || field.id === drafts.focused) {
        drafts.fields.push({ id: field.id, value: field.value, start: field.selectionStart, end: field.selectionEnd });
      }
    });
    drafts.files = [...document.querySelectorAll(DRAFT_FILES)]
      .filter((field) => field.files.length && !(field.form && sending.has(field.form)))
      .map((field) => ({ id: field.id, files: field.files }));
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    if (!drafts || !liveRefresh(event)) return;
    const kept = drafts;
    drafts = null;
    kept.fields.forEach((draft) => {
      const field = document.getElementById(draft.id);
      if (!field || field.disabled || !field.matches(DRAFT_FIELDS)) return;
      field.value = draft.value;
      if (draft.id === kept.focused) {
        field.focus({ preventScroll: true });
        if (draft.start !== null && field.setSelectionRange) field.setSelectionRange(draft.start, draft.end);
      }
    });
    kept.files.forEach((draft) => {
      const field = document.getElementById(draft.id);
      if (field && !field.disabled && field.matches(DRAFT_FILES)) field.files = draft.files;
    });
  });

  // A refusal shown in #flash, and the messages the page arrived with ("Ticket created."), are stale once the
  // next form's request starts.
  document.addEventListener("htmx:beforeRequest", (event) => {
    const source = event.detail && event.detail.elt;
    if (!source || !source.closest || !source.closest("form")) return;
    const flash = document.getElementById("flash");
    if (flash && flash.firstChild) flash.replaceChildren();
    const result = document.getElementById("ticket-result");  // what the last decision on a ticket did
    if (result && result.firstChild) result.replaceChildren();
    document.querySelectorAll("#main > .messages").forEach((list) => list.remove());
  });

  // The "Next in queue" link goes straight to the next ticket (without JS: to the queue).
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[data-next-in-queue]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    if (nextInQueue()) event.preventDefault();
  });

  // Whole-page consistency. A live event that changes figures shown elsewhere on the page (a reward, a wallet
  // change, a ticket's status, a promotion) carries #live-refresh: the page then fetches itself once and swaps
  // in its live regions ([data-live-region][id]: the wallet, and on the dashboard the Standing box, My work,
  // the review queue and Recent rewards). Several events of one decision make one request.
  // After the live connection comes back (the server restarted, the network dropped), events may have been
  // missed: the live regions, the inbox badge and the open ticket are redrawn the same way.
  const REFRESH_DELAY = 150; // ms: the events of one decision arrive together
  let refreshTimer = null;

  function refreshLiveRegions(extra) {
    const ids = [...document.querySelectorAll("[data-live-region][id]")].map((element) => "#" + element.id);
    ids.push(...(extra || []).filter((id) => document.querySelector(id)));
    const anchor = document.getElementById("live-refresh");
    if (!ids.length || !anchor || !window.htmx) return;
    window.htmx.ajax("GET", window.location.pathname + window.location.search, {
      source: anchor, target: anchor, swap: "none", selectOOB: ids.join(","),
    }).catch(() => {}); // best effort: the next event or reconnect tries again
  }

  function refreshSoon() {
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(() => refreshLiveRegions(), REFRESH_DELAY);
  }

  function catchUp() {
    refreshLiveRegions(["#inbox-badge"]);
    document.querySelectorAll("[id^='ticket-live-'][data-live-url]").forEach((anchor) => {
      delete anchor.dataset.updatedAt; // what changed while the connection was down is unknown: always redraw
      redrawTicket(anchor); // the request a ticket_updated event makes: drafts typed into the ticket survive it
    });
  }

  document.addEventListener("htmx:wsAfterMessage", (event) => {
    const message = event.detail && event.detail.message;
    if (typeof message === "string" && message.includes("data-live-refresh")) refreshSoon();
  });

  let opened = false;
  document.addEventListener("htmx:wsOpen", () => {
    if (opened) catchUp();
    opened = true;
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpHelp);
  } else {
    setUpHelp();
  }
})();
