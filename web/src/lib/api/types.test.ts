import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * types.ts may only derive shapes from the API's schemas (decision 0013): every exported type is
 * `Out<…>`/`In<…>` of a route schema, or a part of one. A hand-written object type here is how the
 * UI and the API drifted apart before, so this fails on one.
 */
describe('web/src/lib/api/types.ts', () => {
  const source = readFileSync(new URL('./types.ts', import.meta.url), 'utf8');

  it('declares no interfaces or object types of its own', () => {
    expect(source).not.toMatch(/\binterface\s+\w+/);
    const declarations = [...source.matchAll(/^export type (\w+)(?:<[^>]*>)? = ([^;]+);/gm)];
    expect(declarations.length).toBeGreaterThan(40);
    for (const [, name, definition] of declarations) {
      expect(definition, name).toMatch(/^(Out|In|NonNullable)<|^\w+\[/);
      expect(definition, name).not.toMatch(/^\s*\{/);
    }
  });

  it('imports the API only for its types', () => {
    for (const line of source.split('\n').filter((l) => /from '\.\.\/.*api\/src\//.test(l))) {
      expect(line).toMatch(/^import type /);
    }
  });
});
