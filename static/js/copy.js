// Progressive enhancement: a "Copy" button beside each selectable link field.
// Without JavaScript the field is still there to select and copy by hand.
(function () {
  "use strict";
  if (!navigator.clipboard) {
    return;
  }
  document.querySelectorAll("[data-copy-source]").forEach(function (field) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = field.dataset.copyLabel;
    button.setAttribute("aria-live", "polite");
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        button.textContent = field.dataset.copiedLabel;
      });
    });
    field.parentNode.appendChild(button);
  });
})();
