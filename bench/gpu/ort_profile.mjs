// Per-kernel GPU profile of onnxruntime-web's native WebGPU EP (ort.webgpu.min.mjs), for ort_bench.mjs.
//
// How ORT 1.30 exposes it (checked in its sources, not the docs): `env.webgpu.profiling.ondata` is
// JSEP-only (lib/wasm/jsep/backend-webgpu.ts); the native EP never reads it. There, profiling is
// ORT's session profiler: the session option `enableProfiling` (set at creation; JS
// startProfiling() is a no-op) makes the EP time every dispatch with timestamp queries (the
// 'timestamp-query' feature, which it requests itself when the adapter has it: one compute pass
// per dispatch while profiling) and `session.endProfiling()` prints the whole Chrome-trace JSON to
// stdout (core/common/profiler.h: on wasm the profile stream is std::cout), one event per line,
// through emscripten's `fs.writeSync(1, …)`. GPU events: cat "Api", name
// "<node>&<opType>&<program>", args.shapes "inputs[0] = {2,320,64,64} … outputs[0] = {…} ",
// ts/dur in µs of GPU time; CPU events: cat "Node" "<node>_kernel_time" (args.op_name) and
// cat "Session" "model_run", one per run.
import fs from 'node:fs';
import { gzipSync } from 'node:zlib';

/** Runs `fn` with fd-1 string writes through `fs.writeSync` captured (ORT's trace, not our logs:
 * console.log goes through process.stdout, which does not use this property); returns them. */
export async function captureFd1(fn) {
  const orig = fs.writeSync;
  const chunks = [];
  fs.writeSync = function (fd, data, ...rest) {
    if (fd === 1 && typeof data === 'string') {
      chunks.push(data);
      return Buffer.byteLength(data);
    }
    return orig.call(this, fd, data, ...rest);
  };
  try {
    await fn();
  } finally {
    fs.writeSync = orig;
  }
  return chunks.join('');
}

const num = (re, line) => {
  const m = re.exec(line);
  return m ? Number(m[1]) : NaN;
};

/** One trace line → event, or null. Names and args are not JSON-escaped by ORT: fall back to regexes. */
function parseLine(line) {
  const s = line.trim().replace(/,$/, '');
  if (!s.startsWith('{"cat"')) return null;
  try {
    return JSON.parse(s);
  } catch {
    const str = (re) => re.exec(s)?.[1];
    return { cat: str(/"cat"\s*:\s*"([^"]*)"/), dur: num(/"dur"\s*:\s*(-?\d+)/, s), ts: num(/"ts"\s*:\s*(-?\d+)/, s),
      name: str(/"name"\s*:\s*"(.*)",\s*"args"/) ?? '',
      args: { shapes: str(/"shapes"\s*:\s*"([^"]*)"/), op_name: str(/"op_name"\s*:\s*"([^"]*)"/) } };
  }
}

/** Trace text → {gpu, cpu, runs}: GPU dispatches, CPU kernel calls, model_run windows, each sorted by ts. */
export function parseTrace(text) {
  const gpu = [];
  const cpu = [];
  const runs = [];
  for (const line of text.split('\n')) {
    const e = parseLine(line);
    if (!e || !Number.isFinite(e.ts) || !Number.isFinite(e.dur)) continue;
    if (e.cat === 'Api' && e.name.includes('&')) {
      const parts = e.name.split('&');
      gpu.push({ ts: e.ts, dur: e.dur, program: parts.at(-1), opType: parts.at(-2), node: parts.slice(0, -2).join('&'),
        shapes: (e.args?.shapes ?? '').trim() });
    } else if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) {
      cpu.push({ ts: e.ts, dur: e.dur, opType: e.args?.op_name ?? '?', node: e.name.slice(0, -'_kernel_time'.length),
        provider: e.args?.provider });
    } else if (e.cat === 'Session' && e.name === 'model_run') {
      runs.push({ ts: e.ts, dur: e.dur });
    }
  }
  for (const a of [gpu, cpu, runs]) a.sort((x, y) => x.ts - y.ts);
  return { gpu, cpu, runs };
}

/** Sums `dur` (µs) per key, as ms per call. */
function groupBy(events, key, calls) {
  const m = new Map();
  for (const e of events) {
    const k = key(e);
    const g = m.get(k) ?? { us: 0, n: 0, items: [] };
    g.us += e.dur;
    g.n += 1;
    g.items.push(e);
    m.set(k, g);
  }
  return [...m.entries()].map(([k, g]) => ({ key: k, msPerCall: g.us / 1e3 / calls, perCall: g.n / calls, items: g.items }))
    .sort((a, b) => b.msPerCall - a.msPerCall);
}

const round = (x, d = 3) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);

/**
 * The profiled calls' events → the stage's result. The trace holds every run of the profiling
 * session (warm-up included): the last `calls` model_run windows select the CPU events, and the
 * GPU events (GPU clock, not aligned with the CPU one) are cut into equal per-run blocks, each run
 * dispatching the same programs. `wallMs`: JS wall time of each profiled call; `unprofiledMs`:
 * the timed unet_b2 median (profiling adds a pass and timestamps per dispatch).
 */
