import { useMemo } from 'react';
import { useApp } from '../store';
import { maskOverlay } from '../mask-overlay';
import { RgbaCanvas } from './RgbaCanvas';

export function DraftDialog() {
  const draft = useApp((s) => s.draft);
  const job = useApp((s) => s.job);
  const { acceptDraft, rejectDraft, setDraftName } = useApp.getState();
  const overlay = useMemo(() => (draft?.mask ? maskOverlay(draft.photo, draft.mask) : null), [draft?.photo, draft?.mask]);
  if (!draft) return null;
  const building = draft.phase === 'building';
  return (
    <div className="modal-backdrop">
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby="draft-title" data-testid="mask-preview">
        <header className="modal-head">
          <h2 id="draft-title">New subject</h2>
          <span className="dim">{draft.fileName}</span>
        </header>
        <div className="draft-images">
          <figure>
            {overlay ? (
              <RgbaCanvas image={overlay} className="draft-canvas" label="Mask over the photo" />
            ) : (
              <RgbaCanvas image={draft.photo} className="draft-canvas is-pending" label="Photo" />
            )}
            <figcaption>
              {draft.phase === 'segmenting'
                ? 'Finding the subject…'
                : draft.mask?.source === 'alpha'
                  ? 'Mask from the PNG’s transparency'
                  : 'Mask found by the segmenter (dimmed parts are left out)'}
            </figcaption>
          </figure>
          <figure>
            {draft.onWhite ? (
              <RgbaCanvas image={draft.onWhite} className="draft-canvas" label="Subject on white" />
            ) : (
              <div className="draft-canvas draft-placeholder">
                <span className="spinner" aria-hidden />
              </div>
            )}
            <figcaption>What the model sees</figcaption>
          </figure>
        </div>
        <label className="field">
          <span>Name</span>
          <input
            value={draft.name}
            onChange={(e) => setDraftName(e.target.value)}
            maxLength={60}
            disabled={building}
            data-testid="draft-name"
          />
        </label>
        {building && (
          <div className="progress-bar" role="progressbar" aria-label="Building the cache">
            <div className="progress-fill is-indeterminate" style={{ width: job && job.total ? `${(100 * job.step) / job.total}%` : '35%' }} />
          </div>
        )}
        <footer className="modal-foot">
          <button className="btn btn-ghost" onClick={rejectDraft} disabled={building} data-testid="reject-mask">
            Discard
          </button>
          <button
            className="btn btn-primary"
            onClick={() => void acceptDraft()}
            disabled={draft.phase !== 'review'}
            data-testid="accept-mask"
          >
            {building ? 'Building cache…' : 'Looks good — add subject'}
          </button>
        </footer>
      </div>
    </div>
  );
}
