// Progressive enhancement for the donate form; the form works the same without it.
// Typing an amount chooses "Other"; choosing a preset clears the typed amount, so the
// server never sees both.
(function () {
  "use strict";
  var other = document.getElementById("id_amount_other");
  var otherChoice = document.getElementById("id_amount_other_choice");
  if (!other || !otherChoice) {
    return;
  }
  other.addEventListener("input", function () {
    otherChoice.checked = true;
  });
  document.querySelectorAll('input[type="radio"][name="amount"]').forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (radio !== otherChoice && radio.checked) {
        other.value = "";
      }
    });
  });
})();
