import { Fragment } from 'react';
import { useApp } from '../store';
import { MAX_IMAGES_PER_RUN, MAX_SEED } from '../config';
import { imageCount } from '../image-batch';
import { imageScaleLabel } from '../guidance-settings';
import type { GuidanceMode, SchedulerName } from '../../runtime/engine-types';

// Room above the packs' defaults (tiny-emoji 0.17.1 and later start at 12) for a stronger pull.
const MAX_IMAGE_SCALE = 16;
// The image scale's two ends: sI moves in a straight line from the first step's to the last's.
const IMAGE_SCALE_ENDS = [
  { key: 'imageScale', label: 'first step', testId: 'image-scale', title: 'How strongly the subject pulls at the first (noisiest) step' },
  {
    key: 'imageScaleEnd',
    label: 'last step',
    testId: 'image-scale-end',
    title: 'How strongly the subject pulls at the last step; between the two it changes in a straight line',
  },
] as const;

const SCHEDULERS: { value: SchedulerName; label: string }[] = [
  { value: 'dpmpp2m', label: 'DPM++ 2M' },
  { value: 'ddim', label: 'DDIM' },
];
const GUIDANCE: { value: GuidanceMode; label: string; hint: string }[] = [
  { value: 'combined', label: 'Combined', hint: 'Three branches: separate text and image scales' },
  { value: 'joint', label: 'Joint', hint: 'Two branches: faster, one scale for text and subject together' },
];

export function Composer() {
  const prompt = useApp((s) => s.prompt);
  const settings = useApp((s) => s.settings);
  const ready = useApp((s) => s.phase === 'ready');
  const job = useApp((s) => s.job);
  const subject = useApp((s) => s.subjects.find((x) => x.id === s.selectedSubjectId) ?? null);
  const { setPrompt, updateSettings, randomizeSeed, resetGuidanceDefaults, generate, cancel, persistSettings } = useApp.getState();
  const generating = job?.kind === 'generate';
  const canGenerate = ready && job === null;
  const count = imageCount(settings.count);

  return (
    <section className="composer" aria-label="Prompt and settings">
      <div className="prompt-row">
        <div className="prompt-box">
          {subject && (
            <span className="subject-chip" data-testid="active-subject">
              <img src={subject.thumbnailUrl} alt="" />
              {subject.name}
            </span>
          )}
          <textarea
            value={prompt}
            onChange={(e) => setPrompt(e.target.value)}
            onBlur={() => void persistSettings()}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && canGenerate) void generate();
            }}
            placeholder={subject ? `Describe a scene for ${subject.name}, e.g. “on a beach at sunset”` : 'Describe an image…'}
            rows={2}
            aria-label="Prompt"
            data-testid="prompt"
          />
        </div>
        {generating ? (
          <button className="btn btn-danger btn-big" onClick={cancel} disabled={job.cancelling} data-testid="cancel">
            {job.cancelling ? 'Cancelling…' : 'Cancel'}
          </button>
        ) : (
          <button
            className="btn btn-primary btn-big"
            onClick={() => void generate()}
            disabled={!canGenerate}
            title="Generate (Ctrl+Enter)"
            data-testid="generate"
          >
            {count > 1 ? `Generate ${count}` : 'Generate'}
          </button>
        )}
      </div>
      <div className="controls">
        <label className="control">
          <span className="control-label">
            Steps <output>{settings.steps}</output>
          </span>
          <input
            type="range"
            min={1}
            max={100}
            value={settings.steps}
            onChange={(e) => updateSettings({ steps: Number(e.target.value) })}
            data-testid="steps"
          />
        </label>
        <label className="control">
          <span className="control-label">
            Images <output>{count}</output>
          </span>
          <input
            type="range"
            min={1}
            max={MAX_IMAGES_PER_RUN}
            value={count}
            title="Images per press of Generate; with a fixed seed they use seed, seed + 1, …"
            onChange={(e) => updateSettings({ count: Number(e.target.value) })}
            data-testid="image-count"
          />
        </label>
        <div className="control">
          <span className="control-label">Seed</span>
          <div className="seed-row">
            <input
              type="number"
              min={0}
              max={MAX_SEED}
              value={settings.seed}
              onChange={(e) => {
                const seed = Math.trunc(Number(e.target.value));
                if (Number.isFinite(seed) && seed >= 0 && seed <= MAX_SEED) updateSettings({ seed, randomizeSeed: false });
              }}
              aria-label="Seed"
              data-testid="seed"
            />
            <button className="icon-btn" onClick={randomizeSeed} title="New random seed" aria-label="New random seed" data-testid="dice">
              ⚄
            </button>
          </div>
          <label className="check">
            <input
              type="checkbox"
              checked={settings.randomizeSeed}
              onChange={(e) => updateSettings({ randomizeSeed: e.target.checked })}
              data-testid="randomize-seed"
            />
            new seed each time
          </label>
        </div>
        <label className="control">
          <span className="control-label">
            Text scale <output>{settings.textScale.toFixed(1)}</output>
          </span>
          <input
            type="range"
            min={0}
            max={20}
            step={0.5}
            value={settings.textScale}
            onChange={(e) => updateSettings({ textScale: Number(e.target.value) })}
            data-testid="text-scale"
          />
        </label>
        <div className={`control ${subject ? '' : 'is-disabled'}`}>
          <span className="control-label">
            Image scale <output data-testid="image-scale-value">{imageScaleLabel(settings)}</output>
          </span>
          {IMAGE_SCALE_ENDS.map((end) => (
            <Fragment key={end.key}>
              <span className="control-sub">{end.label}</span>
              <input
                type="range"
                min={0}
                max={MAX_IMAGE_SCALE}
                step={0.1}
                value={settings[end.key] ?? settings.imageScale}
                disabled={!subject}
                aria-label={`Image scale at the ${end.label}`}
                title={end.title}
                onChange={(e) => updateSettings({ [end.key]: Number(e.target.value) })}
                data-testid={end.testId}
              />
            </Fragment>
          ))}
        </div>
        <label className="control">
          <span className="control-label">Scheduler</span>
          <select
            value={settings.scheduler}
            title={settings.scheduler === 'dpmpp2m' ? 'DPM-Solver++ 2M: good images in fewer steps' : 'DDIM'}
            onChange={(e) => updateSettings({ scheduler: e.target.value as SchedulerName })}
            data-testid="scheduler"
          >
            {SCHEDULERS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <label className={`control ${subject ? '' : 'is-disabled'}`}>
          <span className="control-label">Guidance</span>
          <select
            value={settings.guidance}
            disabled={!subject}
            onChange={(e) => updateSettings({ guidance: e.target.value as GuidanceMode })}
            title={GUIDANCE.find((g) => g.value === settings.guidance)?.hint}
            data-testid="guidance"
          >
            {GUIDANCE.map((g) => (
              <option key={g.value} value={g.value}>
                {g.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="controls-foot">
        <button className="link-btn" onClick={resetGuidanceDefaults} disabled={!ready} title="Text and image scale from the model pack">
          Reset scales to the model’s defaults
        </button>
      </div>
    </section>
  );
}
