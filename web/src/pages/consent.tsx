/**
 * The user's consent: the policy notification (what changes, what is shared
 * with whom, the two purposes, equal-weight choices with nothing chosen in
 * advance), the settings where withdrawing takes exactly the steps granting
 * takes, and the history of receipts.
 */
import { useMemo, useState } from 'preact/hooks';
import type { ChainVerification } from '../../../client/receipts';
import { ApiError, ok, problemKind, type Schemas } from '../api';
import { href } from '../router';
import { ErrorMessage, Loading, Page, PURPOSE_NAMES, PURPOSES, StatusMessage, formatTime, useApp, useAsync, type Purpose } from '../ui';

type Consent = Schemas['Consent'];
type Policy = Schemas['Policy'];
type Receipt = Schemas['ConsentReceipt'];
type Decision = Schemas['Decision'];

const decisionText = (decision: Decision | undefined): string => (decision === 'granted' ? 'Allowed' : 'Not allowed');

/**
 * Whether the browser sends Global Privacy Control. Browsers that support it
 * add `Sec-GPC: 1` to every request themselves (a page cannot set a `Sec-`
 * header), and the service reads it as "no ads targeting": it records a
 * denial of ads for a user who had allowed them, and refuses a choice that
 * allows them (409, problem type `gpc-conflict`).
 */
const gpcEnabled = (): boolean => (navigator as Navigator & { globalPrivacyControl?: boolean }).globalPrivacyControl === true;

function GpcNote() {
  return (
    <p class="message note" role="note">
      Your browser sends Global Privacy Control, and the service honours it: ads stay off while your browser sends it, and allowing them is refused.
    </p>
  );
}

/** The 409 `gpc-conflict` problem, said plainly: what happened and what the user can do. */
const GPC_CONFLICT =
  'Ads were not allowed: your browser sends Global Privacy Control, which says no to ads targeting, and the service honours it. To allow ads, turn Global Privacy Control off in your browser first. Nothing else was changed.';

const explain = (failure: unknown): unknown => (problemKind(failure) === 'gpc-conflict' ? new Error(GPC_CONFLICT) : failure);

