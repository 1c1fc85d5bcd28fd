/** `tuneport keygen`: CURVE key pairs for encrypted, authenticated ZeroMQ (docs/SECURITY.md). */
import { mkdirSync } from "node:fs";
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
    if (extra.length > 0 || !/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new UsageError("NAME must be one word of letters, digits, '.', '_' or '-'");
    const dir = v.out as string;
    mkdirSync(dir, { recursive: true });
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
