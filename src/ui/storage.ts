// The app's only persistence: subjects, gallery images and settings in IndexedDB
// (via idb-keyval). Everything else reads and writes through this interface.
import { createStore, del, get, set, values, type UseStore } from 'idb-keyval';
import type { GuidanceMode, SchedulerName } from '../runtime/engine-types';

export interface SubjectRecord {
  id: string;
  name: string;
  createdAt: number;
  /** Pack that built the cache; a subject only works with the pack of this fingerprint. */
  packName: string;
  fingerprint: string;
  thumbnail: Blob;
  /** The cache, as the bytes of a .dreamcache share file (one codec for storage and sharing). */
  cacheFile: Blob;
}

export interface GenerationSettings {
  steps: number;
  seed: number;
  randomizeSeed: boolean;
  textScale: number;
  imageScale: number;
  scheduler: SchedulerName;
  guidance: GuidanceMode;
}

export interface GalleryRecord {
  id: string;
  createdAt: number;
  png: Blob;
  width: number;
  height: number;
  prompt: string;
  seed: number;
  settings: Omit<GenerationSettings, 'seed' | 'randomizeSeed'>;
  subjectId: string | null;
  subjectName: string | null;
  packName: string;
}

export interface StoredSettings {
  generation: GenerationSettings;
  prompt: string;
  selectedSubjectId: string | null;
}

export interface AppStorage {
  listSubjects(): Promise<SubjectRecord[]>;
  putSubject(subject: SubjectRecord): Promise<void>;
  deleteSubject(id: string): Promise<void>;
  listImages(): Promise<GalleryRecord[]>;
  putImage(image: GalleryRecord): Promise<void>;
  deleteImage(id: string): Promise<void>;
  loadSettings(): Promise<StoredSettings | undefined>;
  saveSettings(settings: StoredSettings): Promise<void>;
}

const SETTINGS_KEY = 'settings';

export function createIdbStorage(prefix = 'dreamcache-studio'): AppStorage {
  // idb-keyval keeps one object store per database.
  const subjects: UseStore = createStore(`${prefix}-subjects`, 'subjects');
  const gallery: UseStore = createStore(`${prefix}-gallery`, 'images');
  const settings: UseStore = createStore(`${prefix}-settings`, 'settings');
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
  };
}
