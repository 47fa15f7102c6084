import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { ConsentAudiencesStack } from '../../infra/stack';
import type { CatalogShape } from '../../catalog';
import { stages } from '../../infra/stages';
import { cdkJsonContext, logicalId, repoRoot } from './synth';

/** One function, bundled for real: the locally installed esbuild must do it, since there is no Docker. */
const probeCatalog: CatalogShape = {
  tables: {},
  topics: {},
  queues: {},
  secrets: {},
  settings: {},
  functions: {
    probe: {
      entry: 'test/infra/fixtures/bundle-probe/handler.ts',
      side: 'consent',
      description: 'Bundling probe',
      trigger: { kind: 'http-default' },
    },
  },
};

describe('bundling', () => {
  let outdir: string;

  beforeAll(() => {
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'infra-bundle-'));
  });
  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  it('bundles with local esbuild: minified CJS with a source map, local code inlined, @aws-sdk external', () => {
    // Prepare
    const app = new App({ outdir, context: cdkJsonContext });
    const stack = new ConsentAudiencesStack(app, 'BundleProbe', { stage: stages.dev, catalog: probeCatalog, projectRoot: repoRoot });

    // Act
    const assembly = app.synth();

    // Assess
    const template = assembly.getStackByName('BundleProbe').template;
    const code = template.Resources[logicalId(stack.functions.get('probe')!.fn)].Properties.Code;
    const assetDir = path.join(outdir, `asset.${String(code.S3Key).replace(/\.zip$/, '')}`);
    const bundle = fs.readFileSync(path.join(assetDir, 'index.js'), 'utf8');
    expect(fs.readdirSync(assetDir).sort()).toEqual(['index.js', 'index.js.map']);
    expect(bundle).toContain('bundle-probe says hello to');
    expect(bundle).toMatch(/require\("@aws-sdk\/client-sqs"\)/);
    expect(bundle).toMatch(/\/\/# sourceMappingURL=index\.js\.map\s*$/);
    expect(bundle.split('\n').length).toBeLessThan(5);
    expect(JSON.parse(fs.readFileSync(path.join(assetDir, 'index.js.map'), 'utf8')).sourcesContent).toBeUndefined();
  });
});
