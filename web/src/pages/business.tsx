/**
 * The business console: audiences with their size ranges and when they were
 * counted, an upload that hashes a customer list in this browser and sends it
 * in batches (resumable after a reload), and sealed messages.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { customerFileSourceValues, messageCategoryValues } from '../../../client/api';
import { COUNTRY_HEADERS, EMAIL_HEADERS, PHONE_HEADERS, findKnownColumn, type Column, type Columns } from '../../../client/customer-list';
import { normalisePhone } from '../../../client/identifiers';
import { messageStatus, sendSealed } from '../../../client/messages';
import { ok, problemKind, type Schemas } from '../api';
import { href, navigate } from '../router';
import { ConfirmDialog, ErrorMessage, Loading, Page, StatusMessage, formatNumber, formatRange, formatTime, useApp, useAsync } from '../ui';
import {
  fingerprintOf,
  parseList,
  planUpload,
  readState,
  runUpload,
  sameSettings,
  stateKey,
  type Fingerprint,
  type ParsedList,
  type Progress,
  type UploadPlan,
  type UploadState,
} from '../upload';

type Audience = Schemas['Audience'];

const SOURCES: Record<string, string> = {
  USER_PROVIDED_ONLY: 'Collected from your customers',
  PARTNER_PROVIDED_ONLY: 'From partners',
  BOTH_USER_AND_PARTNER_PROVIDED: 'Both',
};
const STATUS: Record<string, string> = { empty: 'Empty', processing: 'Matching…', ready: 'Ready' };

/**
 * An audience's size as its latest release shows it: a range, when it was
 * counted, and the earliest time a newer count can be shown (size releases
 * are rationed, so a change shows at the next count, not at once).
 */
function Size(props: { audience: Audience }) {
  const a = props.audience;
  const counted = a.approximateCount !== null && a.countedAt !== null;
  const later = new Date(a.nextCountAt).getTime() > Date.now();
  return (
    <dl class="facts">
      <dt>Size</dt>
      <dd>
        {counted ? (
          <>
            <strong>{formatRange(a.approximateCount!, a.targetable === true)}</strong> people
          </>
        ) : (
          'Not counted yet'
        )}
      </dd>
      <dt>Targetable</dt>
      <dd>{a.targetable === null ? '—' : a.targetable ? 'Yes' : 'No (below the minimum audience size)'}</dd>
      <dt>Counted</dt>
      <dd>{a.countedAt ? formatTime(a.countedAt) : 'Not yet'}</dd>
      <dt>Next count</dt>
      <dd>{later ? `not before ${formatTime(a.nextCountAt)}` : 'as soon as it changes'}</dd>
      <dt>Status</dt>
      <dd>{STATUS[a.status] ?? a.status}</dd>
    </dl>
  );
}

export function Audiences() {
  const { api } = useApp();
  const list = useAsync(async () => (await ok(api.GET('/v1/audiences'))).items, []);
  const [name, setName] = useState('');
  const [source, setSource] = useState<Schemas['CustomerFileSource']>('USER_PROVIDED_ONLY');
  const [error, setError] = useState<unknown>();

  async function create(event: Event) {
    event.preventDefault();
    setError(undefined);
    try {
      const audience = await ok(api.POST('/v1/audiences', { body: { name: name.trim(), customerFileSource: source } }));
      navigate('audiences', audience.id);
    } catch (failure) {
      setError(failure);
    }
  }

  return (
    <Page
      title="Audiences"
      intro={<p>People from your customer lists who allow ads. You only ever see how many, as a range: never who, never an exact count.</p>}
    >
      {list.loading && !list.value && <Loading what="audiences" />}
      <ErrorMessage error={list.error} />
      {list.value?.length === 0 && <p>No audiences yet.</p>}
      {list.value && list.value.length > 0 && (
        <ul class="cards">
          {list.value.map((audience) => (
            <li class="card" key={audience.id}>
              <h2>
                <a href={href('audiences', audience.id)}>{audience.name}</a>
              </h2>
              <Size audience={audience} />
            </li>
          ))}
        </ul>
      )}
      <h2>New audience</h2>
      <form class="stack" onSubmit={create}>
        <label for="audience-name">Name</label>
        <input id="audience-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="audience-source">Where the list comes from</label>
        <select id="audience-source" value={source} onChange={(e) => setSource(e.currentTarget.value as Schemas['CustomerFileSource'])}>
          {customerFileSourceValues.map((value) => (
            <option key={value} value={value}>
              {SOURCES[value] ?? value}
            </option>
          ))}
        </select>
        <ErrorMessage error={error} />
        <button type="submit" class="primary">
          Create audience
        </button>
      </form>
    </Page>
  );
}

