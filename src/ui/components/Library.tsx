import { useRef, useState } from 'react';
import { useApp, type SubjectView } from '../store';
import { downloadBlob } from '../download';
import { usesCacheOf } from '../../runtime/pack';
import { DREAMCACHE_EXTENSION } from '../file-kind';

const PHOTO_TYPES = 'image/jpeg,image/png,image/webp,.jpg,.jpeg,.png,.webp';

export function Library() {
  const subjects = useApp((s) => s.subjects);
  const loaded = useApp((s) => s.loaded);
  // Subjects only work with the pack that cached them (or one declaring it compatible): the active pack's first, others apart.
  const mine = loaded ? subjects.filter((s) => usesCacheOf(loaded, s.fingerprint)) : subjects;
  const others = loaded ? subjects.filter((s) => !usesCacheOf(loaded, s.fingerprint)) : [];
  const selected = useApp((s) => s.selectedSubjectId);
  const ready = useApp((s) => s.phase === 'ready');
  const busy = useApp((s) => s.job !== null || s.draft !== null);
  const addFiles = useApp((s) => s.addFiles);
  const selectSubject = useApp((s) => s.selectSubject);
  const rebuildSubjects = useApp((s) => s.rebuildSubjects);
  const photoInput = useRef<HTMLInputElement>(null);
  const cacheInput = useRef<HTMLInputElement>(null);

  const pick = (input: HTMLInputElement) => {
    const files = Array.from(input.files ?? []);
    input.value = '';
    void addFiles(files);
  };

  return (
    <aside className="sidebar" aria-label="Subject library">
      <div className="section-head">
        <h2>Subjects</h2>
        <button
          className="btn btn-ghost btn-small"
          onClick={() => cacheInput.current?.click()}
          disabled={!ready}
          title="Import a .dreamcache subject file"
          data-testid="import-button"
        >
          Import…
        </button>
      </div>
      <button
        className="dropzone"
        onClick={() => photoInput.current?.click()}
        disabled={busy}
        data-testid="dropzone"
      >
        <span className="dropzone-icon" aria-hidden>
          ＋
        </span>
        <span className="dropzone-title">Add a subject</span>
        <span className="dropzone-hint">Drop a photo (JPEG, PNG, WebP) or click to pick one. A PNG cut-out with transparency is used as is.</span>
      </button>
      <input ref={photoInput} type="file" accept={PHOTO_TYPES} hidden onChange={(e) => pick(e.currentTarget)} data-testid="photo-input" />
      <input
        ref={cacheInput}
        type="file"
        accept={DREAMCACHE_EXTENSION}
        hidden
        onChange={(e) => pick(e.currentTarget)}
        data-testid="cache-input"
      />
      <ul className="subject-list" data-testid="subject-list">
        <li>
          <button
            className={`subject subject-none ${selected === null ? 'is-selected' : ''}`}
            onClick={() => selectSubject(null)}
            aria-pressed={selected === null}
            data-testid="subject-none"
          >
            <span className="subject-thumb subject-thumb-empty" aria-hidden>
              ∅
            </span>
            <span className="subject-name">No subject</span>
            <span className="subject-meta">plain text-to-image</span>
          </button>
        </li>
        {mine.map((s) => (
          <SubjectCard key={s.id} subject={s} selected={s.id === selected} />
        ))}
        {others.length > 0 && (
          <li className="library-group" data-testid="other-pack-subjects">
            <span>Made with other models</span>
            {others.length > 1 && (
              <button
                className="btn btn-ghost btn-small"
                onClick={() => void rebuildSubjects(others.map((s) => s.id))}
                disabled={!ready || busy}
                title="Build each of these subjects again for the model in use, from its stored picture"
                data-testid="rebuild-all"
              >
                Rebuild all
              </button>
            )}
          </li>
        )}
        {others.map((s) => (
          <SubjectCard key={s.id} subject={s} selected={false} />
        ))}
      </ul>
      {subjects.length === 0 && (
        <p className="empty-hint" data-testid="library-empty">
          Your library is empty. Add a photo of a pet, a toy or an object to personalize images with it.
        </p>
      )}
    </aside>
  );
}

function SubjectCard({ subject, selected }: { subject: SubjectView; selected: boolean }) {
  const loaded = useApp((s) => s.loaded);
  const selectSubject = useApp((s) => s.selectSubject);
  const renameSubject = useApp((s) => s.renameSubject);
  const deleteSubject = useApp((s) => s.deleteSubject);
  const exportSubject = useApp((s) => s.exportSubject);
  const rebuildSubjects = useApp((s) => s.rebuildSubjects);
  const canRebuild = useApp((s) => s.phase === 'ready' && s.job === null && s.draft === null);
  const [editing, setEditing] = useState(false);
  const foreign = loaded !== null && !usesCacheOf(loaded, subject.fingerprint);
  // Same name, other fingerprint: the model was updated since the subject was made.
  const origin = loaded !== null && subject.packName === loaded.manifest.name ? `an earlier ${subject.packName}` : subject.packName;

  const onExport = async () => {
    const file = await exportSubject(subject.id);
    if (file) downloadBlob(file.blob, file.fileName);
  };

  return (
    <li className={`subject-row ${selected ? 'is-selected' : ''} ${foreign ? 'is-foreign' : ''}`} data-testid="subject">
      <button
        className="subject"
        onClick={() => selectSubject(subject.id)}
        aria-pressed={selected}
        disabled={foreign}
        title={foreign ? `Made with ${origin}: rebuild it (↻) to use it with this model` : `Use “${subject.name}”`}
      >
        <img className="subject-thumb" src={subject.thumbnailUrl} alt="" />
        {editing ? null : (
          <span className="subject-name" data-testid="subject-name">
            {subject.name}
          </span>
        )}
        {!editing && (
          <span className="subject-meta">{foreign ? `made with ${origin}` : new Date(subject.createdAt).toLocaleDateString()}</span>
        )}
      </button>
      {editing && (
        <form
          className="rename-form"
          onSubmit={(e) => {
            e.preventDefault();
            const name = new FormData(e.currentTarget).get('name');
            void renameSubject(subject.id, String(name ?? ''));
            setEditing(false);
          }}
        >
          <input
            name="name"
            defaultValue={subject.name}
            autoFocus
            maxLength={60}
            aria-label="Subject name"
            onBlur={(e) => e.currentTarget.form?.requestSubmit()}
            onKeyDown={(e) => e.key === 'Escape' && setEditing(false)}
            data-testid="rename-input"
          />
        </form>
      )}
      <div className="subject-actions">
        {foreign && (
          <button
            className="icon-btn"
            onClick={() => void rebuildSubjects([subject.id])}
            disabled={!canRebuild}
            title="Rebuild for this model from the stored picture"
            aria-label={`Rebuild ${subject.name} for this model`}
            data-testid="rebuild-subject"
          >
            ↻
          </button>
        )}
        <button className="icon-btn" onClick={() => setEditing(true)} title="Rename" aria-label={`Rename ${subject.name}`}>
          ✎
        </button>
        <button
          className="icon-btn"
          onClick={() => void onExport()}
          title="Export as a .dreamcache file"
          aria-label={`Export ${subject.name}`}
          data-testid="export-subject"
        >
          ⤓
        </button>
        <button
          className="icon-btn icon-btn-danger"
          onClick={() => {
            if (confirm(`Delete “${subject.name}” from your library?`)) void deleteSubject(subject.id);
          }}
          title="Delete"
          aria-label={`Delete ${subject.name}`}
          data-testid="delete-subject"
        >
          ✕
        </button>
      </div>
    </li>
  );
}
