import * as ts from 'typescript';

/** Compiler options of a strict consumer project (Nest decorators, CommonJS, Node types). */
export const CONSUMER_COMPILER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.CommonJS,
  moduleResolution: ts.ModuleResolutionKind.Node10,
  strict: true,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  noEmit: true,
  types: ['node'],
};