export function aggregate(trace, { calls, totalRuns, wallMs, unprofiledMs, top = 25 }) {
  const out = { calls, totalRuns, gpuEvents: trace.gpu.length, cpuEvents: trace.cpu.length, modelRuns: trace.runs.length };
  // GPU: equal blocks when the count divides evenly, else every run's events averaged.
  let gpu = trace.gpu;
  let gpuCalls = totalRuns;
  const perRun = trace.gpu.length / totalRuns;
  const gpuSegmented = trace.gpu.length > 0 && Number.isInteger(perRun);
  if (gpuSegmented) {
    gpu = trace.gpu.slice(trace.gpu.length - calls * perRun);
    gpuCalls = calls;
  }
  out.gpuSegmented = gpuSegmented;
  out.kernelsPerCall = round(gpu.length / Math.max(1, gpuCalls), 1);
  const gpuUs = gpu.reduce((s, e) => s + e.dur, 0);
  out.gpuKernelMsPerCall = round(gpuUs / 1e3 / Math.max(1, gpuCalls));
  // Dawn quantizes timestamps unless told not to (ort_bench passes the flag): many zero-length
  // dispatches would say it did anyway, making per-kernel times coarse (sums stay unbiased).
  out.zeroDurShare = gpu.length ? round(gpu.filter((e) => e.dur === 0).length / gpu.length, 3) : null;
  if (gpuSegmented) {
    // First dispatch start to last dispatch end per call: the GPU timeline, idle gaps included.
    const spans = [];
    for (let c = 0; c < calls; c++) {
      const blk = gpu.slice(c * perRun, (c + 1) * perRun);
      spans.push((Math.max(...blk.map((e) => e.ts + e.dur)) - blk[0].ts) / 1e3);
    }
    out.gpuSpanMsPerCall = round(spans.reduce((s, x) => s + x, 0) / spans.length);
  }
  // CPU: node kernel calls inside the last `calls` model_run windows.
  const runs = trace.runs.slice(-calls);
  const inRuns = (e) => runs.some((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur);
  const cpu = runs.length ? trace.cpu.filter(inRuns) : [];
  out.ortRunMsPerCall = runs.length ? round(runs.reduce((s, r) => s + r.dur, 0) / 1e3 / runs.length) : null;
  out.cpuKernelMsPerCall = runs.length ? round(cpu.reduce((s, e) => s + e.dur, 0) / 1e3 / runs.length) : null;
  out.wallMsPerCall = wallMs.length ? round(wallMs.reduce((s, x) => s + x, 0) / wallMs.length) : null;
  out.unprofiledWallMs = round(unprofiledMs);
  // GPU-bound when the kernels fill the (unprofiled) call; far below it, the GPU waits on the CPU.
  const ref = unprofiledMs ?? out.wallMsPerCall;
  if (ref && gpuUs > 0) {
    out.gpuBusyOfWall = round(out.gpuKernelMsPerCall / ref);
    out.bound = out.gpuBusyOfWall >= 0.8 ? 'GPU-bound' : out.gpuBusyOfWall <= 0.5 ? 'CPU/dispatch-bound' : 'mixed';
  }
  const total = out.gpuKernelMsPerCall || 1;
  const cpuByOp = new Map(groupBy(cpu, (e) => e.opType, Math.max(1, runs.length)).map((g) => [g.key, g.msPerCall]));
  out.byOpType = groupBy(gpu, (e) => e.opType, gpuCalls).map((g) => ({ opType: g.key, msPerCall: round(g.msPerCall),
    share: round(g.msPerCall / total, 4), kernelsPerCall: round(g.perCall, 1), cpuMsPerCall: round(cpuByOp.get(g.key) ?? 0) }));
  // CPU side per op type (ORT's kernel calls: on WebGPU, recording and submitting the dispatches).
  out.cpuByOpType = groupBy(cpu, (e) => e.opType, Math.max(1, runs.length)).slice(0, top)
    .map((g) => ({ opType: g.key, msPerCall: round(g.msPerCall), callsPerRun: round(g.perCall, 1) }));
  out.topPrograms = groupBy(gpu, (e) => e.program, gpuCalls).slice(0, top).map((g) => ({
    program: g.key,
    opTypes: [...new Set(g.items.map((e) => e.opType))],
    msPerCall: round(g.msPerCall),
    share: round(g.msPerCall / total, 4),
    dispatchesPerCall: round(g.perCall, 1),
    meanUs: round((g.msPerCall * 1e3) / g.perCall, 1),
    shapes: groupBy(g.items, (e) => e.shapes, gpuCalls).slice(0, 3)
      .map((s) => ({ shapes: s.key, msPerCall: round(s.msPerCall), perCall: round(s.perCall, 1) })),
  }));
  out.topKernels = groupBy(gpu, (e) => `${e.node}&${e.program}`, gpuCalls).slice(0, 15).map((g) => ({
    node: g.items[0].node, opType: g.items[0].opType, program: g.items[0].program, msPerCall: round(g.msPerCall),
    share: round(g.msPerCall / total, 4), shapes: g.items[0].shapes }));
  return out;
}

/** The last profiled call's events, gzipped Chrome-trace JSON (chrome://tracing, Perfetto). */
export function lastCallTrace(trace, { calls, totalRuns }) {
  const perRun = trace.gpu.length / totalRuns;
  const gpu = Number.isInteger(perRun) && perRun > 0 ? trace.gpu.slice(-perRun) : [];
  const run = trace.runs.at(-1);
  const cpu = run ? trace.cpu.filter((e) => e.ts >= run.ts && e.ts <= run.ts + run.dur) : [];
  const ev = [
    ...gpu.map((e) => ({ ph: 'X', pid: 1, tid: 1, ts: e.ts - (gpu[0]?.ts ?? 0), dur: e.dur, name: e.program,
      cat: e.opType, args: { node: e.node, shapes: e.shapes } })),
    ...cpu.map((e) => ({ ph: 'X', pid: 2, tid: 1, ts: e.ts - (run?.ts ?? 0), dur: e.dur, name: e.opType, args: { node: e.node } })),
  ];
  return gzipSync(JSON.stringify({ traceEvents: ev, metadata: { calls, totalRuns, note: 'pid 1: GPU (timestamp queries), pid 2: CPU kernel calls; each clock from its own zero' } }));
}