/** The current policy, or null when none is published (404). */
async function currentPolicy(api: ReturnType<typeof useApp>['api']): Promise<Policy | null> {
  try {
    return await ok(api.GET('/v1/policies/current'));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/** Home for a user: the notification while a decision on the current policy is due, else a summary of their choices. */
export function Home() {
  const { api } = useApp();
  const state = useAsync(async () => {
    const [policy, consent] = await Promise.all([currentPolicy(api), ok(api.GET('/v1/me/consent'))]);
    return { policy, consent };
  }, []);
  const [receipt, setReceipt] = useState<Receipt>();

  if (state.loading && !state.value) return <Loading what="your privacy choices" />;
  if (!state.value) return <ErrorMessage error={state.error} />;
  const { policy, consent } = state.value;
  if (receipt) return <Saved receipt={receipt} />;
  if (!policy) {
    return (
      <Page title="Your privacy choices">
        <p>No privacy policy has been published yet. Nothing about you is shared.</p>
      </Page>
    );
  }
  if (consent.decisionRequired) return <Notification policy={policy} consent={consent} onSaved={setReceipt} />;
  return <Summary consent={consent} policy={policy} />;
}

function Summary(props: { consent: Consent; policy: Policy }) {
  return (
    <Page title="Your privacy choices" intro={<p>What our parent company may use your phone number for, under policy {props.policy.version}.</p>}>
      <ul class="cards">
        {PURPOSE_NAMES.filter((p) => props.policy.purposes.includes(p)).map((purpose) => (
          <li class="card" key={purpose}>
            <h2>{PURPOSES[purpose].title}</h2>
            <p>{PURPOSES[purpose].text}</p>
            <p class={`state ${props.consent.purposes[purpose]}`}>{decisionText(props.consent.purposes[purpose])}</p>
          </li>
        ))}
      </ul>
      <p>
        Last changed {formatTime(props.consent.updatedAt)}. <a href={href('settings')}>Change your choices</a> or see{' '}
        <a href={href('receipts')}>your receipts</a>.
      </p>
    </Page>
  );
}

export function Notification(props: { policy: Policy; consent: Consent; onSaved(receipt: Receipt): void }) {
  const { api } = useApp();
  const purposes = PURPOSE_NAMES.filter((p) => props.policy.purposes.includes(p));
  const [choices, setChoices] = useState<Partial<Record<Purpose, Decision>>>({});
  const [missing, setMissing] = useState<Purpose[]>([]);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  // One key for this notification: a second click or a retry after a lost answer records nothing new.
  const idempotencyKey = useMemo(() => crypto.randomUUID(), []);
  const earlier = props.consent.version > 0;

  async function submit(event: Event) {
    event.preventDefault();
    const unanswered = purposes.filter((p) => !choices[p]);
    setMissing(unanswered);
    if (unanswered.length > 0) {
      document.getElementById(`choice-${unanswered[0]}-granted`)?.focus();
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const receipt = await ok(
        api.PUT('/v1/me/consent', {
          params: { header: { 'Idempotency-Key': idempotencyKey } },
          body: { policyVersion: props.policy.version, purposes: choices, source: 'notification' },
        }),
      );
      props.onSaved(receipt);
    } catch (failure) {
      setError(explain(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Page title="We're updating our privacy policy">
      <p class="lead">
        Policy {props.policy.version}, published {formatTime(props.policy.publishedAt)}. Please read what changes and choose for each purpose.
      </p>
      <h2>What changes</h2>
      <p>{props.policy.summary}</p>
      <h2>What is shared, and with whom</h2>
      <dl class="facts">
        <dt>What</dt>
        <dd>Your account's phone number.</dd>
        <dt>With whom</dt>
        <dd>Our parent company, and no one else.</dd>
        <dt>For what</dt>
        <dd>Only the purposes below that you allow. Businesses never see your number: they learn only how many people an ad reaches, as a range.</dd>
      </dl>
      {earlier && (
        <p>
          Under the previous policy you chose:{' '}
          {purposes.map((p) => `${PURPOSES[p].title}: ${decisionText(props.consent.purposes[p]).toLowerCase()}`).join(', ')}. Please choose again for this one.
        </p>
      )}
      <form onSubmit={submit} noValidate>
        {purposes.map((purpose) => (
          <fieldset
            key={purpose}
            class="purpose"
            aria-describedby={`about-${purpose}${missing.includes(purpose) ? ` missing-${purpose}` : ''}`}
            aria-invalid={missing.includes(purpose) ? 'true' : undefined}
          >
            <legend>{PURPOSES[purpose].title}</legend>
            <p id={`about-${purpose}`}>{PURPOSES[purpose].text}</p>
            {purpose === 'ads_targeting' && gpcEnabled() && <GpcNote />}
            <div class="choices">
              {(['granted', 'denied'] as const).map((value) => (
                <label class="choice" key={value} for={`choice-${purpose}-${value}`}>
                  <input
                    type="radio"
                    id={`choice-${purpose}-${value}`}
                    name={purpose}
                    value={value}
                    checked={choices[purpose] === value}
                    onChange={() => setChoices((previous) => ({ ...previous, [purpose]: value }))}
                  />
                  <span>{value === 'granted' ? 'Allow' : "Don't allow"}</span>
                </label>
              ))}
            </div>
            {missing.includes(purpose) && (
              <p class="field-error" id={`missing-${purpose}`}>
                Choose Allow or Don't allow.
              </p>
            )}
          </fieldset>
        ))}
        <p>
          Nothing is shared for a purpose you do not allow. You can change either choice at any time in Settings, where withdrawing takes the same steps as
          allowing.
        </p>
        <ErrorMessage error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save my choices'}
        </button>
      </form>
    </Page>
  );
}

function Saved(props: { receipt: Receipt }) {
  return (
    <Page title="Your choices are saved">
      <ReceiptCard receipt={props.receipt} />
      <p>
        Change them at any time in <a href={href('settings')}>Settings</a>; every change is kept in <a href={href('receipts')}>your receipts</a>.
      </p>
    </Page>
  );
}

/** One purpose per card, its state, and one button that turns it the other way: withdrawing is one click, as granting is. */
export function Settings() {
  const { api } = useApp();
  const state = useAsync(async () => {
    const [policy, consent] = await Promise.all([currentPolicy(api), ok(api.GET('/v1/me/consent'))]);
    return { policy, consent };
  }, []);
  const [saving, setSaving] = useState<Purpose>();
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<Receipt>();

  if (state.loading && !state.value) return <Loading what="your settings" />;
  if (!state.value) return <ErrorMessage error={state.error} />;
  const { policy, consent } = state.value;
  if (!policy) {
    return (
      <Page title="Settings">
        <p>No privacy policy has been published yet. Nothing about you is shared.</p>
      </Page>
    );
  }

  async function change(purpose: Purpose, value: Decision) {
    setSaving(purpose);
    setError(undefined);
    setSaved(undefined);
    try {
      const receipt = await ok(
        api.PUT('/v1/me/consent', {
          params: { header: { 'Idempotency-Key': crypto.randomUUID() } },
          body: { policyVersion: policy!.version, purposes: { [purpose]: value }, source: 'settings' },
        }),
      );
      setSaved(receipt);
      state.set({
        policy,
        consent: { ...consent, purposes: receipt.purposes, version: receipt.version, decisionRequired: false, updatedAt: receipt.recordedAt },
      });
    } catch (failure) {
      setError(explain(failure));
      // A newer decision (Global Privacy Control's own, say) may have been recorded meanwhile: show the state as it is now.
      if (failure instanceof ApiError && failure.status === 409) state.reload();
    } finally {
      setSaving(undefined);
    }
  }

  return (
    <Page
      title="Settings"
      intro={<p>What our parent company may use your phone number for. Each change takes effect within seconds and is kept as a receipt.</p>}
    >
      {consent.decisionRequired && (
        <p class="message note">
          The privacy policy changed. <a href={href()}>Read what changes</a> and choose again.
        </p>
      )}
      <ul class="cards">
        {PURPOSE_NAMES.filter((p) => policy.purposes.includes(p)).map((purpose) => {
          const granted = consent.purposes[purpose] === 'granted';
          return (
            <li class="card" key={purpose}>
              <h2 id={`setting-${purpose}`}>{PURPOSES[purpose].title}</h2>
              <p>{PURPOSES[purpose].text}</p>
              {purpose === 'ads_targeting' && gpcEnabled() && <GpcNote />}
              <p class={`state ${consent.purposes[purpose]}`}>
                <span class="visually-hidden">{PURPOSES[purpose].title}: </span>
                {decisionText(consent.purposes[purpose])}
              </p>
              <button
                type="button"
                class="choice-action"
                aria-describedby={`setting-${purpose}`}
                disabled={saving !== undefined}
                onClick={() => change(purpose, granted ? 'denied' : 'granted')}
              >
                {saving === purpose ? 'Saving…' : granted ? 'Withdraw' : 'Allow'}
              </button>
            </li>
          );
        })}
      </ul>
      <ErrorMessage error={error} />
      <StatusMessage>
        {saved &&
          `Saved. ${PURPOSE_NAMES.filter((p) => policy.purposes.includes(p))
            .map((p) => `${PURPOSES[p].title}: ${decisionText(saved.purposes[p]).toLowerCase()}`)
            .join('; ')}. Receipt ${saved.version}.`}
      </StatusMessage>
      <p>
        See <a href={href('receipts')}>your receipts</a> for every choice you made.
      </p>
    </Page>
  );
}

const SOURCES: Record<string, string> = { notification: 'the policy notification', settings: 'Settings', gpc: "your browser's Global Privacy Control" };

function ReceiptCard(props: { receipt: Receipt }) {
  const r = props.receipt;
  return (
    <article class="card receipt" aria-labelledby={`receipt-${r.receiptId}`}>
      <h2 id={`receipt-${r.receiptId}`}>Receipt {r.version}</h2>
      <dl class="facts">
        <dt>Recorded</dt>
        <dd>{formatTime(r.recordedAt)}</dd>
        <dt>From</dt>
        <dd>{SOURCES[r.source] ?? r.source}</dd>
        <dt>Policy</dt>
        <dd>{r.policyVersion}</dd>
        {PURPOSE_NAMES.filter((p) => p in r.purposes).map((p) => [
          <dt key={`${p}-t`}>{PURPOSES[p].title}</dt>,
          <dd key={`${p}-d`}>{decisionText(r.purposes[p])}</dd>,
        ])}
        <dt>Receipt id</dt>
        <dd class="id">{r.receiptId}</dd>
        <dt>Fingerprint</dt>
        <dd class="id" title={r.hash}>
          {r.hash.slice(0, 16)}…
        </dd>
      </dl>
    </article>
  );
}

/**
 * The receipts' chain, checked in this browser with the client library
 * against the service's published signing keys (`/.well-known/jwks.json`):
 * each receipt's hash covers its content, its signature is the service's,
 * each names the one before it, and the newest is the current choice.
 */
function ChainCheck(props: { check: ChainVerification }) {
  const c = props.check;
  if (!c.ok) {
    const first = c.problems[0];
    return (
      <p class="message error" role="alert">
        These receipts do not check out: {first ? `receipt ${first.version}: ${first.detail}` : 'the chain is incomplete'}.
      </p>
    );
  }
  if (c.receipts === 0) return null;
  return (
    <p class="message note" role="note">
      Checked in this browser:{' '}
      {c.unsigned === 0
        ? `${c.receipts === 1 ? 'the receipt is' : `all ${c.receipts} receipts are`} signed by the service`
        : `${c.signed} of ${c.receipts} receipts are signed by the service (the others were recorded before receipts were signed)`}
      , and each names the one before it: none is missing or altered.
    </p>
  );
}

export function Receipts() {
  const { api, session } = useApp();
  const history = useAsync(async () => {
    // The state first, then the history: a decision recorded in between only makes the history newer, never shorter.
    const [consent, keys, { verifyReceiptChain }] = await Promise.all([
      ok(api.GET('/v1/me/consent')),
      ok(api.GET('/.well-known/jwks.json')),
      import('../../../client/receipts'),
    ]);
    const { items } = await ok(api.GET('/v1/me/consent/history'));
    const newest = items[0]?.version ?? 0;
    const check = await verifyReceiptChain(items, keys, { userId: session.sub, ...(newest <= consent.version && { currentVersion: consent.version }) });
    return { items, check };
  }, []);
  if (history.loading && !history.value) return <Loading what="your receipts" />;
  if (!history.value) return <ErrorMessage error={history.error} />;
  const { items, check } = history.value;
  return (
    <Page title="Your receipts" intro={<p>Every choice you made, newest first. The service keeps them as proof of what you decided and when.</p>}>
      <ChainCheck check={check} />
      {items.length === 0 ? (
        <p>You have not made a choice yet.</p>
      ) : (
        <ol class="cards">
          {items.map((receipt) => (
            <li key={receipt.receiptId}>
              <ReceiptCard receipt={receipt} />
            </li>
          ))}
        </ol>
      )}
    </Page>
  );
}
