/** `tuneport keygen`: CURVE key pairs for encrypted, authenticated ZeroMQ (docs/SECURITY.md). */
import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { writeKeyPair } from "../transports/zmq/curve.js";
import { type Command, UsageError } from "./command.js";

export const keygenCommand: Command = {
  name: "keygen",
  help: `
Usage: tuneport keygen [NAME] [--out DIR]

Writes DIR/NAME.pub (the public key: give it to the other side) and DIR/NAME.key (the
public and the SECRET key, mode 0600: keep it). NAME is 'server' or 'client' or any
name (one per worker machine, say) [server]. Existing files are never overwritten.

The server runs with:  tuneport serve --curve-secret server.key --curve-allow CLIENTS_DIR
where CLIENTS_DIR holds the clients' *.pub files. See docs/SECURITY.md.

Options:
  --out DIR    where to write the files (created if missing) [.]
  -h, --help   show this help
`,
  options: { out: { type: "string", default: "." } },
  async run(v, pos) {
    const [name = "server", ...extra] = pos;
    // Two names (`keygen server worker`) were told "NAME must be one word", which both are.
    if (extra.length > 0) throw new UsageError(`expected one NAME, got ${pos.length}: one key pair per command (run it once for each)`);
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new UsageError("NAME must be one word of letters, digits, '.', '_' or '-'");
    const dir = v.out as string;
    makeDir(dir);
    try {
      const { publicFile, secretFile, publicKey } = writeKeyPair(dir, name);
      process.stdout.write(`public key  ${publicKey}\nwrote       ${publicFile}\n            ${secretFile} (secret, mode 0600)\n`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new UsageError(`${(err as NodeJS.ErrnoException).path} exists; not overwriting a key`);
      throw err;
    }
    return 0;
  },
};

/**
 * `mkdir -p DIR`, refusing a path that exists and is not a folder. Not `mkdirSync(dir, { recursive: true })`:
 * on a file system that answers ENOENT for a folder whose parent exists (/proc) Node's loops forever.
 * @throws UsageError
 */
function makeDir(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      if (!statSync(dir).isDirectory()) throw new UsageError(`--out ${dir} is a file, not a folder; name a folder for the keys`);
      return;
    }
    const parent = dirname(dir);
    let parentIsDir = false;
    try {
      parentIsDir = statSync(parent).isDirectory();
    } catch {
      // missing: made below
    }
    if (code !== "ENOENT" || parentIsDir || parent === dir) throw new UsageError(`--out ${dir}: cannot create the folder (${code})`);
    makeDir(parent);
    mkdirSync(dir);
  }
}
