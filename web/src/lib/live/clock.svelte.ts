/**
 * The current time, ticking every `intervalMs` while the component lives: for durations of
 * what is still running and "in 8 s" countdowns. Call during component setup.
 */
export function createClock(intervalMs = 1000) {
  let now = $state(Date.now());
  $effect(() => {
    const timer = setInterval(() => (now = Date.now()), intervalMs);
    return () => clearInterval(timer);
  });
  return {
    get now() {
      return now;
    },
  };
}
