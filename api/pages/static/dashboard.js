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

// Live pages: a page holding `[data-live-after]` (its change feed position
// when it was read) listens to /ui/live, and each time a commit moves the
// feed it reads itself again and puts its `[data-live-region]` parts in
// place, then says when it last updated. No reload: focus, scroll and
// what was typed into the forms stay.
(function () {
  "use strict";
  var QUIET = 150;

  function stamp(status, fresh) {
    var time = status.querySelector("[data-live-updated]");
    var came = fresh && fresh.querySelector("[data-live-updated]");
    if (time !== null && came) {
      time.setAttribute("datetime", came.getAttribute("datetime"));
      time.textContent = came.textContent;
    }
  }

  function say(status, text) {
    var state = status.querySelector("[data-live-state]");
    if (state !== null) {
      state.textContent = text;
    }
  }

  function follow(status) {
    var busy = false;
    var again = false;
    var timer = null;

    function refresh() {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error(String(response.status));
          }
          return response.text();
        })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html");
          var olds = document.querySelectorAll("[data-live-region]");
          var news = fresh.querySelectorAll("[data-live-region]");
          if (olds.length === news.length) {
            for (var i = 0; i < olds.length; i += 1) {
              olds[i].replaceWith(document.importNode(news[i], true));
            }
          }
          stamp(status, fresh);
          say(status, "Updated live");
          document.body.dataset.liveRefreshes = String(Number(document.body.dataset.liveRefreshes || "0") + 1);
        })
        .catch(function () {
          say(status, "Could not update; last updated");
        })
        .then(function () {
          busy = false;
          if (again) {
            again = false;
            refresh();
          }
        });
    }

    var source = new EventSource("/ui/live?after=" + encodeURIComponent(status.dataset.liveAfter));
    source.addEventListener("open", function () {
      document.body.dataset.live = "open";
    });
    source.addEventListener("changed", function () {
      if (timer !== null) {
        window.clearTimeout(timer);
      }
      timer = window.setTimeout(function () {
        timer = null;
        refresh();
      }, QUIET);
    });
    source.addEventListener("error", function () {
      document.body.dataset.live = "reconnecting";
      say(status, "Reconnecting; last updated");
    });
    window.addEventListener("pagehide", function () {
      source.close();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var status = document.querySelector("[data-live-after]");
    if (status !== null && window.EventSource && window.DOMParser) {
      follow(status);
    }
  });
})();
