import { useState, type DragEvent } from 'react';
import type { BackendPreference } from '../runtime/engine-types';
import { useApp } from './store';
import { TopBar } from './components/TopBar';
import { Library } from './components/Library';
import { Composer } from './components/Composer';
import { ProgressPanel } from './components/ProgressPanel';
import { Gallery } from './components/Gallery';
import { DraftDialog } from './components/DraftDialog';
import { Notices } from './components/Notices';
import { ModelDialog } from './components/ModelDialog';

function hasFiles(e: DragEvent) {
  return Array.from(e.dataTransfer?.types ?? []).includes('Files');
}

export function App({ backendPreference }: { backendPreference: BackendPreference }) {
  const phase = useApp((s) => s.phase);
  const loadError = useApp((s) => s.loadError);
  const addFiles = useApp((s) => s.addFiles);
  const [dragging, setDragging] = useState(false);

  // The whole page is a drop target: photos become subjects, .dreamcache files are imported.
  return (
    <div
      className="app"
      data-phase={phase}
      data-testid="app"
      onDragEnter={(e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragOver={(e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = 'copy';
      }}
      onDragLeave={(e) => {
        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setDragging(false);
      }}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        const files = Array.from(e.dataTransfer?.files ?? []);
        if (files.length) void addFiles(files);
      }}
    >
      <TopBar backendPreference={backendPreference} />
      {phase === 'failed' && (
        <div className="banner banner-error" role="alert" data-testid="load-error">
          <strong>The model could not be loaded.</strong> {loadError}
        </div>
      )}
      <div className="layout">
        <Library />
        <main className="main">
          <Composer />
          <ProgressPanel />
          <Gallery />
        </main>
      </div>
      <DraftDialog />
      <ModelDialog />
      <Notices />
      {dragging && (
        <div className="drop-overlay" aria-hidden>
          <div className="drop-overlay-inner">Drop a photo to add a subject, or a .dreamcache file to import it</div>
        </div>
      )}
    </div>
  );
}
