import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The shape of lib/: no import cycles between its files (type imports included). */
const lib = path.resolve(__dirname, '../../lib');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const file = path.join(dir, e.name);
    if (e.isDirectory()) return sources(file);
    return file.endsWith('.ts') && !file.endsWith('.spec.ts') ? [file] : [];
  });
}

/** Relative imports and re-exports of `file`, resolved to files. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)].flatMap((m) => {
    const target = path.join(path.dirname(file), m[1]);
    if (fs.existsSync(`${target}.ts`)) return [`${target}.ts`];
    if (fs.existsSync(path.join(target, 'index.ts'))) return [path.join(target, 'index.ts')];
    return [];
  });
}

/** Groups of files that import each other, directly or not (Tarjan's strongly connected components). */
function cycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(path.relative(lib, w));
      } while (w !== v);
      if (group.length > 1) found.push(group.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return found;
}

describe('lib/ house rules', () => {
  const files = sources(lib);

  it('has no import cycles between files', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(cycles(files)).toEqual([]);
  });

  it('the check finds a cycle (it is not vacuous)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'house-'));
    try {
      fs.writeFileSync(path.join(dir, 'a.ts'), "import type { B } from './b';\nexport type A = B;\n");
      fs.writeFileSync(path.join(dir, 'b.ts'), "import type { A } from './a';\nexport type B = A | 1;\n");
      expect(cycles([path.join(dir, 'a.ts'), path.join(dir, 'b.ts')])).toHaveLength(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the dead-letter and transport interfaces do not import each other both ways', () => {
    const deadLetter = path.join(lib, 'dead-letter/dead-letter.interface.ts');
    expect(importsOf(deadLetter)).not.toContain(path.join(lib, 'transport/transport.interface.ts'));
  });
});
