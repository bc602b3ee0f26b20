// Draws the dashboard's charts from the JSON block the page carries.
// Runs on a full page load and again after HTMX swaps a page in.
(function () {
  "use strict";
  var charts = [];
  var colours = ["#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2"];

  function draw() {
    var block = document.getElementById("dashboard-data");
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    if (!block || typeof Chart === "undefined") { return; }
    var data = JSON.parse(block.textContent);
    // A fresh object for each chart: Chart.js writes its resolved scales into the one it gets.
    function common(extra) {
      return Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, extra || {});
    }

    var funnel = document.getElementById("chart-funnel");
    if (funnel) {
      charts.push(new Chart(funnel, {
        type: "bar",
        data: {
          labels: Object.keys(data.funnel),
          datasets: [{ label: "Customers", data: Object.values(data.funnel), backgroundColor: colours }]
        },
        options: common({ indexAxis: "y", plugins: { legend: { display: false } } })
      }));
    }
    var trend = document.getElementById("chart-trend");
    if (trend) {
      var names = { planned: "Planned", sent: "Executed", responses: "Responses", orders: "Orders" };
      charts.push(new Chart(trend, {
        type: "line",
        data: {
          labels: data.days,
          datasets: Object.keys(names).map(function (m, i) {
            return { label: names[m], data: data.trend[m], borderColor: colours[i], backgroundColor: colours[i], tension: 0.2 };
          })
        },
        options: common()
      }));
    }
    var channels = document.getElementById("chart-channels");
    if (channels) {
      var chNames = Object.keys(data.channels);
      var measures = { planned: "Planned", sent: "Executed", responses: "Responses" };
      charts.push(new Chart(channels, {
        type: "bar",
        data: {
          labels: chNames,
          datasets: Object.keys(measures).map(function (m, i) {
            return { label: measures[m], data: chNames.map(function (c) { return data.channels[c][m]; }), backgroundColor: colours[i] };
          })
        },
        options: common()
      }));
    }
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
