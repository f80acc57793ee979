// While a rebuild runs, the projections page fetches its rebuild section
// every two seconds and puts it in place; nothing else on the page changes.
(function () {
  "use strict";
  var PERIOD = 2000;

  function poll(section) {
    if (section.dataset.running !== "yes") {
      return;
    }
    window.setTimeout(function () {
      fetch(section.dataset.poll, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error(String(response.status));
          }
          return response.text();
        })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#rebuild");
          if (fresh === null) {
            return;
          }
          var focused = document.activeElement && document.activeElement.id;
          section.replaceWith(fresh);
          if (focused) {
            var again = document.getElementById(focused);
            if (again) {
              again.focus();
            }
          }
          poll(fresh);
        })
        .catch(function () {
          poll(section);
        });
    }, PERIOD);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var section = document.getElementById("rebuild");
    if (section !== null) {
      poll(section);
    }
  });
})();
