// Renders every chart of the page: a [data-chart] element names the <script type="application/json">
// block holding its Vega-Lite specification. Vega's expression interpreter (ast: true) keeps the
// page within a Content-Security-Policy without 'unsafe-eval'; tooltips are the browser's own.
"use strict";

function renderCharts() {
  for (const element of document.querySelectorAll("[data-chart]")) {
    const source = document.getElementById(element.dataset.chart);
    if (!source) continue;
    const spec = JSON.parse(source.textContent);
    vegaEmbed(element, spec, { ast: true, actions: false, renderer: "svg", defaultStyle: false, tooltip: false })
      .then(() => element.setAttribute("data-rendered", "1"))
      .catch((error) => {
        element.setAttribute("data-rendered", "failed");
        element.textContent = "The chart could not be drawn: " + error.message;
        console.error(error);
      });
  }
}

document.addEventListener("DOMContentLoaded", renderCharts);
