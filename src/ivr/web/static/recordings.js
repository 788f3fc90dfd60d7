// Recording playback: when the service cannot play a recording (source unreachable,
// recording gone), show the French message next to the player.
"use strict";
document.querySelectorAll("audio[data-recording]").forEach(function (audio) {
  audio.addEventListener("error", function () {
    var message = document.getElementById("erreur-" + audio.dataset.recording);
    if (message) { message.hidden = false; }
  });
});
