import { describe, expect, it } from 'vitest';
import { BackendError, CacheFileError, DeviceLimitError, CacheMismatchError, CancelledError, InputError, NotLoadedError, PackError, reviveError, serializeError } from './errors';

describe('errors across the worker boundary', () => {
  it('keep their class, name, message and reason through serialize → revive', () => {
    for (const e of [new PackError('p'), new CacheMismatchError('c'), new CancelledError(), new InputError('i'), new NotLoadedError('n'), new BackendError('b'), new DeviceLimitError('d')]) {
      const back = reviveError(structuredClone(serializeError(e)));
      expect(back).toBeInstanceOf(e.constructor);
      expect(back.name).toBe(e.constructor.name);
      expect(back.message).toBe(e.message);
    }
    const f = new CacheFileError('checksum', 'damaged');
    const back = reviveError(structuredClone(serializeError(f))) as CacheFileError;
    expect(back).toBeInstanceOf(CacheFileError);
    expect(back.reason).toBe('checksum');
    expect(back.message).toBe('damaged (checksum)');
  });
  it('plain errors come back as Error with their name', () => {
    const back = reviveError(serializeError(new TypeError('t')));
    expect(back.name).toBe('TypeError');
    expect(back.message).toBe('t');
  });
});
