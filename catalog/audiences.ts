import type { FunctionSpec, QueueSpec, SecretSpec, SettingSpec, TableSpec, TopicSpec } from './types';

/** Audiences: tables, queues, settings and functions. */

export const audiencesTables = {} as const satisfies Record<string, TableSpec>;
export const audiencesTopics = {} as const satisfies Record<string, TopicSpec>;
export const audiencesQueues = {} as const satisfies Record<string, QueueSpec>;
export const audiencesSecrets = {} as const satisfies Record<string, SecretSpec>;
export const audiencesSettings = {} as const satisfies Record<string, SettingSpec>;
export const audiencesFunctions = {} as const satisfies Record<string, FunctionSpec>;
