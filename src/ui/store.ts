// The app's one store. All mutable UI state lives here; actions talk to the engine (in a
// worker) and to storage, and report problems as notices without losing anything.
import { create } from 'zustand';
import type { BackendPreference, Engine, LoadedInfo, MaskImage, ProgressEvent, RgbaImage } from '../runtime/engine-types';
import { composeSubjectOnWhite, maskBoundingBox } from '../runtime/image';
import { CACHE_SEED, MAX_SEED, PREVIEW_EVERY } from './config';
import { isCancellation, messageOf } from './errors';
import { kindOfFile } from './file-kind';
import { paintStroke, type Point } from './mask-brush';
import { applyProgress, nextImage, startJob, type Job } from './job-progress';
import { imageCount, runSeeds } from './image-batch';
import { guidanceDefaults } from './guidance-settings';
import { readPhoto } from './photo-decode';
import { rgbaToPng } from './png';
import type { ActivePack, AppStorage, GalleryRecord, GenerationSettings, StoredPack, StoredSettings, SubjectRecord } from './storage';
import { assertStorageRoom, blobsByName, blobsFromDirectory, fetchPack, preparePack, type PackProgress } from './pack-import';
import { detectCapabilities } from '../runtime/capabilities';
import type { PackBlobs } from '../runtime/pack-files';
import { readManifest, usesCacheOf } from '../runtime/pack';
import { createFetchSource } from '../runtime/pack-source';
import { CancelledError } from '../runtime/errors';
import {
  cleanName,
  exportSubjectFile,
  importSubjectFile,
  nameFromFile,
  newSubjectRecord,
  readSubjectCache,
  rebuildReference,
  rebuiltSubjectRecord,
} from './subject-files';

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
  /** The mask as segmentation gave it, for "Reset mask". */
  foundMask: MaskImage | null;
  /** The mask was touched up by hand. */
  edited: boolean;
  /** null while segmenting, and when the touched-up mask keeps nothing. */
  onWhite: RgbaImage | null;
  phase: 'segmenting' | 'review' | 'building';
}

export type EnginePhase = 'idle' | 'loading' | 'ready' | 'failed';

export interface StartOptions {
  engine: Engine;
  storage: AppStorage;
  /** The embedded pack (or the one ?pack= names). */
  packUrl: string;
  backend: BackendPreference;
  numThreads?: number;
  /** Load the stored pack chosen last time (off when the URL names a pack). */
  restoreActivePack?: boolean;
}

/** A stored pack as the model menu lists it (its Blobs stay in storage). */
export type PackEntry = Omit<StoredPack, 'files' | 'manifest'>;

export interface PackTask {
  message: string;
  loaded: number;
  total: number;
}

const EMBEDDED: ActivePack = { kind: 'embedded' };

function packEntry({ files: _f, manifest: _m, ...rest }: StoredPack): PackEntry {
  return rest;
}

function sameActive(a: ActivePack, b: ActivePack): boolean {
  return a.kind === b.kind && (a.kind === 'embedded' || a.id === (b as { id: string }).id);
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
  /** URL of the embedded pack and how to load packs (kept for switching). */
  embeddedPackUrl: string;
  backendPreference: BackendPreference;
  numThreads?: number;
  packs: PackEntry[];
  activePack: ActivePack;
  /** Checking or storing a pack in the model menu; null when idle. */
  packTask: PackTask | null;
  /** Why the last pack could not be added or switched to. */
  packError: string | null;
  packMessage: string | null;
  modelMenuOpen: boolean;
  /** Name, version and trained flag of the embedded pack, read from its manifest. */
  embeddedInfo: { name: string; version: string; trained: boolean } | null;

  start(options: StartOptions): Promise<void>;
  addFiles(files: readonly File[]): Promise<void>;
  openPhoto(file: File): Promise<void>;
  setDraftName(name: string): void;
  /** One brush segment on the draft's mask (image pixels); keep = paint the subject in. */
  paintDraftMask(from: Point, to: Point, radius: number, keep: boolean): void;
  /** End of a brush stroke: the subject on white follows the touched-up mask. */
  commitDraftMask(): void;
  resetDraftMask(): void;
  acceptDraft(): Promise<void>;
  rejectDraft(): void;
  selectSubject(id: string | null): void;
  /**
   * Builds the caches of subjects made with another pack again, for the loaded one, from their
   * stored pictures (one U-Net pass each); one alone is selected after.
   */
  rebuildSubjects(ids: readonly string[]): Promise<void>;
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
  setModelMenuOpen(open: boolean): void;
  /** Files of a pack folder (picker); checked, then stored. */
  addPackFiles(files: readonly File[], origin: string): Promise<boolean>;
  /** A folder from showDirectoryPicker. */
  addPackDirectory(handle: Parameters<typeof blobsFromDirectory>[0]): Promise<boolean>;
  addPackUrl(url: string): Promise<boolean>;
  switchPack(active: ActivePack): Promise<void>;
  deletePack(id: string): Promise<void>;
}

