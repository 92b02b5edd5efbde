// App-wide constants. The embedded pack is the one switch between the development pack
// (random weights) and the trained pack: change DEFAULT_PACK_NAME and everything follows
// (engine load path, service-worker precache in vite.config.ts).

/** Folder under public/models/ of the pack the app loads and precaches. */
export const DEFAULT_PACK_NAME = 'tiny-emoji';
/** Relative to the page, so the app works under any base path. */
export const DEFAULT_PACK_URL = `models/${DEFAULT_PACK_NAME}/`;

/**
 * Largest photo accepted, in pixels. Checked from the file header before decoding, so a
 * huge image is refused without allocating its bitmap (60 MP RGBA would be 240 MB).
 */
export const MAX_PHOTO_PIXELS = 40_000_000;
/** Largest photo file accepted, in bytes. */
export const MAX_PHOTO_BYTES = 100 * 1024 * 1024;
/** Photos are downscaled to this longest side before segmentation and composing. */
export const WORKING_PHOTO_SIDE = 1024;
/** Largest .dreamcache file accepted, in bytes (SD 1.5 caches are ~10 MB). */
export const MAX_CACHE_FILE_BYTES = 64 * 1024 * 1024;
/** Thumbnails stored with subjects and in share files. */
export const THUMBNAIL_SIDE = 128;
/** Seed of the noise used when building a cache (fixed, so a photo always gives one cache). */
export const CACHE_SEED = 0;
/** Decode a live preview every this many denoising steps. */
export const PREVIEW_EVERY = 1;
/** Largest seed offered by "randomize" (fits in uint32). */
export const MAX_SEED = 0xffffffff;
/** Most images one press of Generate makes (one after another: a batch would not fit a laptop GPU's memory any better). */
export const MAX_IMAGES_PER_RUN = 8;
