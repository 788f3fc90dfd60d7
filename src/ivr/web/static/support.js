// National support: polls the agent's post (/support/etat.json, no personal data) and,
// when a new call rings the agent, puts its screen pop in place (/support/appel, audited)
// without reloading; keeps the ticket form's sub-motifs and standard answers to the motif;
// stops the « depuis » tag of the call (counted on by depuis.js) when the call ends.
"use strict";
(function () {
  function contentOf() { return document.getElementById("appel-contenu"); }

  function matchMotif(select) {
    const motifSelect = document.getElementById(select.dataset.motifSelect || "");
    if (!motifSelect) return;
    for (const group of select.querySelectorAll("optgroup")) {
      group.disabled = motifSelect.value !== "" && group.dataset.motif !== motifSelect.value;
    }
  }
  function prepareForms(root) {
    for (const select of root.querySelectorAll("select[data-motif-select]")) matchMotif(select);
    for (const button of root.querySelectorAll("button.inserer-reponse")) button.hidden = false;
  }
  document.addEventListener("change", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLSelectElement)) return;
    for (const select of document.querySelectorAll('select[data-motif-select="' + target.id + '"]')) {
      matchMotif(select);
      if (select.selectedOptions[0] && select.selectedOptions[0].parentElement.disabled) select.value = "";
    }
  });
  document.addEventListener("click", (event) => {
    const button = event.target;
    if (!(button instanceof HTMLButtonElement) || !button.classList.contains("inserer-reponse")) return;
    const answers = document.getElementById(button.dataset.answers);
    const note = document.getElementById(button.dataset.note);
    const chosen = answers && answers.selectedOptions[0];
    if (!chosen || !chosen.dataset.text || !note) return;
    if (!note.value.includes(chosen.dataset.text)) note.value = (note.value ? note.value + "\n" : "") + chosen.dataset.text;
    answers.value = "";
    note.focus();
  });
  prepareForms(document);

  const section = document.getElementById("appel-support");
  if (!section) return;

  async function showCall() {
    const response = await fetch("/support/appel", {credentials: "same-origin"});
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("appel-contenu");
    if (!fresh || !fresh.dataset.call) return;
    const current = contentOf();
    const adopted = document.importNode(fresh, true);
    if (current) current.replaceWith(adopted); else section.append(adopted);
    prepareForms(adopted);
    notice.hidden = true;
  }
  const notice = document.getElementById("nouvel-appel-support");
  document.getElementById("afficher-nouvel-appel").addEventListener("click", showCall);
  function typing() {
    const note = document.getElementById("fiche-note");
    return Boolean(note && note.value.trim());
  }

  async function refresh() {
    try {
      const response = await fetch("/support/etat.json", {credentials: "same-origin"});
      if (!response.ok) return;
      const state = await response.json();
      const presence = document.getElementById("presence-support");
      if (presence) presence.textContent = state.presence_label;
      const current = contentOf();
      const shown = current ? current.dataset.call : "";
      if (state.call_id && state.call_id !== shown) {
        if (shown && typing()) notice.hidden = false; else await showCall();
      } else if (shown) {
        const status = document.getElementById("appel-statut");
        if (status) status.textContent = state.call_id ? state.call_status : "terminé";
        const since = document.getElementById("appel-depuis");
        if (since && !state.call_id) delete since.dataset.depuisSecondes;  // stops counting
      }
    } catch (error) { /* the next round tries again */ }
  }
  setInterval(refresh, 3000);
})();
