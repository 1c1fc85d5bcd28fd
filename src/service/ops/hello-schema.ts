/**
 * `hello`, the handshake every transport answers itself (zmq-server.ts): the client's versions in,
 * the server's version, limits, ops and envelope fields out. Re-exported by schemas.ts.
 */
import { z } from "zod";

export const helloArgs = z.object({ versions: z.array(z.number().int()).min(1).optional(), client: z.record(z.string(), z.unknown()).optional() }).strict();

export const helloResultSchema = z.object({
  version: z.number().int(),
  server: z.object({ name: z.string(), version: z.string() }),
  limits: z.object({
    max_message_bytes: z.number().int(),
    heartbeat_interval_s: z.number(),
    max_inflight: z.number().int(),
    max_intermediate: z
      .number()
      .int()
      .optional()
      .describe("intermediate values one trial holds at most (serve --max-intermediate); absent from a server older than 2026-12-06"),
  }),
  ops: z.array(z.string()),
  idempotent_ops: z.array(z.string()),
  envelope: z.array(z.string()).describe("the envelope fields this server reads: v, id, op and attempt"),
  optional_args: z
    .array(z.string())
    .describe("optional arguments added to ops after protocol 1, as op.argument (e.g. ask.study_created_at): a client sends one only to a server that lists it"),
});
