/**
 * The grant matrix of a synthesized template: for every Lambda function,
 * the actions its role is granted on each DynamoDB table, secret and KMS key. Read
 * from the CloudFormation JSON alone (what `cdk synth` writes), so it shows
 * what would really be deployed. `npm run grants` prints it; the
 * infrastructure tests check the data-class rules against it.
 */

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

export interface Template {
  readonly Resources: Record<string, CfnResource>;
}

export interface GrantRow {
  /** Logical id of the function. */
  readonly function: string;
  /** Logical id of the table or secret. */
  readonly resource: string;
  readonly type: 'table' | 'secret' | 'key';
  readonly actions: readonly string[];
}

interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Effect?: string;
}

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** The logical ids a statement's resources refer to (Ref and Fn::GetAtt, anywhere inside). */
function referenced(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) referenced(v, into);
  else if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (typeof obj.Ref === 'string') into.add(obj.Ref);
    const getAtt = obj['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') into.add(getAtt[0]);
    for (const v of Object.values(obj)) referenced(v, into);
  }
  return into;
}

export function grantMatrix(template: Template): GrantRow[] {
  const resources = template.Resources;
  const typeOf = (id: string): GrantRow['type'] | undefined =>
    resources[id]?.Type === 'AWS::DynamoDB::Table'
      ? 'table'
      : resources[id]?.Type === 'AWS::SecretsManager::Secret'
        ? 'secret'
        : resources[id]?.Type === 'AWS::KMS::Key'
          ? 'key'
          : undefined;
  // role logical id -> function logical ids
  const functionsOfRole = new Map<string, string[]>();
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    for (const role of referenced(r.Properties?.Role)) functionsOfRole.set(role, [...(functionsOfRole.get(role) ?? []), id]);
  }
  const rows = new Map<string, { function: string; resource: string; type: GrantRow['type']; actions: Set<string> }>();
  for (const policy of Object.values(resources)) {
    if (policy.Type !== 'AWS::IAM::Policy') continue;
    const roles = [...referenced(policy.Properties?.Roles)];
    const statements = ((policy.Properties?.PolicyDocument as { Statement?: Statement[] } | undefined)?.Statement ?? []).filter((s) => s.Effect !== 'Deny');
    for (const statement of statements) {
      const targets = [...referenced(statement.Resource)].flatMap((id) => {
        const type = typeOf(id);
        return type ? [{ id, type }] : [];
      });
      for (const role of roles) {
        for (const fn of functionsOfRole.get(role) ?? []) {
          for (const target of targets) {
            const key = `${fn}\0${target.id}`;
            const row = rows.get(key) ?? { function: fn, resource: target.id, type: target.type, actions: new Set<string>() };
            for (const action of asArray(statement.Action)) row.actions.add(action);
            rows.set(key, row);
          }
        }
      }
    }
  }
  return [...rows.values()]
    .map((r) => ({ ...r, actions: [...r.actions].sort() }))
    .sort((a, b) => a.function.localeCompare(b.function) || a.resource.localeCompare(b.resource));
}

/** The matrix as a text table: one line a function and resource, the actions without their service prefix. */
export function formatGrantMatrix(rows: readonly GrantRow[]): string {
  const short = (id: string) => id.replace(/[0-9A-F]{8}$/, '');
  const width = Math.max(8, ...rows.map((r) => short(r.function).length));
  const resourceWidth = Math.max(8, ...rows.map((r) => short(r.resource).length));
  const lines = [`${'function'.padEnd(width)}  ${'resource'.padEnd(resourceWidth)}  actions`];
  for (const r of rows) {
    lines.push(`${short(r.function).padEnd(width)}  ${short(r.resource).padEnd(resourceWidth)}  ${r.actions.map((a) => a.replace(/^[a-z]+:/, '')).join(', ')}`);
  }
  return lines.join('\n');
}
