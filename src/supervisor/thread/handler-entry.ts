import { serveJobStream } from './job-stream.js';
import type { StreamEnd, StreamTask } from './messages.js';
import { capThreadOutput } from './output-cap.js';

// Before any handler runs: what a handler writes to stdout/stderr is bounded.
capThreadOutput();

/**
 * The only module piscina loads in handler threads. Its one task is a job stream
 * (thread/job-stream.ts), which lives as long as the thread serves its generation; it
 * never lets a handler's throw escape, so a rejected task always means a dead thread.
 */
export default function handlerEntry(task: StreamTask): Promise<StreamEnd> {
  return serveJobStream(task);
}
