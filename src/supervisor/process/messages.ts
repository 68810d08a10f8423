import type { FromThread, StreamEnd, StreamTask, ToThread } from '../thread/messages.js';

/**
 * Every message between the supervisor and a handler process, over the fork's IPC
 * channel ('advanced' serialization, so batches' typed arrays and buffers pass as they
 * are). The process serves one job stream, exactly as a handler thread does
 * (thread/job-stream.ts): the stream's own messages (thread/messages.ts) cross as they
 * are, and only the start and the end are the process's own.
 */

/** Supervisor → process: first the task (the stream's port stays on this side), then the stream. */
export type ToProcess = { readonly kind: 'task'; readonly task: ProcessTask } | ToThread;

/** Process → supervisor: the stream's messages, then how the stream ended. */
export type FromProcess = FromThread | { readonly kind: 'end'; readonly end: StreamEnd };

export type ProcessTask = Omit<StreamTask, 'port'>;
