// Which model pack to load: the embedded default, or `?pack=<name>` for another folder under
// public/models/ (e.g. a converted SD 1.5 pack, docs/sd15.md), or `?pack=<url>` ending in '/'.
import { DEFAULT_PACK_URL } from './config';

const PACK_NAME = /^[a-z0-9][a-z0-9._-]*$/;

export function readPackUrl(search: string): string {
  const value = new URLSearchParams(search).get('pack');
  if (!value) return DEFAULT_PACK_URL;
  if (PACK_NAME.test(value)) return `models/${value}/`;
  if (/^(https?:\/\/|\.{0,2}\/)/.test(value)) return value.endsWith('/') ? value : `${value}/`;
  return DEFAULT_PACK_URL;
}
