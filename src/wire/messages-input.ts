// Validation of everything that enters the dashboard server: WebSocket messages from browsers and
// query strings. zod schemas checked against the types of messages.ts, so the two cannot drift.
import { z } from 'zod';
import { MEM_CALLS } from './events.js';
import type { CallFilter, ClientMessage, SubscribeMessage } from './messages.js';
import { MESSAGES_WIRE_VERSION, PROCESSES_DELTA_VERSION } from './messages.js';

const callFilterSchema = z.object({
  pid: z.number().int().positive().optional(),
  name: z.string().max(64).optional(),
  call: z.enum(MEM_CALLS).optional(),
}) satisfies z.ZodType<CallFilter>;

export const subscribeSchema = z.object({
  type: z.literal('subscribe'),
  v: z.literal(MESSAGES_WIRE_VERSION),
  host: z.string().max(255).optional(),
  calls: callFilterSchema.optional(),
  detailPid: z.number().int().positive().optional(),
  dirty: z.object({ afterRound: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }).optional(),
  pie: z.object({ figure: z.enum(['pss', 'requested']), exited: z.boolean() }).optional(),
  processesDelta: z.literal(PROCESSES_DELTA_VERSION).optional(),
}) satisfies z.ZodType<SubscribeMessage>;

export const clientMessageSchema = z.discriminatedUnion('type', [subscribeSchema]) satisfies z.ZodType<ClientMessage>;

const intString = z
  .string()
  .regex(/^\d{1,15}$/)
  .transform(Number);

export const eventsQuerySchema = z.object({
  host: z.string().max(255).optional(),
  pid: intString.optional(),
  /** The process name, exactly. */
  name: z.string().max(64).optional(),
  call: z.enum(MEM_CALLS).optional(),
  /** Time range, ms since the epoch, inclusive. */
  from: intString.optional(),
  to: intString.optional(),
  /** Cursor from a previous page's `next`: an event id, in decimal (anything else is a 400). */
  before: z
    .string()
    .regex(/^\d{1,20}$/)
    .optional(),
  limit: intString.pipe(z.number().int().min(1).max(1000)).optional(),
});
export type EventsQuery = z.infer<typeof eventsQuerySchema>;

export const hostQuerySchema = z.object({ host: z.string().max(255).optional() });

export const pieQuerySchema = z.object({
  host: z.string().max(255).optional(),
  figure: z.enum(['pss', 'requested']).optional(),
  /** "1": exited processes take part. */
  exited: z.enum(['0', '1']).optional(),
});

/** GET /api/v1/pages: a frame range [start, end) and the cells of its map. */
// Frame numbers up to 2^44 (64 PiB of 4 KiB pages): pfn * 8 stays an exact file offset.
const pfnString = intString.pipe(
  z
    .number()
    .int()
    .min(0)
    .max(2 ** 44),
);

export const pagesQuerySchema = z.object({
  start: pfnString.optional(),
  end: pfnString.optional(),
  cells: intString.pipe(z.number().int().min(1).max(16384)).optional(),
});

/** GET /api/v1/pages/frames: single frames from `start`. */
export const framesQuerySchema = z.object({
  start: pfnString,
  count: intString.pipe(z.number().int().min(1).max(4096)),
});

export const pidParamsSchema = z.object({ pid: intString.pipe(z.number().int().positive()) });

/** GET /api/v1/history: a window of the /proc history at a resolution fitting `points`. */
export const historyQuerySchema = z.object({
  host: z.string().max(255).optional(),
  /** The window, ms since the epoch; absent: the last hour up to now. */
  from: intString.optional(),
  to: intString.optional(),
  /** About how many points the chart can show (its width in pixels); the server picks the tier. */
  points: intString.pipe(z.number().int().min(10).max(4000)).optional(),
  /** Processes to draw, as pid:startTicks separated by commas; absent: the top ones by PSS. */
  pids: z
    .string()
    .max(2000)
    .regex(/^(\d{1,10}:\d{1,15})(,\d{1,10}:\d{1,15})*$|^$/)
    .optional(),
});
export type HistoryQuery = z.infer<typeof historyQuerySchema>;
