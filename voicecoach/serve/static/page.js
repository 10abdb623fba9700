// The player page: the episode list (Today first), one <audio>, a chapter per step,
// and the Media Session API, so a locked phone shows the step and its buttons move between steps.
"use strict";
const audio = document.getElementById("audio");
const list = document.getElementById("episodes");
const chaptersEl = document.getElementById("chapters");
const player = document.getElementById("player");
const status = document.getElementById("status");
let current = null;   // the episode playing
let step = -1;        // index of the chapter playing

function clock(seconds) {
  const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
}

function button(text, right, cls) {
  const b = document.createElement("button");
  b.type = "button";
  if (cls) b.className = cls;
  const t = document.createElement("span");
  t.textContent = text;
  const r = document.createElement("span");
  r.className = cls === "chapter" ? "at" : "length";
  r.textContent = right;
  b.append(t, r);
  return b;
}

function stepAt(time) {
  const chapters = current ? current.chapters : [];
  let i = 0;
  while (i + 1 < chapters.length && chapters[i + 1].startTime <= time + 0.05) i++;
  return i;
}

function showStep(i) {
  if (!current || i === step) return;
  step = i;
  chaptersEl.querySelectorAll("button").forEach((b, n) => b.classList.toggle("current", n === i));
  const title = current.chapters[i] ? current.chapters[i].title : current.title;
  document.getElementById("now-step").textContent = title;
  if ("mediaSession" in navigator) {
    navigator.mediaSession.metadata = new MediaMetadata({
      title: title, artist: "voicecoach", album: current.title,
      artwork: [{src: "cover.png", sizes: "512x512", type: "image/png"}],
    });
  }
}

function seekTo(seconds) {
  audio.currentTime = Math.max(0, Math.min(seconds, (audio.duration || current.seconds) - 0.01));
  showStep(stepAt(audio.currentTime));
}

function goStep(delta) {
  if (!current) return;
  const i = stepAt(audio.currentTime);
  // "previous" restarts the step unless it has only just begun, as a music player does
  const back = delta < 0 && audio.currentTime - current.chapters[i].startTime > 3 ? 0 : delta;
  const target = Math.max(0, Math.min(current.chapters.length - 1, i + back));
  seekTo(current.chapters[target].startTime);
}

function play(episode, row) {
  current = episode;
  step = -1;
  list.querySelectorAll("button").forEach(b => b.classList.toggle("playing", b === row));
  document.getElementById("now-title").textContent = episode.title;
  chaptersEl.replaceChildren(...episode.chapters.map((c, i) => {
    const li = document.createElement("li");
    const b = button(c.title, clock(c.startTime), "chapter");
    b.addEventListener("click", () => { seekTo(c.startTime); audio.play(); });
    li.append(b);
    return li;
  }));
  player.hidden = false;
  audio.src = episode.audio;
  showStep(0);
  audio.play().catch(() => { status.textContent = "Tap play to start."; });
  window.scrollTo({top: 0, behavior: "smooth"});
}

audio.addEventListener("timeupdate", () => showStep(stepAt(audio.currentTime)));
audio.addEventListener("play", () => document.getElementById("toggle").classList.add("playing"));
audio.addEventListener("pause", () => document.getElementById("toggle").classList.remove("playing"));
document.getElementById("toggle").addEventListener("click", () => (audio.paused ? audio.play() : audio.pause()));
document.getElementById("back").addEventListener("click", () => seekTo(audio.currentTime - 15));
document.getElementById("fwd").addEventListener("click", () => seekTo(audio.currentTime + 15));
document.getElementById("prev").addEventListener("click", () => goStep(-1));
document.getElementById("next").addEventListener("click", () => goStep(1));

if ("mediaSession" in navigator) {
  const handlers = {
    play: () => audio.play(),
    pause: () => audio.pause(),
    seekbackward: d => seekTo(audio.currentTime - ((d && d.seekOffset) || 15)),
    seekforward: d => seekTo(audio.currentTime + ((d && d.seekOffset) || 15)),
    seekto: d => seekTo(d.seekTime),
    previoustrack: () => goStep(-1),
    nexttrack: () => goStep(1),
  };
  for (const [action, handler] of Object.entries(handlers)) {
    try { navigator.mediaSession.setActionHandler(action, handler); } catch (e) { /* not on this browser */ }
  }
}

fetch("episodes.json", {cache: "no-cache"}).then(r => r.json()).then(data => {
  status.textContent = data.episodes.length + " sessions · tap one to play";
  for (const [n, episode] of data.episodes.entries()) {
    const li = document.createElement("li");
    const b = button(episode.title, clock(episode.seconds), n === 0 && episode.id === "today" ? "today" : "");
    b.dataset.id = episode.id;
    b.addEventListener("click", () => play(episode, b));
    li.append(b);
    list.append(li);
  }
}).catch(() => { status.textContent = "The computer did not answer; is voicecoach serve still running?"; });
