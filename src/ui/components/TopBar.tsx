import { useApp } from '../store';
import { BACKEND_STORAGE_KEY } from '../backend-preference';
import type { BackendPreference } from '../../runtime/engine-types';

function switchBackend(choice: BackendPreference) {
  localStorage.setItem(BACKEND_STORAGE_KEY, choice);
  const url = new URL(location.href);
  url.searchParams.delete('backend');
  location.assign(url.toString());
}

export function TopBar({ backendPreference }: { backendPreference: BackendPreference }) {
  const loaded = useApp((s) => s.loaded);
  const phase = useApp((s) => s.phase);
  const loadProgress = useApp((s) => s.loadProgress);
  const setModelMenuOpen = useApp((s) => s.setModelMenuOpen);
  return (
    <header className="topbar">
      <div className="brand">
        <img src="icons/icon.svg" alt="" width={28} height={28} />
        <span className="brand-name">DreamCache Studio</span>
      </div>
      <div className="badges">
        {phase === 'loading' && (
          <span className="badge badge-muted" data-testid="load-status">
            <span className="spinner" aria-hidden />
            {loadProgress?.message ?? 'Loading model…'}
            {loadProgress && loadProgress.total > 0 && ` ${Math.round((100 * loadProgress.step) / loadProgress.total)}%`}
          </span>
        )}
        {loaded && (
          <>
            <span className="badge" title={loaded.manifest.description} data-testid="pack-badge">
              {loaded.manifest.name} <span className="badge-dim">v{loaded.manifest.version}</span>
            </span>
            {!loaded.manifest.trained && (
              <span
                className="badge badge-warn"
                data-testid="untrained-badge"
                title="This model pack has random weights: it exercises the whole pipeline but its images are noise."
              >
                untrained model
              </span>
            )}
            <span
              className="badge badge-accent"
              data-testid="backend-badge"
              title={`ONNX Runtime backend${crossOriginIsolated ? ' (cross-origin isolated)' : ' (not cross-origin isolated: 1 wasm thread)'}`}
            >
              {loaded.backend.label}
            </span>
          </>
        )}
        <button
          className="btn btn-ghost model-btn"
          onClick={() => setModelMenuOpen(true)}
          title="Load, switch or delete model packs"
          data-testid="model-menu"
        >
          Model…
        </button>
        <label className="backend-select" title="Which ONNX Runtime backend to use (reloads the page)">
          <span className="sr-only">Backend</span>
          <select
            value={backendPreference}
            onChange={(e) => switchBackend(e.target.value as BackendPreference)}
            data-testid="backend-select"
          >
            <option value="auto">Auto</option>
            <option value="webgpu">WebGPU</option>
            <option value="wasm">wasm</option>
          </select>
        </label>
      </div>
    </header>
  );
}