export const FALLBACK_SETTINGS: GenerationSettings = {
  steps: 20,
  seed: 42,
  randomizeSeed: true,
  textScale: 7.5,
  imageScale: 1.0,
  scheduler: 'dpmpp2m',
  guidance: 'combined',
  count: 1,
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

function subjectRecord({ thumbnailUrl: _url, ...record }: SubjectView): SubjectRecord {
  return record;
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

  /** Loads a pack into the engine and makes it the active one; throws when it cannot. */
  const loadActive = async (active: ActivePack): Promise<LoadedInfo> => {
    const { engine, storage, embeddedPackUrl, backendPreference, numThreads } = get();
    if (!engine || !storage) throw new Error('The app has not started');
    let options: Parameters<Engine['load']>[0] = { packUrl: embeddedPackUrl, backend: backendPreference, numThreads };
    if (active.kind === 'stored') {
      const record = (await storage.listPacks()).find((p) => p.id === active.id);
      if (!record) throw new Error('that pack is no longer stored');
      options = { ...options, packUrl: `stored:${record.name}`, files: record.files };
    }
    set({ phase: 'loading', loaded: null, loadError: null });
    const loaded = await engine.load(options, (event) =>
      set({ loadProgress: { step: event.step, total: event.total, message: event.message } }),
    );
    set((s) => ({
      phase: 'ready',
      loaded,
      loadProgress: null,
      activePack: active,
      settings: s.settingsCustomized
        ? s.settings
        : { ...s.settings, ...guidanceDefaults(loaded.manifest) },
      // a subject of another pack cannot be used with this one
      selectedSubjectId:
        usesCacheOf(loaded, s.subjects.find((x) => x.id === s.selectedSubjectId)?.fingerprint) ? s.selectedSubjectId : null,
    }));
    return loaded;
  };

  /** Runs one pack check-and-store task of the model menu; true when the pack was stored. */
  const storePack = async (prepare: (onProgress: (p: PackProgress) => void) => Promise<StoredPack>): Promise<boolean> => {
    const { storage, packTask } = get();
    if (!storage || packTask) return false;
    set({ packTask: { message: 'Reading manifest.json', loaded: 0, total: 0 }, packError: null, packMessage: null });
    try {
      const record = await prepare((p) => set({ packTask: p }));
      set({ packTask: { message: `Storing ${record.name} for offline use`, loaded: 0, total: 0 } });
      await assertStorageRoom(record.bytes);
      await storage.putPack(record);
      set((s) => ({
        packs: [...s.packs.filter((p) => p.id !== record.id), packEntry(record)],
        packMessage: `${record.name} ${record.version} is stored and works offline. Choose “Use” to switch to it.`,
      }));
      return true;
    } catch (err) {
      set({ packError: `This pack was not added: ${messageOf(err)}` });
      return false;
    } finally {
      set({ packTask: null });
    }
  };

  const importContext = async () => ({ caps: await detectCapabilities(), backend: get().backendPreference });

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
    embeddedPackUrl: '',
    backendPreference: 'auto',
    numThreads: undefined,
    packs: [],
    activePack: EMBEDDED,
    packTask: null,
    packError: null,
    packMessage: null,
    modelMenuOpen: false,
    embeddedInfo: null,

    async start({ engine, storage, packUrl, backend, numThreads, restoreActivePack = false }) {
      if (get().phase !== 'idle') return;
      set({ engine, storage, phase: 'loading', embeddedPackUrl: packUrl, backendPreference: backend, numThreads });
      let wanted: ActivePack = EMBEDDED;
      // For the model menu, even while a stored pack is in use (the service worker has it offline).
      readManifest(createFetchSource(packUrl)).then(
        (m) => set({ embeddedInfo: { name: m.name, version: m.version, trained: m.trained } }),
        () => undefined,
      );
      // The library and gallery show while the model is still loading.
      try {
        const [subjects, images, saved, packs, active] = await Promise.all([
          storage.listSubjects(),
          storage.listImages(),
          storage.loadSettings(),
          storage.listPacks(),
          storage.loadActivePack(),
        ]);
        if (restoreActivePack && active?.kind === 'stored' && packs.some((p) => p.id === active.id)) wanted = active;
        set({
          packs: packs.map(packEntry),
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
        await loadActive(wanted);
      } catch (err) {
        if (wanted.kind === 'embedded') {
          set({ phase: 'failed', loadError: messageOf(err), loadProgress: null });
          return;
        }
        // A stored pack that no longer loads must not lock the person out: back to the embedded one.
        get().notify('error', `The stored model could not be loaded (${messageOf(err)}); using the built-in model.`);
        try {
          await loadActive(EMBEDDED);
        } catch (err2) {
          set({ phase: 'failed', loadError: messageOf(err2), loadProgress: null });
          return;
        }
      }
      // After a model update the library's subjects belong to its earlier version: say so once, with the fix.
      const loaded = get().loaded;
      const outdated = loaded ? get().subjects.filter((x) => x.packName === loaded.manifest.name && !usesCacheOf(loaded, x.fingerprint)) : [];
      if (loaded && outdated.length > 0) {
        const what = outdated.length === 1 ? `“${outdated[0].name}” was` : `${outdated.length} subjects were`;
        get().notify('info', `${what} made with an earlier version of ${loaded.manifest.name}; rebuild to use ${outdated.length === 1 ? 'it' : 'them'} with ${loaded.manifest.version}.`, {
          label: outdated.length === 1 ? 'Rebuild' : 'Rebuild all',
          run: () => void get().rebuildSubjects(outdated.map((x) => x.id)),
        });
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
        draft: {
          fileName: file.name,
          name: nameFromFile(file.name),
          photo,
          mask: null,
          foundMask: null,
          edited: false,
          onWhite: null,
          phase: 'segmenting',
        },
      });
      try {
        const mask = await engine.segment(photo);
        const onWhite = composeSubjectOnWhite(photo, mask, loaded.manifest.image.size);
        set((s) => (s.draft ? { draft: { ...s.draft, mask, foundMask: mask, onWhite, phase: 'review' } } : {}));
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

    paintDraftMask(from, to, radius, keep) {
      const draft = get().draft;
      if (!draft?.mask || draft.phase !== 'review') return;
      // a copy per segment (≤ 1024² floats, about a millisecond): states stay immutable
      const data = draft.mask.data.slice();
      paintStroke(data, draft.mask.width, draft.mask.height, from, to, radius, keep);
      set({ draft: { ...draft, mask: { ...draft.mask, data }, edited: true } });
    },

    commitDraftMask() {
      const { draft, loaded } = get();
      if (!draft?.mask || draft.phase !== 'review' || !loaded) return;
      // An empty mask has no subject to put on white: Accept waits until something is kept.
      const onWhite = maskBoundingBox(draft.mask) ? composeSubjectOnWhite(draft.photo, draft.mask, loaded.manifest.image.size) : null;
      set({ draft: { ...draft, onWhite } });
    },

    resetDraftMask() {
      const draft = get().draft;
      if (!draft?.foundMask || draft.phase !== 'review') return;
      set({ draft: { ...draft, mask: draft.foundMask, edited: false } });
      get().commitDraftMask();
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
        if (loaded && !usesCacheOf(loaded, subject.fingerprint)) {
          get().notify('error', `“${subject.name}” was made with another model (“${subject.packName}”); rebuild it to use it with this one.`, {
            label: 'Rebuild',
            run: () => void get().rebuildSubjects([subject.id]),
          });
          return;
        }
      }
      set({ selectedSubjectId: id });
      void get().persistSettings();
    },

    async rebuildSubjects(ids) {
      const { engine, storage, loaded } = get();
      if (!engine || !storage || !loaded || get().draft) return;
      const todo = get().subjects.filter((s) => ids.includes(s.id) && !usesCacheOf(loaded, s.fingerprint));
      if (todo.length === 0 || !beginJob('cache', 1)) return;
      const model = `${loaded.manifest.name} ${loaded.manifest.version}`;
      const rebuilt: string[] = [];
      try {
        for (const [i, subject] of todo.entries()) {
          set((s) => (s.job ? { job: { ...s.job, message: `Rebuilding “${subject.name}” (${i + 1} of ${todo.length})` } } : {}));
          try {
            const reference = await rebuildReference(subjectRecord(subject));
            if (!reference) {
              get().notify('error', `“${subject.name}” cannot be rebuilt: its subject file carried no picture. Add its photo again.`);
              continue;
            }
            const cache = await engine.buildCache([reference], CACHE_SEED, progressToJob);
            // Renamed or deleted while its cache was built: the record as it is now wins.
            const current = get().subjects.find((x) => x.id === subject.id);
            if (!current) continue;
            const next = await rebuiltSubjectRecord(subjectRecord(current), cache, loaded);
            // The old cache is replaced only once the new record is stored.
            await storage.putSubject(next);
            set((s) => ({ subjects: s.subjects.map((x) => (x.id === subject.id ? { ...next, thumbnailUrl: x.thumbnailUrl } : x)) }));
            rebuilt.push(subject.name);
          } catch (err) {
            get().notify('error', `Could not rebuild “${subject.name}”: ${messageOf(err)}`);
          }
        }
      } finally {
        set({ job: null });
      }
      if (rebuilt.length === 0) return;
      if (todo.length === 1) get().selectSubject(todo[0].id);
      get().notify('success', rebuilt.length === 1 ? `“${rebuilt[0]}” now works with ${model}.` : `${rebuilt.length} subjects now work with ${model}.`);
    },

    async renameSubject(id, name) {
      const { storage, subjects } = get();
      const trimmed = cleanName(name, '');
      const subject = subjects.find((s) => s.id === id);
      if (!storage || !subject || !trimmed || trimmed === subject.name) return;
      try {
        await storage.putSubject({ ...subjectRecord(subject), name: trimmed });
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
        const usable = usesCacheOf(loaded, record.fingerprint);
        set((s) => ({ subjects: [...s.subjects, subjectView(record)], ...(usable ? { selectedSubjectId: record.id } : {}) }));
        if (usable) {
          get().notify('success', `Imported “${record.name}”.`);
          void get().persistSettings();
          return;
        }
        // Made with another model: stored as such (nothing is lost), then built again for this one.
        const busy = get().job !== null || get().draft !== null;
        get().notify(
          'info',
          busy
            ? `Imported “${record.name}”, made with ${record.packName}. Rebuild it (↻) for this model once the current step is done.`
            : `Imported “${record.name}”, made with ${record.packName}: rebuilding it for this model from its picture.`,
        );
        if (!busy) await get().rebuildSubjects([record.id]);
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
      get().updateSettings(guidanceDefaults(loaded.manifest));
    },

    async generate() {
      const { engine, storage, loaded, settings, prompt, selectedSubjectId, subjects } = get();
      if (!engine || !storage || !loaded) return;
      const subject = subjects.find((s) => s.id === selectedSubjectId) ?? null;
      const count = imageCount(settings.count);
      const seeds = runSeeds(settings.seed, count, settings.randomizeSeed, randomSeedValue);
      if (!beginJob('generate', settings.steps)) return;
      if (settings.randomizeSeed) set((s) => ({ settings: { ...s.settings, seed: seeds[0] } }));
      void get().persistSettings();
      let made = 0;
      try {
        const cache = subject ? await readSubjectCache(subject, loaded) : null;
        const { seed: _seed, randomizeSeed: _r, count: _c, ...used } = settings;
        for (const [i, seed] of seeds.entries()) {
          // Cancel between two images: the engine has nothing running to stop.
          if (get().job?.cancelling) throw new CancelledError();
          if (count > 1) set((s) => (s.job ? { job: nextImage(s.job, i + 1, count) } : {}));
          const image = await engine.generate(
            {
              prompt,
              steps: settings.steps,
              seed,
              textScale: settings.textScale,
              imageScale: settings.imageScale,
              imageScaleEnd: settings.imageScaleEnd,
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
            fingerprint: loaded.fingerprint,
          };
          await storage.putImage(record);
          set((s) => ({ gallery: [...s.gallery, galleryView(record)] }));
          made += 1;
        }
      } catch (err) {
        // Images finished before a cancel or an error stay in the gallery.
        const kept = made > 0 ? ` ${made} of ${count} images were made and kept.` : '';
        if (isCancellation(err)) get().notify('info', `Generation cancelled.${kept}`);
        else get().notify('error', `Generation failed: ${messageOf(err)}${kept}`);
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

    setModelMenuOpen(open) {
      set({ modelMenuOpen: open, ...(open ? {} : { packError: null, packMessage: null }) });
    },

    async addPackFiles(files, origin) {
      const blobs: PackBlobs = blobsByName(files);
      return storePack(async (onProgress) => preparePack(blobs, origin, { ...(await importContext()), onProgress }));
    },

    async addPackDirectory(handle) {
      return storePack(async (onProgress) =>
        preparePack(await blobsFromDirectory(handle), handle.name, { ...(await importContext()), onProgress }),
      );
    },

    async addPackUrl(url) {
      const trimmed = url.trim();
      if (!trimmed) return false;
      return storePack(async (onProgress) => {
        let absolute: string;
        try {
          absolute = new URL(trimmed, location.href).toString();
        } catch {
          throw new Error(`“${trimmed}” is not a URL`);
        }
        return fetchPack(absolute, { ...(await importContext()), onProgress });
      });
    },

    async switchPack(active) {
      const { storage, job, draft, activePack, phase } = get();
      if (!storage || job || draft || phase === 'loading' || sameActive(active, activePack)) return;
      const previous = activePack;
      set({ packError: null, packMessage: null });
      try {
        const loaded = await loadActive(active);
        await storage.saveActivePack(active);
        void get().persistSettings();
        set({ packMessage: `Now using ${loaded.manifest.name} ${loaded.manifest.version}.` });
      } catch (err) {
        set({ packError: `Could not switch: ${messageOf(err)}` });
        try {
          await loadActive(previous);
        } catch (err2) {
          set({ phase: 'failed', loadError: messageOf(err2), loadProgress: null });
        }
      }
    },

    async deletePack(id) {
      const { storage, activePack } = get();
      if (!storage) return;
      if (activePack.kind === 'stored' && activePack.id === id) {
        set({ packError: 'Switch to another model before deleting the one in use.' });
        return;
      }
      try {
        await storage.deletePack(id);
        set((s) => ({ packs: s.packs.filter((p) => p.id !== id), packError: null }));
      } catch (err) {
        set({ packError: `Could not delete the pack: ${messageOf(err)}` });
      }
    },
  };
});
