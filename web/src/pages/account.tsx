/**
 * The user's account: blocked businesses, the phone number and email bound
 * by a one-time code, the export of everything stored, and erasure after a
 * confirmation.
 */
import { useState } from 'preact/hooks';
import { ApiError, ok, type Schemas } from '../api';
import { ConfirmDialog, ErrorMessage, Loading, Page, StatusMessage, formatTime, useApp, useAsync } from '../ui';

/** Businesses the user blocked: they can still send, but nothing reaches the user, and they cannot tell. */
export function Blocks() {
  const { api } = useApp();
  const blocks = useAsync(async () => (await ok(api.GET('/v1/me/blocks'))).items, []);
  const [businessId, setBusinessId] = useState('');
  const [error, setError] = useState<unknown>();
  const [status, setStatus] = useState('');

  async function block(event: Event) {
    event.preventDefault();
    const id = businessId.trim();
    if (!id) return;
    setError(undefined);
    try {
      await ok(api.PUT('/v1/me/blocks/{businessId}', { params: { path: { businessId: id } } }));
      setBusinessId('');
      setStatus(`Blocked ${id}.`);
      blocks.reload();
    } catch (failure) {
      setError(failure);
    }
  }

  async function unblock(id: string) {
    setError(undefined);
    try {
      await ok(api.DELETE('/v1/me/blocks/{businessId}', { params: { path: { businessId: id } } }));
      setStatus(`Unblocked ${id}.`);
      blocks.reload();
    } catch (failure) {
      setError(failure);
    }
  }

  return (
    <Page title="Blocked businesses" intro={<p>A business you block reaches you no more. It is not told: to it, you look like someone who is offline.</p>}>
      {blocks.loading && !blocks.value && <Loading what="blocked businesses" />}
      <ErrorMessage error={blocks.error ?? error} />
      {blocks.value && (
        <>
          {blocks.value.length === 0 ? (
            <p>You have not blocked any business.</p>
          ) : (
            <ul class="cards">
              {blocks.value.map((b) => (
                <li class="card row" key={b.businessId}>
                  <span>
                    <strong>{b.businessId}</strong>
                    <br />
                    <small>blocked {formatTime(b.blockedAt)}</small>
                  </span>
                  <button type="button" class="secondary" onClick={() => unblock(b.businessId)} aria-label={`Unblock ${b.businessId}`}>
                    Unblock
                  </button>
                </li>
              ))}
            </ul>
          )}
          <form class="inline" onSubmit={block}>
            <label for="block-business">Business id</label>
            <input id="block-business" value={businessId} maxLength={128} required onInput={(e) => setBusinessId(e.currentTarget.value)} />
            <button type="submit" class="secondary">
              Block
            </button>
          </form>
        </>
      )}
      <StatusMessage>{status}</StatusMessage>
    </Page>
  );
}

type Channel = 'phone' | 'email';

/**
 * A number or address, bound once its owner types the code sent to it
 * (`POST /v1/me/{phone,email}/verification`, then `PUT /v1/me/{phone,email}`
 * with the verification and its code). A wrong code may be typed again; an
 * expired verification, or one with too many wrong codes, needs a new code.
 */
