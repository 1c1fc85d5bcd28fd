/**
 * `node --import <this file>`: runs the TypeScript sources directly (imports written with `.js`
 * resolve to the `.ts` beside them; types are stripped by the `typescript` compiler already in
 * devDependencies). The testing kit starts `WorkerRunner` threads with it, so the worker-thread
 * path runs under vitest against the same sources as the in-process one.
 */
import { register } from "node:module";

register(new URL("./ts-loader-hooks.mjs", import.meta.url));
