import { useEffect, useRef, useState } from 'react';
import { useApp, type PackEntry } from '../store';
import { formatSize } from '../../runtime/device-fit';
import type { ActivePack } from '../storage';

type DirectoryPicker = () => Promise<Parameters<ReturnType<typeof useApp.getState>['addPackDirectory']>[0]>;

function directoryPicker(): DirectoryPicker | null {
  const w = window as unknown as { showDirectoryPicker?: (o?: object) => Promise<unknown> };
  return w.showDirectoryPicker ? (() => w.showDirectoryPicker!({ mode: 'read' })) as DirectoryPicker : null;
}

function embeddedName(url: string): string {
  return url.replace(/\/+$/, '').split('/').pop() || 'built-in';
}

export function ModelDialog() {
  const open = useApp((s) => s.modelMenuOpen);
  const packs = useApp((s) => s.packs);
  const active = useApp((s) => s.activePack);
  const loaded = useApp((s) => s.loaded);
  const phase = useApp((s) => s.phase);
  const task = useApp((s) => s.packTask);
  const error = useApp((s) => s.packError);
  const message = useApp((s) => s.packMessage);
  const busy = useApp((s) => s.job !== null || s.draft !== null);
  const embeddedUrl = useApp((s) => s.embeddedPackUrl);
  const embedded = useApp((s) => s.embeddedInfo);
  const { setModelMenuOpen, addPackFiles, addPackDirectory, addPackUrl, switchPack, deletePack } = useApp.getState();
  const folderInput = useRef<HTMLInputElement>(null);
  const filesInput = useRef<HTMLInputElement>(null);
  const [url, setUrl] = useState('');

  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && !useApp.getState().packTask && setModelMenuOpen(false);
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open, setModelMenuOpen]);

  if (!open) return null;
  const working = task !== null || phase === 'loading';
  const pickFiles = (input: HTMLInputElement) => {
    const files = Array.from(input.files ?? []);
    input.value = '';
    if (files.length === 0) return;
    const rel = (files[0] as File & { webkitRelativePath?: string }).webkitRelativePath;
    void addPackFiles(files, rel ? rel.split('/')[0] : `${files.length} picked files`);
  };
  const chooseFolder = async () => {
    const picker = directoryPicker();
    if (!picker) {
      folderInput.current?.click();
      return;
    }
    try {
      await addPackDirectory(await picker());
    } catch (e) {
      // closing the picker is not an error
      if ((e as Error).name !== 'AbortError') folderInput.current?.click();
    }
  };
  const isActive = (a: ActivePack) => a.kind === active.kind && (a.kind === 'embedded' || (active.kind === 'stored' && a.id === active.id));

  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && !working && setModelMenuOpen(false)}>
      <div className="modal model-dialog" role="dialog" aria-modal="true" aria-labelledby="model-title" data-testid="model-dialog">
        <header className="modal-head">
          <h2 id="model-title">Models</h2>
          <span className="dim">Subjects and images remember the model that made them.</span>
          <button className="icon-btn modal-close" onClick={() => setModelMenuOpen(false)} disabled={task !== null} aria-label="Close">
            ✕
          </button>
        </header>

        <ul className="pack-list" data-testid="pack-list">
          <PackRow
            title={embedded?.name ?? (active.kind === 'embedded' && loaded ? loaded.manifest.name : embeddedName(embeddedUrl))}
            version={embedded?.version ?? (active.kind === 'embedded' && loaded ? loaded.manifest.version : null)}
            trained={embedded?.trained ?? (active.kind === 'embedded' && loaded ? loaded.manifest.trained : true)}
            meta="built in · always available offline"
            active={isActive({ kind: 'embedded' })}
            disabled={working || busy}
            onUse={() => void switchPack({ kind: 'embedded' })}
          />
          {packs.map((p) => (
            <PackRow
              key={p.id}
              pack={p}
              title={p.name}
              version={p.version}
              trained={p.trained}
              meta={`${formatSize(p.bytes)} stored · from ${p.origin}`}
              active={isActive({ kind: 'stored', id: p.id })}
              disabled={working || busy}
              onUse={() => void switchPack({ kind: 'stored', id: p.id })}
              onDelete={() => {
                if (confirm(`Delete the stored model “${p.name} ${p.version}” (${formatSize(p.bytes)})?`)) void deletePack(p.id);
              }}
            />
          ))}
        </ul>
        {busy && <p className="dim small">Finish the current generation or subject before switching models.</p>}

        <section className="pack-add" aria-label="Add a model pack">
          <h3>Add a model pack</h3>
          <p className="dim small">
            A folder with <code>manifest.json</code> and the files it lists (docs/model-pack.md). Every file is checked against the
            manifest, then stored in this browser for offline use.
          </p>
          <div className="pack-add-row">
            <button className="btn" onClick={() => void chooseFolder()} disabled={working} data-testid="pack-folder">
              Choose folder…
            </button>
            <button className="btn btn-ghost" onClick={() => filesInput.current?.click()} disabled={working} title="Select every file of the pack">
              Choose files…
            </button>
          </div>
          <form
            className="pack-add-row"
            onSubmit={(e) => {
              e.preventDefault();
              void addPackUrl(url).then((ok) => ok && setUrl(''));
            }}
          >
            <input
              className="pack-url"
              type="url"
              placeholder="https://example.com/packs/sd15/"
              value={url}
              onChange={(e) => setUrl(e.target.value)}
              disabled={working}
              aria-label="Pack URL"
              data-testid="pack-url"
            />
            <button className="btn" type="submit" disabled={working || !url.trim()} data-testid="pack-url-load">
              Load from URL
            </button>
          </form>
          <input
            ref={folderInput}
            type="file"
            hidden
            multiple
            {...({ webkitdirectory: '' } as object)}
            onChange={(e) => pickFiles(e.currentTarget)}
            data-testid="pack-folder-input"
          />
          <input ref={filesInput} type="file" hidden multiple onChange={(e) => pickFiles(e.currentTarget)} data-testid="pack-files-input" />
        </section>

        {task && (
          <div className="pack-task" data-testid="pack-progress">
            <div className="progress-title">
              <span>{task.message}…</span>
              {task.total > 0 && <span className="progress-count">{Math.round((100 * task.loaded) / task.total)}%</span>}
            </div>
            <div className="progress-bar" role="progressbar" aria-label={task.message}>
              <div
                className={`progress-fill ${task.total > 0 ? '' : 'is-indeterminate'}`}
                style={{ width: task.total > 0 ? `${(100 * task.loaded) / task.total}%` : '35%' }}
              />
            </div>
          </div>
        )}
        {error && (
          <div className="pack-error" role="alert" data-testid="pack-error">
            {error}
          </div>
        )}
        {message && !error && (
          <div className="pack-message" role="status" data-testid="pack-message">
            {message}
          </div>
        )}
      </div>
    </div>
  );
}

