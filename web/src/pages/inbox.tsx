/**
 * The inbox: messages businesses sealed to this browser's key, opened here.
 * The key pair is made in this browser with WebCrypto, its private half
 * non-extractable, and kept in IndexedDB (one database per account), so no
 * script, the service included, can ever read it; the service only ever
 * holds ciphertext. The public half is published with `PUT /v1/me/keys` so
 * businesses can seal to it.
 */
import { useState } from 'preact/hooks';
import { hasWebCryptoX25519 } from '../../../client/webcrypto';
import { open } from '../../../client/hpke';
import { DeviceKeyStore, type DeviceKey } from '../../../client/keystore';
import { ok, type Schemas } from '../api';
import { ErrorMessage, Loading, Page, StatusMessage, formatTime, useApp, useAsync } from '../ui';
import { keyStoreName } from './account';

type InboxItem = Schemas['InboxMessage'] & { keyId?: string };

const CATEGORIES: Record<string, string> = { receipt: 'Receipt', reservation: 'Reservation', delivery_update: 'Delivery update' };

interface Opened {
  readonly item: InboxItem;
  readonly text?: string;
  readonly failed?: boolean;
}

/** Opens a message with the key it was sealed to (by `keyId`), or else with each key of this browser, newest first. */
async function openItem(store: DeviceKeyStore, item: InboxItem): Promise<Opened> {
  const named = item.keyId ? await store.byKeyId(item.keyId) : undefined;
  const candidates = named ? [named] : (await store.list()).reverse();
  for (const key of candidates) {
    try {
      const payload = await open(key.keyPair, item.ciphertext);
      return { item, text: typeof payload.text === 'string' ? payload.text : JSON.stringify(payload) };
    } catch {
      // sealed to another key: try the next one
    }
  }
  return { item, failed: true };
}

interface KeyState {
  readonly store: DeviceKeyStore;
  readonly key?: DeviceKey;
  /** Whether the server publishes keys (`PUT /v1/me/keys`). */
  readonly publishing: boolean;
}

export function Inbox() {
  const { api, has, session } = useApp();
  const [error, setError] = useState<unknown>();
  const [status, setStatus] = useState('');

  const keys = useAsync(async (): Promise<KeyState | 'unsupported'> => {
    if (!(await hasWebCryptoX25519())) return 'unsupported';
    const store = await DeviceKeyStore.open({ name: keyStoreName(session.sub) });
    let key = await store.current();
    const publishing = await has('PUT /v1/me/keys');
    // A key made while the service could not publish keys is published once it can.
    if (key && !key.keyId && publishing) key = await publish(store, key);
    return { store, ...(key && { key }), publishing };
  }, [session.sub]);

  const messages = useAsync(async () => {
    const state = keys.value;
    if (!state || state === 'unsupported') return [];
    const { items } = await ok(api.GET('/v1/me/messages'));
    return Promise.all(items.map((item) => openItem(state.store, item as InboxItem)));
  }, [keys.value]);

  async function publish(store: DeviceKeyStore, key: DeviceKey): Promise<DeviceKey> {
    const registered = await ok(api.PUT('/v1/me/keys', { body: { publicKey: key.publicKey } }));
    return store.setKeyId(key.publicKey, registered.keyId);
  }

  async function createKey() {
    const state = keys.value;
    if (!state || state === 'unsupported') return;
    setError(undefined);
    try {
      let key = await state.store.create();
      if (state.publishing) key = await publish(state.store, key);
      keys.set({ ...state, key });
      setStatus(state.publishing ? 'A key for this browser is ready and published.' : 'A key for this browser is ready.');
    } catch (failure) {
      setError(failure);
    }
  }

  async function acknowledge(ids: string[]) {
    setError(undefined);
    try {
      const { acknowledged } = await ok(api.POST('/v1/me/messages/ack', { body: { messageIds: ids } }));
      setStatus(`${acknowledged} ${acknowledged === 1 ? 'message' : 'messages'} marked as received; the service deleted its copy.`);
      messages.set((messages.value ?? []).filter((m) => !ids.includes(m.item.messageId)));
    } catch (failure) {
      setError(failure);
    }
  }

  async function block(businessId: string) {
    setError(undefined);
    try {
      await ok(api.PUT('/v1/me/blocks/{businessId}', { params: { path: { businessId } } }));
      setStatus(`Blocked ${businessId}: nothing more from it will reach you.`);
    } catch (failure) {
      setError(failure);
    }
  }
  const blocking = useAsync(() => has('PUT /v1/me/blocks/{businessId}'), []);

  const state = keys.value;
  return (
    <Page title="Inbox" intro={<p>Receipts, reservations and delivery updates from businesses, opened on this device with your own key.</p>}>
      {keys.loading && !state && <Loading what="your key" />}
      <ErrorMessage error={keys.error ?? messages.error ?? error} />
      {state === 'unsupported' && (
        <p class="message error" role="alert">
          This browser cannot make the kind of key messages are sealed to (X25519). Use a current Chrome, Edge, Firefox or Safari.
        </p>
      )}
      {state && state !== 'unsupported' && (
        <section class="card" aria-labelledby="key-title">
          <h2 id="key-title">Your key on this browser</h2>
          {state.key ? (
            <>
              <p>
                Made {formatTime(state.key.createdAt)}. Its private part never leaves this browser, and no script can read it.{' '}
                {state.key.keyId
                  ? 'Businesses seal messages to its public part.'
                  : state.publishing
                    ? 'It is not published yet.'
                    : 'This server does not publish keys yet; share the public key with a business yourself.'}
              </p>
              <label for="public-key">Public key</label>
              <input id="public-key" class="id" readOnly value={state.key.publicKey} />
            </>
          ) : (
            <>
              <p>Make a key on this browser to receive messages. Its private part stays here.</p>
              <button type="button" class="primary" onClick={createKey}>
                Make a key for this browser
              </button>
            </>
          )}
        </section>
      )}
      {state && state !== 'unsupported' && state.key && (
        <section aria-labelledby="messages-title">
          <h2 id="messages-title">Messages</h2>
          {messages.loading && !messages.value && <Loading what="messages" />}
          {messages.value?.length === 0 && <p>No messages waiting. Messages you do not receive within 30 days expire.</p>}
          {messages.value && messages.value.length > 0 && (
            <>
              <ol class="cards">
                {messages.value.map(({ item, text, failed }) => (
                  <li key={item.messageId}>
                    <article class="card message-item" aria-labelledby={`m-${item.messageId}`}>
                      <h3 id={`m-${item.messageId}`}>
                        {CATEGORIES[item.category] ?? item.category} from {item.from}
                      </h3>
                      {failed ? <p class="message error">This message cannot be opened with this browser's keys.</p> : <p class="plaintext">{text}</p>}
                      <p>
                        <small>
                          Sent {formatTime(item.acceptedAt)}; kept until {formatTime(item.expiresAt)}.
                        </small>
                      </p>
                      <div class="actions">
                        <button type="button" class="secondary" onClick={() => acknowledge([item.messageId])}>
                          Mark as received
                        </button>
                        {blocking.value && (
                          <button type="button" class="secondary" onClick={() => block(item.from)}>
                            Block {item.from}
                          </button>
                        )}
                      </div>
                    </article>
                  </li>
                ))}
              </ol>
              <button type="button" class="secondary" onClick={() => acknowledge(messages.value!.filter((m) => !m.failed).map((m) => m.item.messageId))}>
                Mark all opened as received
              </button>
            </>
          )}
        </section>
      )}
      <StatusMessage>{status}</StatusMessage>
    </Page>
  );
}
