// Live updates of a run page: the run's status over server-sent events;
// when the run ends, the page reloads to show its Output.
(function () {
  var facts = document.getElementById("run-facts");
  if (!facts || !facts.dataset.events || !window.EventSource) return;
  var status = document.getElementById("status");
  var duration = document.getElementById("duration");
  var es = new EventSource(facts.dataset.events);
  es.addEventListener("status", function (ev) {
    var s = JSON.parse(ev.data);
    status.textContent = s.status;
    status.className = "status " + ({"Success": "ok", "Failed": "bad", "Partial": "warn", "In Progress": "live"}[s.status] || "");
    if (duration) duration.textContent = s.duration;
    if (s.done) {
      es.close();
      window.location.reload();
    }
  });
})();
