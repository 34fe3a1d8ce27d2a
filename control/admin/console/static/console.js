// hookpipe admin console: the live refresh of the events list, and small conveniences. Every page works
// without this script; it only loads from this origin (the Content-Security-Policy allows nothing else).
(function () {
  "use strict";

  // Seconds between two refreshes of the events list.
  var REFRESH_SECONDS = 5;

  function refreshEvents() {
    var table = document.getElementById("events");
    var live = document.getElementById("live");
    var url = table && table.getAttribute("data-rows-url");
    if (!table || !live || !url) {
      return; // not the events page, or not its first page: older pages hold still
    }
    var body = table.tBodies[0];
    var busy = false;
    var timer = null;

    function say(text) {
      live.textContent = text;
    }

    function refresh() {
      if (busy || document.hidden) {
        return;
      }
      if (body.contains(document.activeElement)) {
        return; // do not pull a focused link from under the keyboard
      }
      busy = true;
      fetch(url, { credentials: "same-origin", cache: "no-store", redirect: "manual",
                   headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
            window.clearInterval(timer);
            say("Signed out: reload the page to sign in again.");
            return null;
          }
          if (!response.ok) {
            say("Could not refresh the list (" + response.status + "); trying again in " + REFRESH_SECONDS + " s.");
            return null;
          }
          return response.text();
        })
        .then(function (html) {
          if (html === null) {
            return;
          }
          body.innerHTML = html; // rows the console rendered, every value escaped
          localTimes();
          say("Updated at " + new Date().toLocaleTimeString() + ".");
        })
        .catch(function () {
          say("Could not reach hookpipe admin; trying again in " + REFRESH_SECONDS + " s.");
        })
        .then(function () {
          busy = false;
        });
    }

    timer = window.setInterval(refresh, REFRESH_SECONDS * 1000);
  }

  // Times are shown in UTC; hovering one shows it in the browser's time zone.
  function localTimes() {
    var times = document.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var when = new Date(times[i].getAttribute("datetime"));
      if (!isNaN(when.getTime())) {
        times[i].title = when.toLocaleString();
      }
    }
  }

  // A form that acts (resend, pause, replay, purge) is sent once: its button waits for the answer.
  function sendOnce() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") {
        return;
      }
      window.setTimeout(function () {
        var buttons = form.querySelectorAll("button[type=submit]");
        for (var i = 0; i < buttons.length; i++) {
          buttons[i].disabled = true;
        }
      }, 0);
    });
    // Back to a page kept in the browser's cache: its buttons work again.
    window.addEventListener("pageshow", function () {
      var buttons = document.querySelectorAll("button[disabled]");
      for (var i = 0; i < buttons.length; i++) {
        buttons[i].disabled = false;
      }
    });
  }

  refreshEvents();
  localTimes();
  sendOnce();
})();
