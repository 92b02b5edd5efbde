import { useMemo, useRef, useState, type PointerEvent } from 'react';
import { useApp } from '../store';
import { brushRadius, pointOnContainedImage, type Point } from '../mask-brush';
import { maskOverlay } from '../mask-overlay';
import { RgbaCanvas } from './RgbaCanvas';

export function DraftDialog() {
  const draft = useApp((s) => s.draft);
  const job = useApp((s) => s.job);
  const { acceptDraft, rejectDraft, setDraftName, paintDraftMask, commitDraftMask, resetDraftMask } = useApp.getState();
  const overlay = useMemo(() => (draft?.mask ? maskOverlay(draft.photo, draft.mask) : null), [draft?.photo, draft?.mask]);
  // Brush: keep (paint the subject in) or remove; size in % of the photo's shorter side.
  const [keep, setKeep] = useState(false);
  const [size, setSize] = useState(4);
  const last = useRef<Point | null>(null);
  if (!draft) return null;
  const building = draft.phase === 'building';
  const canPaint = draft.phase === 'review' && !!draft.mask;
  const radius = brushRadius(draft.photo.width, draft.photo.height, size);
  const pointOf = (e: PointerEvent<HTMLCanvasElement>) =>
    pointOnContainedImage(e.currentTarget.getBoundingClientRect(), draft.photo.width, draft.photo.height, e.clientX, e.clientY);
  const paint = {
    onPointerDown: (e: PointerEvent<HTMLCanvasElement>) => {
      const p = canPaint ? pointOf(e) : null;
      if (!p) return;
      e.currentTarget.setPointerCapture(e.pointerId);
      last.current = p;
      paintDraftMask(p, p, radius, keep);
    },
    onPointerMove: (e: PointerEvent<HTMLCanvasElement>) => {
      const p = last.current ? pointOf(e) : null;
      if (!p || !last.current) return;
      paintDraftMask(last.current, p, radius, keep);
      last.current = p;
    },
    onPointerUp: () => {
      if (!last.current) return;
      last.current = null;
      commitDraftMask();
    },
  };
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
              <RgbaCanvas
                image={overlay}
                className={`draft-canvas${canPaint ? ' is-paintable' : ''}`}
                label="Mask over the photo"
                data-testid="mask-canvas"
                onPointerCancel={paint.onPointerUp}
                {...paint}
              />
            ) : (
              <RgbaCanvas image={draft.photo} className="draft-canvas is-pending" label="Photo" />
            )}
            <figcaption>
              {draft.phase === 'segmenting'
                ? 'Finding the subject…'
                : draft.edited
                  ? 'Mask touched up by hand (dimmed parts are left out)'
                  : draft.mask?.source === 'alpha'
                    ? 'Mask from the PNG’s transparency — paint on it to fix it'
                    : 'Mask found by the segmenter (dimmed parts are left out) — paint on it to fix it'}
            </figcaption>
            {draft.mask && (
              <div className="brush-tools" role="group" aria-label="Touch up the mask">
                <button
                  className={`btn btn-small${keep ? '' : ' is-on'}`}
                  aria-pressed={!keep}
                  onClick={() => setKeep(false)}
                  disabled={!canPaint}
                  data-testid="brush-remove"
                >
                  Remove
                </button>
                <button
                  className={`btn btn-small${keep ? ' is-on' : ''}`}
                  aria-pressed={keep}
                  onClick={() => setKeep(true)}
                  disabled={!canPaint}
                  data-testid="brush-keep"
                >
                  Keep
                </button>
                <label className="brush-size">
                  <span>Brush</span>
                  <input
                    type="range"
                    min={1}
                    max={25}
                    value={size}
                    onChange={(e) => setSize(Number(e.target.value))}
                    disabled={!canPaint}
                    aria-label="Brush size"
                    data-testid="brush-size"
                  />
                </label>
                <button className="btn btn-ghost btn-small" onClick={resetDraftMask} disabled={!canPaint || !draft.edited} data-testid="reset-mask">
                  Reset mask
                </button>
              </div>
            )}
          </figure>
          <figure>
            {draft.onWhite ? (
              <RgbaCanvas image={draft.onWhite} className="draft-canvas" label="Subject on white" data-testid="on-white" />
            ) : draft.mask ? (
              <div className="draft-canvas draft-placeholder draft-empty" data-testid="empty-mask">
                Nothing is kept: paint the subject back in with Keep, or reset the mask.
              </div>
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
            disabled={draft.phase !== 'review' || !draft.onWhite}
            data-testid="accept-mask"
          >
            {building ? 'Building cache…' : 'Looks good — add subject'}
          </button>
        </footer>
      </div>
    </div>
  );
}
