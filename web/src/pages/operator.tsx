/** The operator's page: the current privacy policy, and publishing a new version (it becomes the current one). */
import { useState } from 'preact/hooks';
import { purposeValues } from '../../../client/api';
import { ApiError, ok, type Schemas } from '../api';
import { ErrorMessage, Loading, Page, PURPOSES, StatusMessage, formatTime, useApp, useAsync, type Purpose } from '../ui';

export function Policy() {
  const { api } = useApp();
  const current = useAsync(async () => {
    try {
      return await ok(api.GET('/v1/policies/current'));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }, []);
  const [version, setVersion] = useState(new Date().toISOString().slice(0, 10));
  const [summary, setSummary] = useState('');
  const [purposes, setPurposes] = useState<Schemas['Purpose'][]>([...purposeValues]);
  const [error, setError] = useState<unknown>();
  const [status, setStatus] = useState('');

  async function publish(event: Event) {
    event.preventDefault();
    setError(undefined);
    try {
      const policy = await ok(api.POST('/v1/policies', { body: { version: version.trim(), purposes, summary: summary.trim() } }));
      current.set(policy);
      setStatus(`Policy ${policy.version} is now the current one: every user will be asked to choose again.`);
    } catch (failure) {
      setError(failure);
    }
  }

  return (
    <Page title="Privacy policy">
      {current.loading && current.value === undefined && <Loading what="the current policy" />}
      <ErrorMessage error={current.error} />
      {current.value === null && <p>No policy has been published yet.</p>}
      {current.value && (
        <dl class="facts card">
          <dt>Version</dt>
          <dd>{current.value.version}</dd>
          <dt>Published</dt>
          <dd>{formatTime(current.value.publishedAt)}</dd>
          <dt>Purposes</dt>
          <dd>{current.value.purposes.map((p) => PURPOSES[p as Purpose]?.title ?? p).join(', ')}</dd>
          <dt>Summary</dt>
          <dd>{current.value.summary}</dd>
        </dl>
      )}
      <h2>Publish a new version</h2>
      <form class="stack" onSubmit={publish}>
        <label for="policy-version">Version</label>
        <input id="policy-version" required maxLength={64} value={version} onInput={(e) => setVersion(e.currentTarget.value)} />
        <fieldset>
          <legend>Purposes users are asked about</legend>
          {purposeValues.map((p) => (
            <label class="option" key={p} for={`purpose-${p}`}>
              <input
                type="checkbox"
                id={`purpose-${p}`}
                checked={purposes.includes(p)}
                onChange={(e) => setPurposes(e.currentTarget.checked ? [...purposes, p] : purposes.filter((x) => x !== p))}
              />
              <span>{PURPOSES[p as Purpose]?.title ?? p}</span>
            </label>
          ))}
        </fieldset>
        <label for="policy-summary">What changes, in plain words</label>
        <textarea id="policy-summary" required maxLength={2000} rows={4} value={summary} onInput={(e) => setSummary(e.currentTarget.value)} />
        <ErrorMessage error={error} />
        <button type="submit" class="primary">
          Publish
        </button>
      </form>
      <StatusMessage>{status}</StatusMessage>
    </Page>
  );
}