export function AudienceDetail(props: { id: string }) {
  const { api } = useApp();
  const audience = useAsync(() => ok(api.GET('/v1/audiences/{id}', { params: { path: { id: props.id } } })), [props.id]);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>();

  async function remove() {
    setConfirming(false);
    try {
      await ok(api.DELETE('/v1/audiences/{id}', { params: { path: { id: props.id } } }));
      navigate('audiences');
    } catch (failure) {
      setError(failure);
    }
  }

  if (audience.loading && !audience.value) return <Loading what="the audience" />;
  if (!audience.value) return <ErrorMessage error={audience.error} />;
  const a = audience.value;
  return (
    <Page
      title={a.name}
      intro={
        <p>
          {SOURCES[a.customerFileSource]}. Created {formatTime(a.createdAt)}.
        </p>
      }
    >
      <section class="card" aria-labelledby="size-title">
        <h2 id="size-title">Size</h2>
        <Size audience={a} />
        <button type="button" class="secondary" onClick={audience.reload}>
          Refresh
        </button>
      </section>
      <Upload audienceId={a.id} onMatched={audience.reload} />
      <h2>Delete</h2>
      <p>Deleting the audience removes everyone from it at once.</p>
      <ErrorMessage error={error} />
      <button type="button" class="danger" onClick={() => setConfirming(true)}>
        Delete audience…
      </button>
      <ConfirmDialog
        open={confirming}
        title={`Delete ${a.name}?`}
        confirmLabel="Delete audience"
        danger
        onConfirm={remove}
        onCancel={() => setConfirming(false)}
      >
        <p>No one will be a member of it any more. This cannot be undone.</p>
      </ConfirmDialog>
    </Page>
  );
}

/** The region of the browser's language (`en-US` → `US`), as the default country of numbers. */
const defaultCountry = (): string => /-([A-Z]{2})\b/.exec(navigator.language)?.[1] ?? 'US';

interface Chosen {
  readonly file: File;
  readonly list: ParsedList;
  readonly fingerprint: Fingerprint;
}

type ColumnChoice = { phone: string; email: string; country: string };

const choiceOf = (column: Column | undefined): string => (column ? String(column.index) : '');

function columnsOf(choice: ColumnChoice, header: readonly string[]): Columns {
  const pick = (value: string): Column | undefined => (value === '' ? undefined : { index: Number(value), name: header[Number(value)] ?? '' });
  const phone = pick(choice.phone);
  const email = pick(choice.email);
  const country = pick(choice.country);
  return { ...(phone && { phone }), ...(email && { email }), ...(country && { country }) };
}

type Stage =
  | { kind: 'idle' }
  | { kind: 'uploading'; progress: Progress }
  | { kind: 'matching'; state: UploadState; stage?: string }
  | { kind: 'done'; state: UploadState };

