/* eslint-disable @typescript-eslint/no-require-imports */
import type * as OtelApi from '@opentelemetry/api';

/** The `@opentelemetry/api` module type (compile time only). */
export type OtelApiModule = typeof OtelApi;

let cached: OtelApiModule | null | undefined;

/** Loads `@opentelemetry/api` (an optional peer dependency) once; undefined when not installed. */
export function loadOtelApi(): OtelApiModule | undefined {
  if (cached === undefined) {
    try {
      cached = require('@opentelemetry/api') as OtelApiModule;
    } catch {
      cached = null;
    }
  }
  return cached ?? undefined;
}
