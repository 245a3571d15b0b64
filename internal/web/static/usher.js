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
  document.querySelectorAll("input[data-policy]").forEach(function (input) {
    var list = document.getElementById(input.dataset.policy);
    if (!list) return;
    input.addEventListener("input", function () { checkRules(list, input.value); });
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

  // Confirm destructive actions.
  document.querySelectorAll("[data-confirm]").forEach(function (el) {
    el.addEventListener("click", function (e) { if (!window.confirm(el.dataset.confirm)) e.preventDefault(); });
  });
})();