function Upload(props: { audienceId: string; onMatched(): void }) {
  const { api, session } = useApp();
  const [chosen, setChosen] = useState<Chosen>();
  const [columns, setColumns] = useState<ColumnChoice>({ phone: '', email: '', country: '' });
  const [country, setCountry] = useState(defaultCountry);
  const [batchSize, setBatchSize] = useState('10000');
  const [plan, setPlan] = useState<UploadPlan>();
  const [resume, setResume] = useState<{ key: string; state?: UploadState }>();
  const [stage, setStage] = useState<Stage>({ kind: 'idle' });
  const [error, setError] = useState<unknown>();
  const polling = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(polling.current), []);

  const settings = useMemo(
    () => (chosen ? { country, batchSize: Number(batchSize), columns: columnsOf(columns, chosen.list.header) } : undefined),
    [chosen, country, batchSize, columns],
  );

  // Plan the batches and look for an unfinished session of this file whenever the file or a setting changes.
  useEffect(() => {
    let live = true;
    setPlan(undefined);
    setResume(undefined);
    if (!chosen || !settings) return;
    (async () => {
      const planned = await planUpload(chosen.list, settings);
      const key = await stateKey(session.sub, props.audienceId, chosen.fingerprint);
      const recorded = readState(localStorage, key);
      if (!live) return;
      setPlan(planned);
      setResume({ key, ...(recorded && !recorded.completed && sameSettings(recorded, settings, planned) && { state: recorded }) });
      setError(undefined);
    })().catch((failure: unknown) => live && setError(failure));
    return () => {
      live = false;
    };
  }, [chosen, settings, props.audienceId, session.sub]);

  async function choose(file: File | undefined) {
    setChosen(undefined);
    setStage({ kind: 'idle' });
    setError(undefined);
    if (!file) return;
    try {
      const [list, fingerprint] = await Promise.all([file.text().then((text) => parseList(text)), fingerprintOf(file)]);
      // An unfinished session of this very file goes on with the settings it started with, so its batches fall as before.
      const recorded = readState(localStorage, await stateKey(session.sub, props.audienceId, fingerprint));
      if (recorded && !recorded.completed) {
        const index = (i: number | undefined): string => (i === undefined ? '' : String(i));
        setColumns({
          phone: index(recorded.settings.columns.phone),
          email: index(recorded.settings.columns.email),
          country: index(recorded.settings.columns.country),
        });
        setCountry(recorded.settings.country);
        setBatchSize(String(recorded.settings.batchSize));
      } else {
        setColumns({
          phone: choiceOf(findKnownColumn(list.header, PHONE_HEADERS)),
          email: choiceOf(findKnownColumn(list.header, EMAIL_HEADERS)),
          country: choiceOf(findKnownColumn(list.header, COUNTRY_HEADERS)),
        });
      }
      setChosen({ file, list, fingerprint });
    } catch (failure) {
      setError(failure);
    }
  }

  async function poll(state: UploadState) {
    try {
      const session = await ok(
        api.GET('/v1/audiences/{id}/sessions/{sessionId}', { params: { path: { id: props.audienceId, sessionId: String(state.sessionId) } } }),
      );
      if (session.stage === 'done') {
        setStage({ kind: 'done', state });
        props.onMatched();
        return;
      }
      setStage({ kind: 'matching', state, stage: session.stage });
    } catch (failure) {
      setError(failure);
      return;
    }
    polling.current = window.setTimeout(() => void poll(state), 1_000);
  }

  async function start(event: Event, fresh = false) {
    event.preventDefault();
    if (!chosen || !settings || !plan || !resume) return;
    setError(undefined);
    try {
      const state = await runUpload({
        api,
        storage: localStorage,
        key: resume.key,
        audienceId: props.audienceId,
        fingerprint: chosen.fingerprint,
        settings,
        plan,
        ...(resume.state && !fresh && { resume: resume.state }),
        onProgress: (progress) => setStage({ kind: 'uploading', progress }),
      });
      setResume({ key: resume.key });
      setStage({ kind: 'matching', state });
      await poll(state);
    } catch (failure) {
      setError(failure);
      setStage({ kind: 'idle' });
      // Whatever was acknowledged is recorded: the same file can go on from there.
      const recorded = readState(localStorage, resume.key);
      if (recorded && !recorded.completed) setResume({ key: resume.key, state: recorded });
    }
  }

  const busy = stage.kind === 'uploading' || stage.kind === 'matching';
  const header = chosen?.list.header ?? [];
  const columnSelect = (field: keyof ColumnChoice, label: string) => (
    <>
      <label for={`column-${field}`}>{label}</label>
      <select id={`column-${field}`} value={columns[field]} disabled={busy} onChange={(e) => setColumns({ ...columns, [field]: e.currentTarget.value })}>
        <option value="">None</option>
        {header.map((name, index) => (
          <option key={index} value={String(index)}>
            {name || `Column ${index + 1}`}
          </option>
        ))}
      </select>
    </>
  );

  return (
    <section class="card" aria-labelledby="upload-title">
      <h2 id="upload-title">Add people from a customer list</h2>
      <p>
        Choose a CSV file with a header row. Phone numbers and email addresses are normalised and hashed (SHA-256) in this browser: only the hashes are sent.
      </p>
      <form class="stack" onSubmit={(e) => start(e)}>
        <label for="list-file">Customer list (CSV)</label>
        <input id="list-file" type="file" accept=".csv,text/csv" disabled={busy} onChange={(e) => void choose(e.currentTarget.files?.[0])} />
        {chosen && (
          <>
            <p>
              {chosen.file.name}: {formatNumber(chosen.list.records.length)} rows.
            </p>
            {columnSelect('phone', 'Phone number column')}
            {columnSelect('email', 'Email column')}
            {columnSelect('country', 'Country column (optional)')}
            <label for="list-country">Country of numbers without a country code</label>
            <input
              id="list-country"
              value={country}
              maxLength={2}
              pattern="[A-Za-z]{2}"
              autocomplete="country"
              required
              disabled={busy}
              aria-describedby="list-country-hint"
              onInput={(e) => setCountry(e.currentTarget.value.toUpperCase())}
            />
            <small id="list-country-hint">Two letters, as in US, GB or DE.</small>
            <details>
              <summary>Batches</summary>
              <label for="list-batch">Rows per batch</label>
              <input id="list-batch" type="number" min={1} max={10000} value={batchSize} disabled={busy} onInput={(e) => setBatchSize(e.currentTarget.value)} />
            </details>
            {plan && (
              <p>
                {formatNumber(plan.rows.length)} rows to upload in {plan.batches.length} {plan.batches.length === 1 ? 'batch' : 'batches'}
                {plan.skippedLines.length > 0 &&
                  `; ${plan.skippedLines.length} skipped (no valid phone number or email) on line ${plan.skippedLines.slice(0, 10).join(', ')}${plan.skippedLines.length > 10 ? '…' : ''}`}
                .
              </p>
            )}
            {resume?.state && !busy && (
              <p class="message note" role="note">
                An upload of this file stopped after batch {resume.state.lastAckedBatchSeq} of {resume.state.batches}. Resuming sends only the batches after it.
              </p>
            )}
            <ErrorMessage error={error} />
            <div class="actions">
              <button type="submit" class="primary" disabled={busy || !plan || plan.rows.length === 0}>
                {resume?.state ? 'Resume upload' : 'Upload'}
              </button>
              {resume?.state && !busy && (
                <button type="button" class="secondary" onClick={(e) => start(e, true)}>
                  Start over
                </button>
              )}
            </div>
          </>
        )}
        {!chosen && <ErrorMessage error={error} />}
      </form>
      {stage.kind === 'uploading' && (
        <div class="progress">
          <label for="upload-progress">
            Uploaded {stage.progress.batchesDone} of {stage.progress.batches} batches ({formatNumber(stage.progress.rowsDone)} of{' '}
            {formatNumber(stage.progress.rows)} rows)
          </label>
          <progress id="upload-progress" max={stage.progress.batches} value={stage.progress.batchesDone} />
        </div>
      )}
      <StatusMessage>
        {stage.kind === 'matching' && `All batches sent (session ${stage.state.sessionId}). Matching…`}
        {stage.kind === 'done' &&
          `Session ${stage.state.sessionId} finished: ${formatNumber(stage.state.numReceived)} rows received, ${formatNumber(stage.state.numInvalid)} invalid. The size above is updated.`}
      </StatusMessage>
    </section>
  );
}

