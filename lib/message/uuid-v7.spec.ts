import { uuidv7, uuidv7At, uuidv7Time } from './uuid-v7';

describe('uuidv7', () => {
  it('has the v7 layout and carries the given time in its first 48 bits', () => {
    const id = uuidv7At(1_700_000_000_123);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidv7Time(id)).toBe(1_700_000_000_123);
  });

  it('sorts in creation order, also within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('is unique across many calls, also for one given millisecond', () => {
    expect(new Set(Array.from({ length: 20000 }, () => uuidv7())).size).toBe(20000);
    expect(new Set(Array.from({ length: 20000 }, () => uuidv7At(1_700_000_000_000))).size).toBe(20000);
  });
});
