import { UuidV7Generator, uuidv7, uuidv7Time } from './uuid-v7';

describe('uuidv7', () => {
  it('has the v7 layout and the time in its first 48 bits', () => {
    const id = new UuidV7Generator().next(1_700_000_000_123);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidv7Time(id)).toBe(1_700_000_000_123);
  });

  it('sorts in creation order, also within one millisecond', () => {
    const gen = new UuidV7Generator();
    const ids = Array.from({ length: 5000 }, () => gen.next(1_700_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('is unique across many calls', () => {
    const ids = new Set(Array.from({ length: 20000 }, () => uuidv7()));
    expect(ids.size).toBe(20000);
  });
});
