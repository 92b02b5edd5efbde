// Bench page body: runs bench-core in a cross-origin-isolated page; the Node runner reads
// `window.__bench` back through Playwright.
import { runBench, type BenchResult } from './bench-core';

declare global {
  interface Window {
    __bench?: { done: boolean; result?: BenchResult; error?: string; log: string[] };
  }
}

const params = new URLSearchParams(location.search);
const state: NonNullable<Window['__bench']> = { done: false, log: [] };
window.__bench = state;
runBench({
  packUrl: new URL(params.get('pack') ?? '/pack/', location.href).toString(),
  threads: Number(params.get('threads') ?? '1'),
  steps: Number(params.get('steps') ?? '50'),
  log: (l) => state.log.push(l),
}).then(
  (result) => {
    state.result = { ...result, environment: `Chromium (headless), crossOriginIsolated=${String(self.crossOriginIsolated)}` };
    state.done = true;
  },
  (e) => {
    state.error = String((e as Error)?.stack ?? e);
    state.done = true;
  },
);
