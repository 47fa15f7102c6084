import type { BuildOptions } from 'esbuild';

/**
 * The bundling options of infra/constructs/service-function.ts in esbuild's
 * own terms, for benchmarks that bundle a function without `cdk synth`:
 * CommonJS for node22, minified, a source map without the sources, and
 * `@aws-sdk/*` left to the Lambda runtime.
 */
export const LAMBDA_BUNDLE: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  external: ['@aws-sdk/*'],
  logLevel: 'silent',
};
