// ORT's wasm runs resolve through microtasks only, so a loop of awaited runs never lets a
// worker see its next message (the cancel). Yielding a macrotask between steps does.

type Immediate = (cb: () => void) => unknown;

export function yieldToEventLoop(): Promise<void> {
  const setImmediateFn = (globalThis as { setImmediate?: Immediate }).setImmediate;
  if (setImmediateFn) return new Promise((ok) => void setImmediateFn(ok));
  if (typeof MessageChannel !== 'undefined') {
    // unlike setTimeout, not clamped to 4 ms when nested
    return new Promise((ok) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        ok();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((ok) => setTimeout(ok, 0));
}
