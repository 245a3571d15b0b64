// usher: small enhancements; every page works without this file.
(function () {
  "use strict";

  // Live password-policy check: each rule of the list is marked met or
  // unmet as the person types. The server checks again on submit.
  function checkRules(list, value) {
    var n = Array.from(value).length;
    var min = parseInt(list.dataset.min || "0", 10), max = parseInt(list.dataset.max || "1000", 10);
    var tests = {
      length: n >= min && n <= max,
      lower: /\p{Ll}/u.test(value),
      upper: /\p{Lu}/u.test(value),
      digit: /\p{Nd}/u.test(value),
      special: /[\p{P}\p{S} ]/u.test(value)
    };
    list.querySelectorAll("li[data-rule]").forEach(function (li) {
      var code = li.dataset.rule;
      li.classList.remove("met", "unmet");
      if (!(code in tests) || value === "") return;
      li.classList.add(tests[code] ? "met" : "unmet");
    });
  }
  // The common-password rule needs the server's list: ask it, 300 ms
  // after the last keystroke, and mark only that rule.
  function checkCommon(list, value, seq) {
    var li = list.querySelector("li[data-rule=common]");
    if (!li || !list.dataset.check) return;
    if (value === "") { li.classList.remove("met", "unmet"); return; }
    var body = new URLSearchParams({ password: value, policy: list.dataset.checkPolicy || "nist" });
    fetch(list.dataset.check, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (out) {
        if (!out || seq !== list.seq) return;
        var broken = (out.broken || []).some(function (r) { return r.code === "common"; });
        li.classList.remove("met", "unmet");
        li.classList.add(broken ? "unmet" : "met");
      })
      .catch(function () {});
  }
  document.querySelectorAll("input[data-policy]").forEach(function (input) {
    var list = document.getElementById(input.dataset.policy);
    if (!list) return;
    var timer;
    list.seq = 0;
    input.addEventListener("input", function () {
      checkRules(list, input.value);
      clearTimeout(timer);
      var seq = ++list.seq;
      timer = setTimeout(function () { checkCommon(list, input.value, seq); }, 300);
    });
    checkRules(list, input.value);
  });
  document.querySelectorAll("input[data-confirms]").forEach(function (input) {
    var other = document.getElementById(input.dataset.confirms);
    var out = document.getElementById(input.id + "-match");
    function update() {
      if (!out) return;
      if (input.value === "") { out.textContent = ""; return; }
      out.textContent = input.value === other.value ? "✓ The passwords match." : "The passwords do not match yet.";
    }
    input.addEventListener("input", update);
    other.addEventListener("input", update);
  });

  // Checking before inviting: as one address is typed, say whether it is
  // free, invited, a member or registered elsewhere, and propose a
  // username (unless one was typed). The form's check button does the
  // same without this file.
  document.querySelectorAll("textarea[data-availability]").forEach(function (box) {
    var out = document.getElementById("availability-live");
    var user = document.getElementById(box.dataset.username);
    var said = {
      free: "free to invite", invited: "already has an open invitation", member: "already a member",
      registered: "has an account elsewhere: they will sign in to accept"
    };
    var timer, seq = 0, proposed = user ? user.value : "";
    function check() {
      var parts = box.value.split(/[,;\s]+/).filter(function (p) { return p !== ""; });
      if (!out) return;
      if (parts.length !== 1 || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(parts[0])) {
        out.textContent = "";
        // A proposal is for one address: it must not go with several.
        if (user && proposed !== "" && user.value === proposed) { user.value = ""; proposed = ""; }
        return;
      }
      var q = new URLSearchParams({ email: parts[0] });
      var typed = user && user.value !== "" && user.value !== proposed;
      if (typed) q.set("username", user.value);
      var mine = ++seq;
      fetch(box.dataset.availability + "?" + q, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (a) {
          if (!a || mine !== seq) return;
          var text = parts[0] + ": " + (said[a.email] || a.email) + ".";
          if (a.username) text += " Username " + user.value + ": " + (a.username === "free" ? "free" : "taken") + ".";
          if (a.suggested_username) text += " Suggested username: " + a.suggested_username + ".";
          out.textContent = text;
          if (user && !typed && a.suggested_username) { user.value = a.suggested_username; proposed = a.suggested_username; }
        })
        .catch(function () {});
    }
    function later() { clearTimeout(timer); timer = setTimeout(check, 400); }
    box.addEventListener("input", later);
    if (user) user.addEventListener("input", later);
  });

  // Copy buttons.
  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var src = document.getElementById(btn.dataset.copy);
      if (!src) return;
      src.select();
      var done = function () { btn.textContent = "Copied"; };
      if (navigator.clipboard) { navigator.clipboard.writeText(src.value).then(done, function () { document.execCommand("copy"); done(); }); }
      else { document.execCommand("copy"); done(); }
    });
  });

  // Select all rows for bulk actions.
  document.querySelectorAll("input[data-select-all]").forEach(function (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=id][form=" + all.dataset.selectAll + "]").forEach(function (c) { c.checked = all.checked; });
    });
  });

  // The organization switcher goes at once.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });

  // An import being read: show the rows read every second and reload
  // when the status moves on (the page's meta refresh does it without JS).
  document.querySelectorAll("[data-import-poll]").forEach(function (box) {
    var out = document.getElementById("rows-read");
    function poll() {
      fetch(box.dataset.importPoll, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (imp) {
          if (!imp) return;
          if (imp.status !== box.dataset.status) { window.location.reload(); return; }
          if (out && imp.progress) out.textContent = imp.progress.rows_read;
          setTimeout(poll, 1000);
        })
        .catch(function () {});
    }
    setTimeout(poll, 1000);
  });

  // Confirm destructive actions.
  document.querySelectorAll("[data-confirm]").forEach(function (el) {
    el.addEventListener("click", function (e) { if (!window.confirm(el.dataset.confirm)) e.preventDefault(); });
  });
})();