function Verify(props: { channel: Channel; current: string | null | undefined; onBound(value: string): void }) {
  const { api } = useApp();
  const [value, setValue] = useState('');
  const [verification, setVerification] = useState<Schemas['VerificationStarted']>();
  const [code, setCode] = useState('');
  const [error, setError] = useState<unknown>();
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  const label = props.channel === 'phone' ? 'Phone number' : 'Email address';
  const id = `verify-${props.channel}`;
  const where = props.channel === 'phone' ? 'by text message' : 'by email';

  async function start(event: Event) {
    event.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      const started =
        props.channel === 'phone'
          ? await ok(api.POST('/v1/me/phone/verification', { body: { phoneNumber: value } }))
          : await ok(api.POST('/v1/me/email/verification', { body: { email: value } }));
      setVerification(started);
      setCode('');
      setStatus(`We sent a 6-digit code ${where}. It works until ${formatTime(started.expiresAt)}.`);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  async function confirm(event: Event) {
    event.preventDefault();
    if (!verification) return;
    setError(undefined);
    setBusy(true);
    const body = { verificationId: verification.verificationId, code: code.trim() };
    try {
      const bound = props.channel === 'phone' ? (await ok(api.PUT('/v1/me/phone', { body }))).phoneNumber : (await ok(api.PUT('/v1/me/email', { body }))).email;
      setVerification(undefined);
      setCode('');
      setValue('');
      setStatus(`${label} verified.`);
      props.onBound(bound);
    } catch (failure) {
      // Expired, or too many wrong codes: this verification is over, and the form asks for the number or address again.
      if (failure instanceof ApiError && failure.status === 410) {
        setVerification(undefined);
        setStatus('');
      }
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  function cancel() {
    setVerification(undefined);
    setCode('');
    setError(undefined);
    setStatus('');
  }

  return (
    <div class="card">
      <h3>{label}</h3>
      <p>{props.current ? <strong>{props.current}</strong> : 'None yet.'}</p>
      {!verification && (
        <form class="inline" onSubmit={start}>
          <label for={id}>{props.current ? `New ${label.toLowerCase()}` : label}</label>
          {props.channel === 'phone' ? (
            <input id={id} type="tel" autocomplete="tel" maxLength={64} required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
          ) : (
            <input id={id} type="email" autocomplete="email" maxLength={254} required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
          )}
          <button type="submit" class="secondary" disabled={busy}>
            Send a code
          </button>
        </form>
      )}
      {verification && (
        <form class="inline" onSubmit={confirm}>
          <label for={`${id}-code`}>Code</label>
          <input
            id={`${id}-code`}
            inputMode="numeric"
            autocomplete="one-time-code"
            pattern="[0-9]{6}"
            maxLength={6}
            required
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
          />
          <button type="submit" class="primary" disabled={busy}>
            Verify
          </button>
          <button type="button" class="secondary" onClick={cancel}>
            Cancel
          </button>
        </form>
      )}
      <ErrorMessage error={error} />
      <StatusMessage>{status}</StatusMessage>
    </div>
  );
}

type Export = Schemas['AccountExport'];

export function YourData() {
  const { api, session, signOut } = useApp();
  const account = useAsync(() => ok(api.GET('/v1/me/export')), []);
  const [download, setDownload] = useState<string>();
  const [confirming, setConfirming] = useState(false);
  const [erased, setErased] = useState(false);
  const [error, setError] = useState<unknown>();

  async function exportAll() {
    setError(undefined);
    try {
      const data: Export = await ok(api.GET('/v1/me/export'));
      account.set(data);
      if (download) URL.revokeObjectURL(download);
      setDownload(URL.createObjectURL(new Blob([`${JSON.stringify(data, null, 2)}\n`], { type: 'application/json' })));
    } catch (failure) {
      setError(failure);
    }
  }

  async function erase() {
    setConfirming(false);
    setError(undefined);
    try {
      await ok(api.DELETE('/v1/me'));
      // This browser's message keys belong to the erased account: they go too.
      const { DeviceKeyStore } = await import('../../../client/keystore');
      const store = await DeviceKeyStore.open({ name: keyStoreName(session.sub) }).catch(() => undefined);
      if (store) {
        for (const key of await store.list()) await store.delete(key.publicKey);
        store.close();
      }
      setErased(true);
    } catch (failure) {
      setError(failure);
    }
  }

  if (erased) {
    return (
      <Page title="Your account is erased">
        <p>
          Your phone number and email are gone: they match no business's list, you are in no audience, and your pending messages are deleted. Your consent
          receipts stay as proof of what you decided; they never held your number or address.
        </p>
        <button type="button" class="primary" onClick={signOut}>
          Sign out
        </button>
      </Page>
    );
  }

  const data = account.value;
  return (
    <Page title="Your data" intro={<p>What the service keeps about you, a copy of all of it, and erasing it.</p>}>
      {account.loading && !data && <Loading what="your data" />}
      <ErrorMessage error={account.error ?? error} />
      <h2>Phone number and email</h2>
      <div class="cards two">
        <Verify channel="phone" current={data?.account.phoneNumber} onBound={() => account.reload()} />
        <Verify channel="email" current={data?.account.email} onBound={() => account.reload()} />
      </div>
      <h2>A copy of your data</h2>
      {data && (
        <dl class="facts">
          <dt>Consent receipts</dt>
          <dd>{data.consentHistory.length}</dd>
          <dt>Audiences you are in</dt>
          <dd>{data.audiences.count}</dd>
          <dt>Messages waiting for you</dt>
          <dd>{data.pendingMessages.length}</dd>
        </dl>
      )}
      <div class="actions">
        <button type="button" class="secondary" onClick={exportAll}>
          Prepare a copy
        </button>
        {download && (
          <a class="button primary" href={download} download={`my-data-${new Date().toISOString().slice(0, 10)}.json`}>
            Download my data (JSON)
          </a>
        )}
      </div>
      <h2>Erase your account</h2>
      <p>
        Erasing removes your phone number and email everywhere: businesses' lists no longer match you, you leave every audience, and messages waiting for you
        are deleted. It cannot be undone.
      </p>
      <button type="button" class="danger" onClick={() => setConfirming(true)}>
        Erase my account…
      </button>
      <ConfirmDialog
        open={confirming}
        title="Erase your account?"
        confirmLabel="Yes, erase everything"
        danger
        onConfirm={erase}
        onCancel={() => setConfirming(false)}
      >
        <p>Your phone number and email will be removed and your waiting messages deleted. Your consent receipts stay as proof. This cannot be undone.</p>
      </ConfirmDialog>
    </Page>
  );
}

/** One key database per account on this browser. */
export const keyStoreName = (sub: string): string => `consent-audiences:${sub}`;
