import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { registerSW } from 'virtual:pwa-register';
import { App } from './ui/App';
import { useApp } from './ui/store';
import { createIdbStorage } from './ui/storage';
import { DEFAULT_PACK_URL } from './ui/config';
import { BACKEND_STORAGE_KEY, readBackendPreference, readThreadCount } from './ui/backend-preference';
import { createWorkerEngine } from './workers/worker-engine';
import './ui/styles.css';

const backend = readBackendPreference(location.search, localStorage.getItem(BACKEND_STORAGE_KEY));

// The service worker precaches the app and the embedded pack for offline use.
if ('serviceWorker' in navigator) registerSW({ immediate: true });

void useApp.getState().start({
  engine: createWorkerEngine(),
  storage: createIdbStorage(),
  packUrl: new URL(DEFAULT_PACK_URL, location.href).toString(),
  backend,
  numThreads: readThreadCount(location.search),
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App backendPreference={backend} />
  </StrictMode>,
);
