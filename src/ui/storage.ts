// The app's only persistence: subjects, gallery images, settings and stored model packs in
// IndexedDB (via idb-keyval). Everything else reads and writes through this interface.
import { createStore, del, get, set, values, type UseStore } from 'idb-keyval';
import type { GuidanceMode, SchedulerName } from '../runtime/engine-types';
import type { PackManifest } from '../runtime/pack';

export interface SubjectRecord {
  id: string;
  name: string;
  createdAt: number;
  /** Pack that built the cache; a subject only works with the pack of this fingerprint. */
  packName: string;
  fingerprint: string;
  thumbnail: Blob;
  /** The thumbnail was drawn from the name: the share file it came from had no picture. */
  thumbnailIsPlaceholder?: boolean;
  /**
   * PNG of the subject on white at the size of the pack that cached it, kept so the cache can be
   * built again for another pack. Absent in records made before it was kept, and in imports of
   * share files without one (version 1).
   */
  reference?: Blob;
  /** The cache, as the bytes of a .dreamcache share file (one codec for storage and sharing). */
  cacheFile: Blob;
}

export interface GenerationSettings {
  steps: number;
  seed: number;
  randomizeSeed: boolean;
  textScale: number;
  /** sI at the first step (throughout when imageScaleEnd is absent). */
  imageScale: number;
  /** sI at the last step, a linear ramp from imageScale; absent in settings saved before ramps existed. */
  imageScaleEnd?: number;
  scheduler: SchedulerName;
  guidance: GuidanceMode;
  /** Images per press of Generate (1 … MAX_IMAGES_PER_RUN); absent in settings saved before it existed. */
  count?: number;
}

export interface GalleryRecord {
  id: string;
  createdAt: number;
  png: Blob;
  width: number;
  height: number;
  prompt: string;
  seed: number;
  settings: Omit<GenerationSettings, 'seed' | 'randomizeSeed' | 'count'>;
  subjectId: string | null;
  subjectName: string | null;
  packName: string;
  /** Fingerprint of the pack that made it (absent in records from before packs could change). */
  fingerprint?: string;
}

export interface StoredSettings {
  generation: GenerationSettings;
  prompt: string;
  selectedSubjectId: string | null;
}

/**
 * A model pack kept for offline use. Its files are Blobs: IndexedDB writes them to disk and
 * hands back disk-backed Blobs, so listing packs never reads their bytes.
 */
export interface StoredPack {
  /** The pack fingerprint: one record per pack, a re-import replaces it. */
  id: string;
  name: string;
  version: string;
  trained: boolean;
  description: string;
  /** Sum of the listed files' sizes. */
  bytes: number;
  addedAt: number;
  /** Where it came from, for people: a folder name or a URL. */
  origin: string;
  manifest: PackManifest;
  /** Plain file name → contents, manifest.json included. */
  files: Record<string, Blob>;
}

/** Which pack the app loads: the one shipped with it, or a stored one by fingerprint. */
export type ActivePack = { kind: 'embedded' } | { kind: 'stored'; id: string };

export interface AppStorage {
  listSubjects(): Promise<SubjectRecord[]>;
  putSubject(subject: SubjectRecord): Promise<void>;
  deleteSubject(id: string): Promise<void>;
  listImages(): Promise<GalleryRecord[]>;
  putImage(image: GalleryRecord): Promise<void>;
  deleteImage(id: string): Promise<void>;
  loadSettings(): Promise<StoredSettings | undefined>;
  saveSettings(settings: StoredSettings): Promise<void>;
  listPacks(): Promise<StoredPack[]>;
  putPack(pack: StoredPack): Promise<void>;
  deletePack(id: string): Promise<void>;
  loadActivePack(): Promise<ActivePack | undefined>;
  saveActivePack(active: ActivePack): Promise<void>;
}

const SETTINGS_KEY = 'settings';
const ACTIVE_PACK_KEY = 'active-pack';

export function createIdbStorage(prefix = 'dreamcache-studio'): AppStorage {
  // idb-keyval keeps one object store per database.
  const subjects: UseStore = createStore(`${prefix}-subjects`, 'subjects');
  const gallery: UseStore = createStore(`${prefix}-gallery`, 'images');
  const settings: UseStore = createStore(`${prefix}-settings`, 'settings');
  const packs: UseStore = createStore(`${prefix}-packs`, 'packs');
  const byDate = <T extends { createdAt: number }>(a: T, b: T) => a.createdAt - b.createdAt;
  return {
    listSubjects: async () => (await values<SubjectRecord>(subjects)).sort(byDate),
    putSubject: (subject) => set(subject.id, subject, subjects),
    deleteSubject: (id) => del(id, subjects),
    listImages: async () => (await values<GalleryRecord>(gallery)).sort(byDate),
    putImage: (image) => set(image.id, image, gallery),
    deleteImage: (id) => del(id, gallery),
    loadSettings: () => get<StoredSettings>(SETTINGS_KEY, settings),
    saveSettings: (value) => set(SETTINGS_KEY, value, settings),
    listPacks: async () => (await values<StoredPack>(packs)).sort((a, b) => a.addedAt - b.addedAt),
    putPack: (pack) => set(pack.id, pack, packs),
    deletePack: (id) => del(id, packs),
    loadActivePack: () => get<ActivePack>(ACTIVE_PACK_KEY, settings),
    saveActivePack: (active) => set(ACTIVE_PACK_KEY, active, settings),
  };
}
