// The sound of a new priority-1 incident: three short beeps made by a Web Audio oscillator in code, so the console
// carries no audio file and requests none. Browsers let a page play sound only after the user has interacted with it
// (the sign-in click counts); until then the context stays suspended and is resumed by the next click or key. The
// operator's mute choice is kept in localStorage (a preference, not a secret).
const storageKey = 'sharpeyes.console.inbox.muted';

let context: AudioContext | undefined;
let beeps = 0;

export const muted = () => localStorage.getItem(storageKey) === 'true';

export function setMuted(value: boolean) {
  localStorage.setItem(storageKey, String(value));
  document.documentElement.dataset.inboxMuted = String(value);
}

function audio(): AudioContext | undefined {
  if (!context && typeof AudioContext !== 'undefined') {
    context = new AudioContext();
  }
  return context;
}

/** Resumes a suspended context on the user's next gesture (a browser starts one suspended before any gesture). */
export function unlockOnGesture() {
  document.documentElement.dataset.inboxMuted = String(muted());
  const unlock = () => {
    const ctx = audio();
    if (ctx?.state === 'suspended') {
      void ctx.resume();
    }
  };
  document.addEventListener('pointerdown', unlock, { capture: true });
  document.addEventListener('keydown', unlock, { capture: true });
}

/** Three beeps at 880 Hz, 0.18 s each: unless muted. Counted in data-inbox-beeps (what the browser test reads). */
export function beep() {
  if (muted()) {
    return;
  }
  const ctx = audio();
  if (!ctx) {
    return;
  }
  if (ctx.state === 'suspended') {
    void ctx.resume();
  }
  const start = ctx.currentTime + 0.05;
  for (let i = 0; i < 3; i++) {
    const at = start + i * 0.3;
    const oscillator = ctx.createOscillator();
    const gain = ctx.createGain();
    oscillator.type = 'square';
    oscillator.frequency.value = 880;
    // A short ramp in and out: no click at either end.
    gain.gain.setValueAtTime(0, at);
    gain.gain.linearRampToValueAtTime(0.25, at + 0.02);
    gain.gain.setValueAtTime(0.25, at + 0.16);
    gain.gain.linearRampToValueAtTime(0, at + 0.18);
    oscillator.connect(gain).connect(ctx.destination);
    oscillator.start(at);
    oscillator.stop(at + 0.2);
  }
  beeps++;
  document.documentElement.dataset.inboxBeeps = String(beeps);
  document.documentElement.dataset.inboxAudio = ctx.state;
}
