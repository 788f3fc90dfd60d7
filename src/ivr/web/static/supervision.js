// Live wallboard: asks /supervision/etat.json every few seconds and writes the figures
// into the cells marked data-champ (text only; the JSON carries no number or name).
"use strict";
(function () {
  const root = document.getElementById("supervision");
  if (!root) return;
  const scope = root.dataset.perimetre;
  const every = Math.max(2, parseInt(root.dataset.refresh, 10) || 5) * 1000;
  const status = document.getElementById("etat-maj");

  function fill(container, values) {
    if (!container) return;
    for (const cell of container.querySelectorAll("[data-champ]")) {
      const value = values[cell.dataset.champ];
      if (value !== undefined && value !== null) cell.textContent = String(value);
    }
    if (container.tagName === "TR") container.classList.toggle("alerte", Boolean(values.dissuasion_active));
  }

  async function refresh() {
    try {
      const response = await fetch("/supervision/etat.json?perimetre=" + encodeURIComponent(scope), {credentials: "same-origin"});
      if (response.status === 401) { status.textContent = "Session terminée : reconnectez-vous."; return; }
      if (!response.ok) { status.textContent = "Mise à jour impossible (" + response.status + "), nouvel essai dans quelques secondes."; return; }
      const state = await response.json();
      document.getElementById("maj").textContent = state.heure;
      const incident = document.getElementById("incident");
      incident.textContent = state.incident || "Aucun incident SI SIAO en cours.";
      incident.className = state.incident ? "banner" : "";
      fill(document.getElementById("total"), state.total);
      for (const row of state.departements) fill(document.getElementById("dep-" + row.code), row);
      status.textContent = "";
    } catch (error) {
      status.textContent = "Service injoignable, nouvel essai dans quelques secondes.";
    }
  }
  setInterval(refresh, every);
})();
