#!/usr/bin/env node
/**
 * Fills `msgpack_hex` of every protocol/vectors/*.json from its `message`, with the server's own
 * encoder (src/transports/zmq/codec.ts, built into dist/: `npx tsc -p tsconfig.build.json`), so
 * the TypeScript and Python test suites check their codecs against bytes the server really writes.
 *
 *   node protocol/vectors/generate.mjs          rewrite stale files
 *   node protocol/vectors/generate.mjs check    exit 1 when a file is stale (CI)
 *
 * MessagePack bin (bytes, e.g. the PNG of a `plot` reply) is written `{"$bin": "<hex>"}` in `message`.
 *
 * JSON has one number type: a float whose value is integral (1.0) is an integer here and is
 * packed as one, so vectors use non-integral floats (0.25, 1795768615.705) where a float is meant.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const dir = dirname(fileURLToPath(import.meta.url));
const codec = join(dir, "..", "..", "dist", "transports", "zmq", "codec.js");
if (!existsSync(codec)) {
  process.stderr.write(`missing ${codec}: build the server first (npx tsc -p tsconfig.build.json)\n`);
  process.exit(2);
}
const { encode } = await import(pathToFileURL(codec).href);
const check = process.argv[2] === "check";
if (process.argv[2] !== undefined && !check) {
  process.stderr.write("usage: generate.mjs [check]\n");
  process.exit(2);
}

/** `{"$bin": hex}` → bytes, everywhere in a message. */
function withBytes(v) {
  if (Array.isArray(v)) return v.map(withBytes);
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$bin") return Buffer.from(v.$bin, "hex");
    return Object.fromEntries(keys.map((k) => [k, withBytes(v[k])]));
  }
  return v;
}

const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
if (files.length === 0) {
  process.stderr.write(`no vectors in ${dir}\n`);
  process.exit(1);
}
let stale = 0;
for (const file of files) {
  const path = join(dir, file);
  const text = readFileSync(path, "utf8");
  const vector = JSON.parse(text);
  for (const key of ["name", "description", "message"])
    if (!(key in vector)) throw new Error(`${file}: missing "${key}"`);
  const hex = encode(withBytes(vector.message)).toString("hex");
  const next = `${JSON.stringify({ ...vector, msgpack_hex: hex }, null, 2)}\n`;
  if (next === text) continue;
  stale++;
  if (check) process.stderr.write(`stale: ${file}\n`);
  else writeFileSync(path, next);
}
if (check && stale > 0) {
  process.stderr.write(`${stale} stale vector file(s): run node protocol/vectors/generate.mjs\n`);
  process.exit(1);
}
process.stdout.write(`${files.length} vectors, ${stale} ${check ? "stale" : "rewritten"}\n`);
