/**
 * The inbox: messages businesses sealed to this browser's key, opened here.
 * The key pair is made in this browser with WebCrypto, its private half
 * non-extractable, and kept in IndexedDB (one database per account), so no
 * script, the service included, can ever read it; the service only ever
 * holds ciphertext. The public half is published with `PUT /v1/me/keys` so
 * businesses can seal to it; each message names the key it was sealed to
 * (`keyId`), and this browser opens it with that key (client library HPKE).
 */
import { useState } from 'preact/hooks';
import { acknowledge, blockBusiness, openInbox, publishKey, type OpenedMessage } from '../../../client/messages';
import { DeviceKeyStore, type DeviceKey } from '../../../client/keystore';
import { hasWebCryptoX25519 } from '../../../client/webcrypto';
import { ErrorMessage, Loading, Page, StatusMessage, formatTime, useApp, useAsync } from '../ui';
import { keyStoreName } from './account';

const CATEGORIES: Record<string, string> = { receipt: 'Receipt', reservation: 'Reservation', delivery_update: 'Delivery update' };

interface KeyState {
  readonly store: DeviceKeyStore;
  readonly key?: DeviceKey;
}

/** Why a message did not open, for people. */
function failureText(message: OpenedMessage): string {
  if (message.failure === 'no-key')
    return "This message cannot be opened with this browser's keys: it was sealed to a key this browser does not hold (one published from another device).";
  return "This message cannot be opened with this browser's keys: it was altered, or not sealed to this browser's key.";
}

const textOf = (message: OpenedMessage): string => (typeof message.payload?.text === 'string' ? message.payload.text : JSON.stringify(message.payload));

export function Inbox() {
  const { api, session } = useApp();
  const [error, setError] = useState<unknown>();
  const [status, setStatus] = useState('');

  /** Records the service's keyId for a key this browser made, once the key is published. */
  async function publish(store: DeviceKeyStore, key: DeviceKey): Promise<DeviceKey> {
    const published = await publishKey(api, key.publicKey);
    return store.setKeyId(key.publicKey, published.keyId);
  }

  const keys = useAsync(async (): Promise<KeyState | 'unsupported'> => {
    if (!(await hasWebCryptoX25519())) return 'unsupported';
    const store = await DeviceKeyStore.open({ name: keyStoreName(session.sub) });
    let key = await store.current();
    // A key whose publication did not finish (the connection dropped, say) is published now.
    if (key && !key.keyId) key = await publish(store, key);
    return { store, ...(key && { key }) };
  }, [session.sub]);

  const messages = useAsync(async () => {
    const state = keys.value;
    if (!state || state === 'unsupported' || !state.key) return [];
    return openInbox(api, async (keyId) => (await state.store.byKeyId(keyId))?.keyPair);
  }, [keys.value]);

  async function createKey() {
    const state = keys.value;
    if (!state || state === 'unsupported') return;
    setError(undefined);
    try {
      const key = await publish(state.store, await state.store.create());
      keys.set({ ...state, key });
      setStatus('A key for this browser is ready and published: businesses now seal messages to it.');
    } catch (failure) {
      setError(failure);
    }
  }

  async function markReceived(ids: string[]) {
    setError(undefined);
    try {
      const acknowledged = await acknowledge(api, ids);
      setStatus(`${acknowledged} ${acknowledged === 1 ? 'message' : 'messages'} marked as received; the service deleted its copy.`);
      messages.set((messages.value ?? []).filter((m) => !ids.includes(m.messageId)));
    } catch (failure) {
      setError(failure);
    }
  }

  async function block(businessId: string) {
    setError(undefined);
    try {
      await blockBusiness(api, businessId);
      setStatus(`Blocked ${businessId}: nothing more from it will reach you. Unblock it under Blocked.`);
    } catch (failure) {
      setError(failure);
    }
  }

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
                Made {formatTime(state.key.createdAt)}. Its private part never leaves this browser, and no script can read it. Businesses seal messages to its
                public part.
              </p>
              <label for="public-key">Public key</label>
              <input id="public-key" class="id" readOnly value={state.key.publicKey} />
            </>
          ) : (
            <>
              <p>Make a key on this browser to receive messages. Its private part stays here; its public part is published so businesses can seal to it.</p>
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
                {messages.value.map((message) => (
                  <li key={message.messageId}>
                    <article class="card message-item" aria-labelledby={`m-${message.messageId}`}>
                      <h3 id={`m-${message.messageId}`}>
                        {CATEGORIES[message.category] ?? message.category} from {message.from}
                      </h3>
                      {message.failure ? <p class="message error">{failureText(message)}</p> : <p class="plaintext">{textOf(message)}</p>}
                      <p>
                        <small>
                          Sent {formatTime(message.acceptedAt)}; kept until {formatTime(message.expiresAt)}.
                        </small>
                      </p>
                      <div class="actions">
                        <button type="button" class="secondary" onClick={() => markReceived([message.messageId])}>
                          Mark as received
                        </button>
                        <button type="button" class="secondary" onClick={() => block(message.from)}>
                          Block {message.from}
                        </button>
                      </div>
                    </article>
                  </li>
                ))}
              </ol>
              <button type="button" class="secondary" onClick={() => markReceived(messages.value!.filter((m) => !m.failure).map((m) => m.messageId))}>
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
