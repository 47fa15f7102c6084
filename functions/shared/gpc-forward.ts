/**
 * The `privacySignal` of user routes under `/v1/me` that do not record
 * decisions: hands a Global Privacy Control signal to `applyGpc`
 * (shared/gpc.ts). The module, and the SQS client with it, loads only when
 * a request carries the signal, so it costs nothing at cold start.
 */
export const forwardGpcSignal = async (userId: string): Promise<void> => (await import('./gpc')).forwardPrivacySignal(userId);
