import type { FunctionSpec, QueueSpec, SecretSpec, SettingSpec, TableSpec, TopicSpec } from './types';

/** Messages: tables, queues, settings and functions. */

export const messagesTables = {} as const satisfies Record<string, TableSpec>;
export const messagesTopics = {} as const satisfies Record<string, TopicSpec>;
export const messagesQueues = {} as const satisfies Record<string, QueueSpec>;
export const messagesSecrets = {} as const satisfies Record<string, SecretSpec>;
export const messagesSettings = {} as const satisfies Record<string, SettingSpec>;
export const messagesFunctions = {} as const satisfies Record<string, FunctionSpec>;
