// The app's one store. All mutable UI state lives here; actions talk to the engine (in a
// worker) and to storage, and report problems as notices without losing anything.
import { create } from 'zustand';
import type {
  BackendPreference,
  Engine,
  LoadedInfo,
  MaskImage,
  ProgressEvent,
  RgbaImage,
  SubjectCache,
} from '../runtime/engine-types';
import { decodeDreamcache, encodeDreamcache, type DecodedDreamcache } from '../runtime/dreamcache-file';
import { composeSubjectOnWhite } from '../runtime/image';
import { CACHE_SEED, MAX_CACHE_FILE_BYTES, MAX_SEED, PREVIEW_EVERY, THUMBNAIL_SIDE } from './config';
import { ImportError, formatBytes, isCancellation, messageOf } from './errors';
import { DREAMCACHE_EXTENSION, kindOfFile, safeFileName } from './file-kind';
import { readPhoto } from './photo-decode';
import { blobBytes, placeholderThumbnail, rgbaToPng, thumbnailPng } from './png';
import type { AppStorage, GalleryRecord, GenerationSettings, StoredSettings, SubjectRecord } from './storage';

export type SubjectView = SubjectRecord & { thumbnailUrl: string };
export type GalleryView = GalleryRecord & { url: string };

export type NoticeKind = 'error' | 'info' | 'success';
export interface Notice {
  id: number;
  kind: NoticeKind;
  text: string;
}

export interface Draft {
  fileName: string;
  name: string;
  photo: RgbaImage;
  mask: MaskImage | null;
  onWhite: RgbaImage | null;
  phase: 'segmenting' | 'review' | 'building';
}

export interface Job {
  kind: 'segment' | 'cache' | 'generate';
  step: number;
  total: number;
  message?: string;
  preview: RgbaImage | null;
  cancelling: boolean;
  startedAt: number;
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
  notify(kind: NoticeKind, text: string): void;
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

function bytesToBlob(bytes: Uint8Array, type: string): Blob {
  return new Blob([bytes.slice()], { type });
}

function baseName(fileName: string): string {
  const stem = fileName.replace(/\.[^.]+$/, '').replace(/[_-]+/g, ' ').trim();
  return stem.slice(0, 60) || 'Subject';
}

function subjectView(record: SubjectRecord): SubjectView {
  return { ...record, thumbnailUrl: URL.createObjectURL(record.thumbnail) };
}

function galleryView(record: GalleryRecord): GalleryView {
  return { ...record, url: URL.createObjectURL(record.png) };
}

async function assertPngDecodes(blob: Blob): Promise<void> {
  const bitmap = await createImageBitmap(blob);
  bitmap.close();
}

export const useApp = create<AppState>()((set, get) => {
  const progressToJob = (event: ProgressEvent) =>
    set((s) =>
      s.job
        ? {
            job: {
              ...s.job,
              step: event.step,
              total: event.total,
              message: event.message,
              preview: event.preview ?? s.job.preview,
            },
          }
        : {},
    );

  const beginJob = (kind: Job['kind'], total = 0): boolean => {
    if (get().job) return false;
    set({ job: { kind, step: 0, total, preview: null, cancelling: false, startedAt: performance.now() } });
    return true;
  };

  const subjectCache = async (subject: SubjectRecord, fingerprint: string): Promise<SubjectCache> => {
    const bytes = await blobBytes(subject.cacheFile);
    return (await decodeDreamcache(bytes, decodeOptions(fingerprint))).cache;
  };

  const decodeOptions = (fingerprint: string) => ({
    expectedFingerprint: fingerprint,
    expectedLayers: get().loaded?.manifest.cache.layers,
    maxBytes: MAX_CACHE_FILE_BYTES,
  });

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
        draft: { fileName: file.name, name: baseName(file.name), photo, mask: null, onWhite: null, phase: 'segmenting' },
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
      const name = draft.name.trim() || baseName(draft.fileName);
      try {
        const cache = await engine.buildCache([draft.onWhite], CACHE_SEED, progressToJob);
        const thumbnail = await thumbnailPng(draft.onWhite, THUMBNAIL_SIDE);
        // Stored in the share-file encoding, so an exported and re-imported subject is bit-identical.
        const file = await encodeDreamcache({ cache, name, thumbnailPng: await blobBytes(thumbnail) });
        const record: SubjectRecord = {
          id: newId(),
          name,
          createdAt: Date.now(),
          packName: loaded.manifest.name,
          fingerprint: loaded.fingerprint,
          thumbnail,
          cacheFile: bytesToBlob(file, 'application/octet-stream'),
        };
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
      const trimmed = name.trim().slice(0, 60);
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
        // Re-encoded so the file carries the current name (renames do not touch the stored bytes).
        const bytes = await blobBytes(subject.cacheFile);
        const decoded = await decodeDreamcache(bytes, decodeOptions(subject.fingerprint));
        const file = await encodeDreamcache({
          cache: decoded.cache,
          name: subject.name,
          thumbnailPng: await blobBytes(subject.thumbnail),
          dtype: decoded.dtype,
        });
        return {
          blob: bytesToBlob(file, 'application/octet-stream'),
          fileName: `${safeFileName(subject.name, 'subject')}${DREAMCACHE_EXTENSION}`,
        };
      } catch (err) {
        get().notify('error', `Could not export “${subject.name}”: ${messageOf(err)}`);
        return null;
      }
    },

    async importCacheFile(file) {
      const { storage, loaded } = get();
      try {
        if (!storage || !loaded) {
          throw new ImportError('no-model', `Wait for the model to finish loading, then import “${file.name}” again.`);
        }
        if (file.size === 0) {
          throw new ImportError('empty', `“${file.name}” is empty (0 bytes); it is not a DreamCache subject file.`);
        }
        if (file.size > MAX_CACHE_FILE_BYTES) {
          throw new ImportError(
            'too-big',
            `“${file.name}” is ${formatBytes(file.size)}; subject files up to ${formatBytes(MAX_CACHE_FILE_BYTES)} are accepted.`,
          );
        }
        const bytes = new Uint8Array(await file.arrayBuffer());
        let decoded: DecodedDreamcache;
        try {
          decoded = await decodeDreamcache(bytes, decodeOptions(loaded.fingerprint));
        } catch (err) {
          throw new ImportError('invalid', `“${file.name}” was not imported: ${messageOf(err)}`);
        }
        const thumbnail =
          decoded.thumbnailPng && decoded.thumbnailPng.length > 0
            ? bytesToBlob(decoded.thumbnailPng, 'image/png')
            : await placeholderThumbnail(decoded.name, THUMBNAIL_SIDE);
        try {
          await assertPngDecodes(thumbnail);
        } catch {
          throw new ImportError('invalid', `“${file.name}” was not imported: its thumbnail is not a readable PNG.`);
        }
        // Everything is checked; only now does the library change.
        const record: SubjectRecord = {
          id: newId(),
          name: decoded.name.trim().slice(0, 60) || baseName(file.name),
          createdAt: Date.now(),
          packName: loaded.manifest.name,
          fingerprint: loaded.fingerprint,
          thumbnail,
          cacheFile: bytesToBlob(bytes, 'application/octet-stream'),
        };
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
        const cache = subject ? await subjectCache(subject, loaded.fingerprint) : null;
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

    notify(kind, text) {
      set((s) => ({
        notices: [...s.notices, { id: s.nextNoticeId, kind, text }].slice(-MAX_NOTICES),
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
