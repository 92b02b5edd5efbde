// The app's one store. All mutable UI state lives here; actions talk to the engine (in a
// worker) and to storage, and report problems as notices without losing anything.
import { create } from 'zustand';
import type { BackendPreference, Engine, LoadedInfo, MaskImage, ProgressEvent, RgbaImage } from '../runtime/engine-types';
import { composeSubjectOnWhite } from '../runtime/image';
import { CACHE_SEED, MAX_SEED, PREVIEW_EVERY } from './config';
import { isCancellation, messageOf } from './errors';
import { kindOfFile } from './file-kind';
import { applyProgress, startJob, type Job } from './job-progress';
import { readPhoto } from './photo-decode';
import { rgbaToPng } from './png';
import type { AppStorage, GalleryRecord, GenerationSettings, StoredSettings, SubjectRecord } from './storage';
import { cleanName, exportSubjectFile, importSubjectFile, nameFromFile, newSubjectRecord, readSubjectCache } from './subject-files';

export type { Job } from './job-progress';
export type SubjectView = SubjectRecord & { thumbnailUrl: string };
export type GalleryView = GalleryRecord & { url: string };

export type NoticeKind = 'error' | 'info' | 'success';
export interface NoticeAction {
  label: string;
  run: () => void;
}
export interface Notice {
  id: number;
  kind: NoticeKind;
  text: string;
  action?: NoticeAction;
}

export interface Draft {
  fileName: string;
  name: string;
  photo: RgbaImage;
  mask: MaskImage | null;
  onWhite: RgbaImage | null;
  phase: 'segmenting' | 'review' | 'building';
}

export type EnginePhase = 'idle' | 'loading' | 'ready' | 'failed';

export interface StartOptions {
  engine: Engine;
  storage: AppStorage;
  packUrl: string;
  backend: BackendPreference;
  numThreads?: number;
}

interface AppState {
  engine: Engine | null;
  storage: AppStorage | null;
  phase: EnginePhase;
  loadProgress: { step: number; total: number; message?: string } | null;
  loadError: string | null;
  loaded: LoadedInfo | null;
  subjects: SubjectView[];
  selectedSubjectId: string | null;
  draft: Draft | null;
  prompt: string;
  settings: GenerationSettings;
  /** False until the user changes a setting; until then the pack's guidance defaults apply. */
  settingsCustomized: boolean;
  job: Job | null;
  gallery: GalleryView[];
  notices: Notice[];
  nextNoticeId: number;

  start(options: StartOptions): Promise<void>;
  addFiles(files: readonly File[]): Promise<void>;
  openPhoto(file: File): Promise<void>;
  setDraftName(name: string): void;
  acceptDraft(): Promise<void>;
  rejectDraft(): void;
  selectSubject(id: string | null): void;
  renameSubject(id: string, name: string): Promise<void>;
  deleteSubject(id: string): Promise<void>;
  exportSubject(id: string): Promise<{ blob: Blob; fileName: string } | null>;
  importCacheFile(file: File): Promise<void>;
  setPrompt(prompt: string): void;
  updateSettings(patch: Partial<GenerationSettings>): void;
  randomizeSeed(): void;
  resetGuidanceDefaults(): void;
  generate(): Promise<void>;
  cancel(): void;
  deleteImage(id: string): Promise<void>;
  notify(kind: NoticeKind, text: string, action?: NoticeAction): void;
  dismissNotice(id: number): void;
  persistSettings(): Promise<void>;
}

export const FALLBACK_SETTINGS: GenerationSettings = {
  steps: 20,
  seed: 42,
  randomizeSeed: true,
  textScale: 7.5,
  imageScale: 1.0,
  scheduler: 'dpmpp2m',
  guidance: 'combined',
};

const MAX_NOTICES = 5;

export function randomSeedValue(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] % (MAX_SEED + 1);
}

function newId(): string {
  return crypto.randomUUID();
}

function subjectView(record: SubjectRecord): SubjectView {
  return { ...record, thumbnailUrl: URL.createObjectURL(record.thumbnail) };
}

function galleryView(record: GalleryRecord): GalleryView {
  return { ...record, url: URL.createObjectURL(record.png) };
}