/**
 * Seals a message in this browser to the recipient's published key and sends
 * the ciphertext with that key's `keyId` (client library `sendSealed`: when
 * the recipient published a new key in between, the service answers 409 and
 * the key is fetched and the message sealed again, once).
 */
export function Send() {
  const { api } = useApp();
  const [to, setTo] = useState('');
  const [country, setCountry] = useState(defaultCountry);
  const [category, setCategory] = useState<Schemas['MessageCategory']>('receipt');
  const [text, setText] = useState('');
  const [sent, setSent] = useState<Schemas['MessageAccepted']>();
  const [status, setStatus] = useState<Schemas['MessageStatus']>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  async function send(event: Event) {
    event.preventDefault();
    setError(undefined);
    setSent(undefined);
    setStatus(undefined);
    const phoneNumber = normalisePhone(to, country);
    if (!phoneNumber) {
      setError(new Error('That is not a valid phone number for the country chosen.'));
      return;
    }
    setBusy(true);
    try {
      const accepted = await sendSealed(api, { to: phoneNumber, category, payload: { text }, clientMessageId: crypto.randomUUID() });
      setSent(accepted);
      setText('');
    } catch (failure) {
      setError(
        problemKind(failure) === 'not-found'
          ? new Error('This number has no account with a published key: the person needs to open their inbox once before they can receive messages.')
          : failure,
      );
    } finally {
      setBusy(false);
    }
  }

  async function refresh() {
    if (!sent) return;
    try {
      setStatus(await messageStatus(api, sent.messageId));
    } catch (failure) {
      setError(failure);
    }
  }

  return (
    <Page
      title="Send a message"
      intro={
        <p>
          Receipts, reservation confirmations and delivery updates, sealed in this browser to the recipient's own key: the service only ever carries ciphertext,
          and keeps an undelivered message 30 days.
        </p>
      }
    >
      <form class="stack" onSubmit={send}>
        <label for="send-to">Recipient's phone number</label>
        <input id="send-to" type="tel" autocomplete="off" required maxLength={64} value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        <label for="send-country">Country of a number without a country code</label>
        <input id="send-country" value={country} maxLength={2} required onInput={(e) => setCountry(e.currentTarget.value.toUpperCase())} />
        <label for="send-category">Kind of message</label>
        <select id="send-category" value={category} onChange={(e) => setCategory(e.currentTarget.value as Schemas['MessageCategory'])}>
          {messageCategoryValues.map((value) => (
            <option key={value} value={value}>
              {{ receipt: 'Receipt', reservation: 'Reservation', delivery_update: 'Delivery update' }[value] ?? value}
            </option>
          ))}
        </select>
        <label for="send-text">Message</label>
        <textarea id="send-text" required maxLength={4000} rows={4} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <ErrorMessage error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Sealing and sending…' : 'Seal and send'}
        </button>
      </form>
      {sent && (
        <section class="card" aria-labelledby="sent-title">
          <h2 id="sent-title">Sent</h2>
          <dl class="facts">
            <dt>Message id</dt>
            <dd class="id">{sent.messageId}</dd>
            <dt>Status</dt>
            <dd>{status?.status ?? sent.status}</dd>
            <dt>Kept until</dt>
            <dd>{formatTime(sent.expiresAt)}</dd>
          </dl>
          <button type="button" class="secondary" onClick={refresh}>
            Check status
          </button>
        </section>
      )}
    </Page>
  );
}
