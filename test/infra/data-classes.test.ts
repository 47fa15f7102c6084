import { catalog } from '../../catalog';
import type { CatalogShape } from '../../catalog';
import { formatGrantMatrix, grantMatrix } from '../../infra/grants';
import type { GrantRow, Template } from '../../infra/grants';
import { stages } from '../../infra/stages';
import { logicalId, removeProjectRoot, stubProjectRoot, synth } from './synth';
import type { Synthesized } from './synth';

/**
 * The data-class promises, read off the synthesized prod template grant by
 * grant (infra/grants.ts, what `npm run grants` prints): the audience side,
 * which processes business input, can read no identity and no message; the
 * consent ledger is append-only; each secret is held only by the functions
 * that need it.
 */
const c: CatalogShape = catalog;
const WRITES_BEYOND_APPEND = ['dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:PartiQLUpdate', 'dynamodb:PartiQLDelete'];

describe('data classes in the synthesized prod template', () => {
  let root: string;
  let s: Synthesized;
  let rows: GrantRow[];
  /** Catalog name of a function or resource from its logical id. */
  const names = new Map<string, string>();

  beforeAll(() => {
    root = stubProjectRoot();
    s = synth({ projectRoot: root, stage: stages.prod });
    rows = grantMatrix(s.json as unknown as Template);
    for (const [name, fn] of s.stack.functions) names.set(logicalId(fn.fn), name);
    for (const [name, table] of s.stack.tables) names.set(logicalId(table), name);
    for (const [name, secret] of s.stack.secrets) names.set(logicalId(secret), name);
  });
  afterAll(() => removeProjectRoot(root));

  /** Rows with catalog names. */
  const grants = () => rows.map((r) => ({ fn: names.get(r.function) ?? r.function, resource: names.get(r.resource) ?? r.resource, actions: r.actions }));
  const holders = (resource: string) =>
    [
      ...new Set(
        grants()
          .filter((g) => g.resource === resource)
          .map((g) => g.fn),
      ),
    ].sort();

  it('reads grants for every function from the template', () => {
    const functionsWithGrants = new Set(grants().map((g) => g.fn));
    const withTables = Object.entries(c.functions).filter(([, spec]) => Object.keys(spec.tables ?? {}).length > 0);

    for (const [name] of withTables) expect(functionsWithGrants.has(name)).toBe(true);
    expect(formatGrantMatrix(rows)).toContain('PutItem');
  });

  it('grants no audience-side function anything on an identity or messages table', () => {
    const guarded = Object.entries(c.tables)
      .filter(([, spec]) => spec.dataClass === 'identity' || spec.dataClass === 'messages')
      .map(([name]) => name);
    const audienceSide = Object.entries(c.functions)
      .filter(([, spec]) => spec.side === 'audience')
      .map(([name]) => name);
    expect(guarded).toEqual(expect.arrayContaining(['identities', 'messages', 'messageStatus', 'recipients']));
    expect(audienceSide).toEqual(
      expect.arrayContaining(['addAudienceUsers', 'matchAudienceBatch', 'applyAudienceConsent', 'cleanupAudience', 'getUserAudiences']),
    );

    const leaks = grants().filter((g) => audienceSide.includes(g.fn) && guarded.includes(g.resource));

    expect(leaks).toEqual([]);
  });

  it('lets no function update, delete or batch-write consent ledger items', () => {
    const ledgerGrants = grants().filter((g) => g.resource === 'ledger');
    expect(ledgerGrants.some((g) => g.actions.includes('dynamodb:PutItem'))).toBe(true);

    const rewrites = ledgerGrants.filter((g) => g.actions.some((a) => WRITES_BEYOND_APPEND.includes(a) || a === 'dynamodb:*'));

    expect(rewrites).toEqual([]);
  });

  it('reads identities only where identifiers are verified, bound, sent a code, erased, exported, looked up or keyed', () => {
    expect(holders('identities')).toEqual([
      'applyMatchIndex',
      'eraseMe',
      'exportMe',
      'getRecipientKey',
      'putEmail',
      'putPhone',
      'sendMessage',
      'sendVerification',
      'startEmailVerification',
      'startPhoneVerification',
    ]);
  });

  it('gives the verification key only to the functions that start, check or send verifications', () => {
    expect(holders('verificationKey')).toEqual(['putEmail', 'putPhone', 'sendVerification', 'startEmailVerification', 'startPhoneVerification']);
  });

  it("grants recipients' keys and blocks only to the messages side and the user's own export", () => {
    expect(holders('recipients')).toEqual(['deleteBlock', 'eraseMessages', 'exportMe', 'getRecipientKey', 'listBlocks', 'putBlock', 'putKey', 'sendMessage']);
  });

  it('gives the pepper only to the functions that key identifiers, and of them only the match-index keeper reads identities', () => {
    const pepper = holders('pepper');

    expect(pepper).toEqual(['addAudienceUsers', 'applyMatchIndex', 'removeAudienceUsers']);
    expect(pepper.filter((fn) => holders('identities').includes(fn))).toEqual(['applyMatchIndex']);
  });

  it('gives the count-noise key only to the functions that release sizes', () => {
    expect(holders('countNoiseKey')).toEqual(['getAudience', 'listAudiences']);
    expect(holders('countNoiseKey').filter((fn) => holders('pepper').includes(fn))).toEqual([]);
  });
});