export const useApp = create<AppState>()((set, get) => {
  const progressToJob = (event: ProgressEvent) =>
    set((s) => (s.job ? { job: applyProgress(s.job, event, performance.now()) } : {}));

  const beginJob = (kind: Job['kind'], total = 0): boolean => {
    if (get().job) return false;
    set({ job: startJob(kind, total, performance.now()) });
    return true;
  };

  return {
    engine: null,
    storage: null,
    phase: 'idle',
    loadProgress: null,
    loadError: null,
    loaded: null,
    subjects: [],
    selectedSubjectId: null,
    draft: null,
    prompt: '',
    settings: FALLBACK_SETTINGS,
    settingsCustomized: false,
    job: null,
    gallery: [],
    notices: [],
    nextNoticeId: 1,

    async start({ engine, storage, packUrl, backend, numThreads }) {
      if (get().phase !== 'idle') return;
      set({ engine, storage, phase: 'loading' });
      // The library and gallery show while the model is still loading.
      try {
        const [subjects, images, saved] = await Promise.all([
          storage.listSubjects(),
          storage.listImages(),
          storage.loadSettings(),
        ]);
        set({
          subjects: subjects.map(subjectView),
          gallery: images.map(galleryView),
          ...(saved
            ? {
                settings: { ...FALLBACK_SETTINGS, ...saved.generation },
                settingsCustomized: true,
                prompt: saved.prompt,
                selectedSubjectId: subjects.some((s) => s.id === saved.selectedSubjectId)
                  ? saved.selectedSubjectId
                  : null,
              }
            : {}),
        });
      } catch (err) {
        get().notify('error', `Could not read the saved library: ${messageOf(err)}`);
      }
      try {
        const loaded = await engine.load({ packUrl, backend, numThreads }, (event) =>
          set({ loadProgress: { step: event.step, total: event.total, message: event.message } }),
        );
        set((s) => ({
          phase: 'ready',
          loaded,
          loadProgress: null,
          settings: s.settingsCustomized
            ? s.settings
            : { ...s.settings, textScale: loaded.manifest.guidance.textScale, imageScale: loaded.manifest.guidance.imageScale },
          selectedSubjectId:
            s.subjects.find((x) => x.id === s.selectedSubjectId)?.fingerprint === loaded.fingerprint
              ? s.selectedSubjectId
              : null,
        }));
      } catch (err) {
        set({ phase: 'failed', loadError: messageOf(err), loadProgress: null });
      }
    },

    async addFiles(files) {
      for (const file of files) {
        if (kindOfFile(file) === 'dreamcache') await get().importCacheFile(file);
        else await get().openPhoto(file);
      }
    },

    async openPhoto(file) {
      const { engine, loaded, draft, job } = get();
      if (draft || job) {
        get().notify('info', 'Finish the current step first, then drop the next photo.');
        return;
      }
      let photo: RgbaImage;
      try {
        photo = await readPhoto(file);
      } catch (err) {
        get().notify('error', messageOf(err));
        return;
      }
      if (!engine || !loaded) {
        get().notify('info', 'The model is still loading; drop the photo again in a moment.');
        return;
      }
      if (!beginJob('segment')) return;
      set({
        draft: { fileName: file.name, name: nameFromFile(file.name), photo, mask: null, onWhite: null, phase: 'segmenting' },
      });
      try {
        const mask = await engine.segment(photo);
        const onWhite = composeSubjectOnWhite(photo, mask, loaded.manifest.image.size);
        set((s) => (s.draft ? { draft: { ...s.draft, mask, onWhite, phase: 'review' } } : {}));
      } catch (err) {
        set({ draft: null });
        get().notify('error', `Could not find the subject in “${file.name}”: ${messageOf(err)}`);
      } finally {
        set({ job: null });
      }
    },

    setDraftName(name) {
      set((s) => (s.draft ? { draft: { ...s.draft, name } } : {}));
    },

    rejectDraft() {
      if (get().draft?.phase === 'building') return;
      set({ draft: null });
    },

    async acceptDraft() {
      const { draft, engine, storage, loaded } = get();
      if (!draft || draft.phase !== 'review' || !draft.onWhite || !engine || !storage || !loaded) return;
      if (!beginJob('cache', 1)) return;
      set({ draft: { ...draft, phase: 'building' } });
      const name = cleanName(draft.name, nameFromFile(draft.fileName));
      try {
        const cache = await engine.buildCache([draft.onWhite], CACHE_SEED, progressToJob);
        const record = await newSubjectRecord({ id: newId(), cache, name, onWhite: draft.onWhite, loaded });
        await storage.putSubject(record);
        set((s) => ({ subjects: [...s.subjects, subjectView(record)], selectedSubjectId: record.id, draft: null }));
        get().notify('success', `“${name}” is in your library and selected.`);
        void get().persistSettings();
      } catch (err) {
        set((s) => (s.draft ? { draft: { ...s.draft, phase: 'review' } } : {}));
        get().notify('error', `Could not build the subject cache: ${messageOf(err)}`);
      } finally {
        set({ job: null });
      }
    },

    selectSubject(id) {
      const { subjects, loaded } = get();
      if (id !== null) {
        const subject = subjects.find((s) => s.id === id);
        if (!subject) return;
        if (loaded && subject.fingerprint !== loaded.fingerprint) {
          get().notify('error', `“${subject.name}” was made with the model “${subject.packName}”; it cannot be used with this one.`);
          return;
        }
      }
      set({ selectedSubjectId: id });
      void get().persistSettings();
    },

    async renameSubject(id, name) {
      const { storage, subjects } = get();
      const trimmed = cleanName(name, '');
      const subject = subjects.find((s) => s.id === id);
      if (!storage || !subject || !trimmed || trimmed === subject.name) return;
      const { thumbnailUrl: _url, ...record } = subject;
      try {
        await storage.putSubject({ ...record, name: trimmed });
        set((s) => ({ subjects: s.subjects.map((x) => (x.id === id ? { ...x, name: trimmed } : x)) }));
      } catch (err) {
        get().notify('error', `Could not rename “${subject.name}”: ${messageOf(err)}`);
      }
    },

    async deleteSubject(id) {
      const { storage, subjects } = get();
      const subject = subjects.find((s) => s.id === id);
      if (!storage || !subject) return;
      try {
        await storage.deleteSubject(id);
        URL.revokeObjectURL(subject.thumbnailUrl);
        set((s) => ({
          subjects: s.subjects.filter((x) => x.id !== id),
          selectedSubjectId: s.selectedSubjectId === id ? null : s.selectedSubjectId,
        }));
        void get().persistSettings();
      } catch (err) {
        get().notify('error', `Could not delete “${subject.name}”: ${messageOf(err)}`);
      }
    },

    async exportSubject(id) {
      const subject = get().subjects.find((s) => s.id === id);
      if (!subject) return null;
      try {
        return await exportSubjectFile(subject, get().loaded);
      } catch (err) {
        get().notify('error', `Could not export “${subject.name}”: ${messageOf(err)}`);
        return null;
      }
    },

    async importCacheFile(file) {
      const { storage, loaded } = get();
      if (!storage) return;
      try {
        // Everything is checked first; only then does the library change.
        const record = await importSubjectFile(file, loaded, newId());
        await storage.putSubject(record);
        set((s) => ({ subjects: [...s.subjects, subjectView(record)], selectedSubjectId: record.id }));
        get().notify('success', `Imported “${record.name}”.`);
        void get().persistSettings();
      } catch (err) {
        get().notify('error', messageOf(err));
      }
    },

    setPrompt(prompt) {
      set({ prompt });
    },

    updateSettings(patch) {
      set((s) => ({ settings: { ...s.settings, ...patch }, settingsCustomized: true }));
      void get().persistSettings();
    },

    randomizeSeed() {
      get().updateSettings({ seed: randomSeedValue() });
    },

    resetGuidanceDefaults() {
      const loaded = get().loaded;
      if (!loaded) return;
      get().updateSettings({ textScale: loaded.manifest.guidance.textScale, imageScale: loaded.manifest.guidance.imageScale });
    },

    async generate() {
      const { engine, storage, loaded, settings, prompt, selectedSubjectId, subjects } = get();
      if (!engine || !storage || !loaded) return;
      const subject = subjects.find((s) => s.id === selectedSubjectId) ?? null;
      const seed = settings.randomizeSeed ? randomSeedValue() : settings.seed;
      if (!beginJob('generate', settings.steps)) return;
      if (settings.randomizeSeed) set((s) => ({ settings: { ...s.settings, seed } }));
      void get().persistSettings();
      try {
        const cache = subject ? await readSubjectCache(subject, loaded) : null;
        const { seed: _seed, randomizeSeed: _r, ...used } = settings;
        const image = await engine.generate(
          {
            prompt,
            steps: settings.steps,
            seed,
            textScale: settings.textScale,
            imageScale: settings.imageScale,
            scheduler: settings.scheduler,
            guidance: settings.guidance,
            cache,
            previewEvery: PREVIEW_EVERY,
          },
          progressToJob,
        );
        const record: GalleryRecord = {
          id: newId(),
          createdAt: Date.now(),
          png: await rgbaToPng(image),
          width: image.width,
          height: image.height,
          prompt,
          seed,
          settings: used,
          subjectId: subject?.id ?? null,
          subjectName: subject?.name ?? null,
          packName: loaded.manifest.name,
        };
        await storage.putImage(record);
        set((s) => ({ gallery: [...s.gallery, galleryView(record)] }));
      } catch (err) {
        if (isCancellation(err)) get().notify('info', 'Generation cancelled.');
        else get().notify('error', `Generation failed: ${messageOf(err)}`);
      } finally {
        set({ job: null });
      }
    },

    cancel() {
      const { job, engine } = get();
      if (!job || job.kind !== 'generate' || !engine) return;
      set({ job: { ...job, cancelling: true } });
      engine.cancel();
    },

    async deleteImage(id) {
      const { storage, gallery } = get();
      const item = gallery.find((g) => g.id === id);
      if (!storage || !item) return;
      try {
        await storage.deleteImage(id);
        URL.revokeObjectURL(item.url);
        set((s) => ({ gallery: s.gallery.filter((g) => g.id !== id) }));
      } catch (err) {
        get().notify('error', `Could not delete the image: ${messageOf(err)}`);
      }
    },

    notify(kind, text, action) {
      set((s) => ({
        notices: [...s.notices, { id: s.nextNoticeId, kind, text, action }].slice(-MAX_NOTICES),
        nextNoticeId: s.nextNoticeId + 1,
      }));
    },

    dismissNotice(id) {
      set((s) => ({ notices: s.notices.filter((n) => n.id !== id) }));
    },

    async persistSettings() {
      const { storage, settings, prompt, selectedSubjectId } = get();
      if (!storage) return;
      const value: StoredSettings = { generation: settings, prompt, selectedSubjectId };
      try {
        await storage.saveSettings(value);
      } catch {
        // Settings are a convenience; failing to save them must not interrupt work.
      }
    },
  };
});