function PackRow(props: {
  pack?: PackEntry;
  title: string;
  version: string | null;
  trained: boolean;
  meta: string;
  active: boolean;
  disabled: boolean;
  onUse: () => void;
  onDelete?: () => void;
}) {
  return (
    <li className={`pack-row ${props.active ? 'is-active' : ''}`} data-testid="pack-row" data-pack-name={props.title}>
      <div className="pack-info">
        <div className="pack-title">
          <strong>{props.title}</strong>
          {props.version && <span className="dim">v{props.version}</span>}
          {!props.trained && <span className="tag tag-warn">untrained</span>}
          {props.active && <span className="tag tag-accent">in use</span>}
        </div>
        <div className="pack-meta dim" title={props.pack?.description}>
          {props.meta}
        </div>
      </div>
      <div className="pack-actions">
        {!props.active && (
          <button className="btn btn-small" onClick={props.onUse} disabled={props.disabled} data-testid="use-pack">
            Use
          </button>
        )}
        {props.onDelete && !props.active && (
          <button
            className="icon-btn icon-btn-danger"
            onClick={props.onDelete}
            disabled={props.disabled}
            title="Delete the stored pack"
            aria-label={`Delete ${props.title}`}
            data-testid="delete-pack"
          >
            ✕
          </button>
        )}
      </div>
    </li>
  );
}
