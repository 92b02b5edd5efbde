import { useApp } from '../store';
import { RgbaCanvas } from './RgbaCanvas';
import { formatDuration } from '../job-progress';
import { stepsLeft } from '../image-batch';

const KIND_LABEL = { segment: 'Finding the subject', cache: 'Building the subject cache', generate: 'Generating' } as const;

export function ProgressPanel() {
  const job = useApp((s) => s.job);
  if (!job || job.kind !== 'generate') return null;
  const fraction = job.total > 0 ? job.step / job.total : 0;
  const perStep = job.secondsPerStep;
  const run = job.run ?? { index: 1, count: 1 };
  const remaining = perStep !== null ? stepsLeft(job.step, job.total, run.index, run.count) * perStep : null;
  return (
    <section className="progress-panel" aria-live="polite" data-testid="progress-panel">
      <div className="progress-preview">
        {job.preview ? (
          <RgbaCanvas image={job.preview} className="pixel-canvas" label="Live preview" />
        ) : (
          <div className="preview-placeholder">
            <span className="spinner" aria-hidden />
          </div>
        )}
      </div>
      <div className="progress-info">
        <div className="progress-title">
          {job.cancelling ? 'Cancelling…' : KIND_LABEL[job.kind]}
          {run.count > 1 && (
            <span className="progress-count" data-testid="progress-image">
              image {run.index} of {run.count}
            </span>
          )}
          <span className="progress-count" data-testid="progress-count">
            step {job.step} / {job.total}
          </span>
        </div>
        <div
          className="progress-bar"
          role="progressbar"
          aria-valuemin={0}
          aria-valuemax={job.total}
          aria-valuenow={job.step}
          data-testid="progress-bar"
        >
          <div className="progress-fill" style={{ width: `${Math.round(fraction * 100)}%` }} />
        </div>
        <div className="progress-meta">
          {perStep !== null && remaining !== null
            ? `${perStep.toFixed(2)} s per step · about ${formatDuration(remaining)} left`
            : (job.message ?? (job.step === 0 ? 'Encoding the prompt…' : 'Measuring speed…'))}
        </div>
      </div>
    </section>
  );
}
