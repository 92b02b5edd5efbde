import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { registerSW } from 'virtual:pwa-register';
import { App } from './ui/App';
import { useApp } from './ui/store';
import { createIdbStorage } from './ui/storage';
import { readPackUrl } from './ui/pack-choice';
import { BACKEND_STORAGE_KEY, readBackendPreference, readThreadCount } from './ui/backend-preference';
import { createWorkerEngine } from './workers/worker-engine';
import './ui/styles.css';

const backend = readBackendPreference(location.search, localStorage.getItem(BACKEND_STORAGE_KEY));

// The service worker precaches the app and the embedded pack for offline use. A new version
// takes over in the background; the page is not reloaded under the person's work.
if ('serviceWorker' in navigator) {
  registerSW({
    immediate: true,
    onOfflineReady: () => useApp.getState().notify('success', 'Ready to work offline.'),
    onNeedReload: () =>
      useApp.getState().notify('info', 'A new version of DreamCache Studio is installed.', {
        label: 'Reload',
        run: () => location.reload(),
      }),
  });
}

void useApp.getState().start({
  engine: createWorkerEngine(),
  storage: createIdbStorage(),
  packUrl: new URL(readPackUrl(location.search), location.href).toString(),
  backend,
  numThreads: readThreadCount(location.search),
  // ?pack= names the pack for this visit; otherwise the model chosen last time is restored.
  restoreActivePack: !new URLSearchParams(location.search).has('pack'),
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App backendPreference={backend} />
  </StrictMode>,
);
