// A short beep for new tickets, made with WebAudio (no audio file to download).

let context = null;

/** Browsers allow audio only after a user gesture: call this from a click or key handler. */
export function unlockAudio() {
  const Ctor = window.AudioContext || window.webkitAudioContext;
  if (!Ctor) return;
  if (!context) context = new Ctor();
  if (context.state === "suspended") context.resume().catch(() => {});
}

function tone(start, frequency, length) {
  const osc = context.createOscillator();
  const gain = context.createGain();
  osc.type = "sine";
  osc.frequency.value = frequency;
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
  osc.connect(gain).connect(context.destination);
  osc.start(start);
  osc.stop(start + length + 0.02);
}

/** One beep; two higher ones for urgent tickets. Returns whether a sound was scheduled. */
export function audioState() {
  return context ? context.state : "none";
}

export function beep(urgent = false) {
  if (!context || context.state !== "running") return false;
  const t = context.currentTime;
  tone(t, urgent ? 1046 : 880, 0.15);
  if (urgent) tone(t + 0.22, 1046, 0.15);
  return true;
}
