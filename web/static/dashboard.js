// The dashboard's own script. Renders every chart of the page: a [data-chart] element names the <script type="application/json">
// block holding its Vega-Lite specification. Vega's expression interpreter (ast: true) keeps the
// page within a Content-Security-Policy without 'unsafe-eval'; tooltips are the browser's own.
"use strict";

function renderCharts() {
  if (typeof vegaEmbed !== "function") return;
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

// Filters with no value stay out of the query string, so a shared link says only what was chosen.
function tidyFilters() {
  for (const form of document.querySelectorAll("form.filters")) {
    form.addEventListener("submit", () => {
      for (const field of form.querySelectorAll("input, select")) {
        if (field.name && !field.value) field.disabled = true;
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  tidyFilters();
  renderCharts();
});
