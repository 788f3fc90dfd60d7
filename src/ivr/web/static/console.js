// Listener console: polls the queue and the current call (its « depuis » tag counted on
// by depuis.js, stopped here when the call ends), and runs SI SIAO lookups without
// blocking (start, then poll the lookup's small JSON endpoint).
"use strict";
(function () {
  const root = document.getElementById("console");
  if (!root) return;
  const dep = root.dataset.dep;
  const shownCall = root.dataset.call || null;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  function text(tag, value) { const el = document.createElement(tag); el.textContent = value; return el; }

  async function refresh() {
    try {
      const response = await fetch("/console/etat.json?dep=" + encodeURIComponent(dep), {credentials: "same-origin"});
      if (!response.ok) return;
      const state = await response.json();
      const presence = document.getElementById("presence");
      if (presence) presence.textContent = state.presence_label;
      const box = document.getElementById("file");
      box.replaceChildren();
      if (state.queue.length === 0) {
        box.append(text("p", "Aucun appel en attente."));
      } else {
        const table = document.createElement("table");
        table.append(text("caption", state.queue.length + (state.queue.length > 1 ? " appels en attente" : " appel en attente")));
        const head = document.createElement("tr");
        head.append(text("th", "Position"), text("th", "Attente"));
        table.append(head);
        for (const row of state.queue) {
          const tr = document.createElement("tr");
          tr.append(text("td", row.position), text("td", row.wait));
          table.append(tr);
        }
        box.append(table);
      }
      document.getElementById("nouvel-appel").hidden = !state.call_id || state.call_id === shownCall;
      // The call shown: its state as it goes (answered, then ended or taken back).
      const status = document.getElementById("etat-appel");
      if (status && shownCall) {
        const now = state.call_id === shownCall ? state.call_status : "terminé";
        if (now !== status.dataset.status) { status.dataset.status = now; status.textContent = now; }
        const since = document.getElementById("appel-depuis");
        if (since && now === "terminé") delete since.dataset.depuisSecondes;  // stops counting
      }
    } catch (error) { /* the next round tries again */ }
  }
  setInterval(refresh, 5000);

  const result = document.getElementById("resultat");
  function renderLookup(data) {
    result.replaceChildren(text("p", data.message + (data.reason ? " (" + data.reason + ")" : "")));
    for (const menage of data.menages || []) {
      const card = document.createElement("div");
      card.className = "card";
      const members = menage.membres.map(m => m.prenom + " " + m.nom + (m.date_naissance ? " (né·e le " + m.date_naissance + ")" : "")).join(", ");
      card.append(text("h3", "Ménage " + menage.id + " — " + menage.composition));
      card.append(text("p", members));
      if (menage.publics.length) card.append(text("p", "Publics spécifiques : " + menage.publics.join(", ")));
      if (menage.demandes_ouvertes.length) card.append(text("p", "Demande(s) ouverte(s) : " + menage.demandes_ouvertes.join(", ")));
      const choose = text("button", "Choisir ce ménage pour la demande");
      choose.type = "button";
      choose.addEventListener("click", () => { document.getElementById("menage_id").value = menage.id; document.getElementById("menage_id").focus(); });
      card.append(choose);
      result.append(card);
    }
  }
  async function poll(url) {
    for (let i = 0; i < 30; i++) {
      const response = await fetch(url, {credentials: "same-origin"});
      if (!response.ok) { result.replaceChildren(text("p", "Recherche introuvable.")); return; }
      const data = await response.json();
      renderLookup(data);
      if (data.state !== "en_cours") return;
      await new Promise(resolve => setTimeout(resolve, 1000));
    }
  }
  const form = document.getElementById("recherche");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.replaceChildren(text("p", "Recherche SI SIAO en cours…"));
    const response = await fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRF-Token": csrf},
    });
    if (!response.ok) { result.replaceChildren(text("p", "Recherche impossible (rechargez la page).")); return; }
    poll((await response.json()).url);
  });
  if (result.dataset.lookup) poll("/console/sisiao/recherche/" + result.dataset.lookup);
})();
