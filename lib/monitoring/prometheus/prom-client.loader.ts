/* eslint-disable @typescript-eslint/no-require-imports */
import type * as PromClient from 'prom-client';

/** The `prom-client` module type (compile time only; nothing is loaded by this import). */
export type PromClientModule = typeof PromClient;

let cached: PromClientModule | null | undefined;

/**
 * Loads `prom-client` (an optional peer dependency) on first use; undefined when the application
 * does not have it installed.
 */
export function loadPromClient(): PromClientModule | undefined {
  if (cached === undefined) {
    try {
      cached = require('prom-client') as PromClientModule;
    } catch {
      cached = null;
    }
  }
  return cached ?? undefined;
}
