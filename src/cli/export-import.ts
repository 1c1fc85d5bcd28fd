/** `tuneport export` / `tuneport import`: a study as JSON Lines (format in service/study-io.ts). */
import { closeSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { silentLogger } from "../logger.js";
import { SharedOwnership } from "../service/ownership.js";
import { StudyService } from "../service/study-service.js";
import { PgOwnershipStore } from "../storage/postgres/pg-ownership.js";
import { PostgresStorage } from "../storage/postgres/postgres-storage.js";
import { type Command, UsageError } from "./command.js";
import { openStorage } from "./embedded.js";

export const exportCommand: Command = {
  name: "export",
  summary: "write a study with every trial as JSON Lines (backup, transfer)",
  help: `
Usage: tuneport export NAME [--storage PATH] [--out FILE]

Writes study NAME as JSON Lines: a header line (name, configuration, attributes), then
one line per trial with every stored field (params, distributions, value, intermediate
values, attributes, timestamps in epoch ms, lease). 'tuneport import' recreates it
exactly. Reads the database read-only: safe beside a running server.

Options:
  --storage PATH   SQLite database file [./tuneport.db], or a postgresql:// URL
  --out FILE       write here (atomically: a temporary file renamed at the end) [stdout]
  -h, --help       show this help
`,
  options: {
    storage: { type: "string", default: "./tuneport.db" },
    out: { type: "string" },
  },
  async run(v, pos) {
    const [name, ...extra] = pos;
    if (!name || extra.length > 0) throw new UsageError("expected exactly one study NAME; see --help");
    const storage = await openStorage(v.storage as string, { readonly: true });
    const service = await StudyService.open({ storage, logger: silentLogger(), readOnly: true });
    const out = v.out as string | undefined;
    const tmp = out ? `${out}.tmp-${process.pid}` : null;
    const fd = tmp ? openSync(tmp, "w", 0o600) : 1;
    try {
      let chunk = "";
      for (const line of service.exportStudy(name)) {
        chunk += `${line}\n`;
        if (chunk.length > 1 << 20) {
          writeSync(fd, chunk);
          chunk = "";
        }
      }
      writeSync(fd, chunk);
      if (tmp && out) {
        closeSync(fd);
        renameSync(tmp, out);
      }
    } finally {
      await service.close();
      await storage.close();
    }
    return 0;
  },
};

export const importCommand: Command = {
  name: "import",
  summary: "recreate a study from a 'tuneport export' file",
  help: `
Usage: tuneport import FILE [--storage PATH] [--name NEW]

Recreates the study in FILE (JSON Lines from 'tuneport export'; '-' reads stdin) with
the same trial numbers, states, values and timestamps, in one transaction. Refuses a
study name that exists (pick another with --name) and a malformed file (the error names
the line). SQLite: takes the database's writer lock, so stop the server on that file first.
PostgreSQL: servers may keep running; the import takes the new study's name like a server
does and hands it back at the end, so the first request for it loads it on some server.

Options:
  --storage PATH   SQLite database file (created if missing) [./tuneport.db], or a
                   postgresql:// URL
  --name NEW       import under this name instead of the one in the file
  -h, --help       show this help
`,
  options: {
    storage: { type: "string", default: "./tuneport.db" },
    name: { type: "string" },
  },
  async run(v, pos) {
    const [file, ...extra] = pos;
    if (!file || extra.length > 0) throw new UsageError("expected exactly one FILE; see --help");
    const text = readFileSync(file === "-" ? 0 : file, "utf8");
    const storage = await openStorage(v.storage as string);
    try {
      const logger = silentLogger();
      const ownership =
        storage instanceof PostgresStorage
          ? new SharedOwnership({ store: new PgOwnershipStore(storage), logger, serverId: `import-${randomUUID()}` })
          : undefined;
      const service = await StudyService.open({ storage, logger, reapIntervalMs: 0, ...(ownership ? { ownership } : {}) });
      try {
        const s = await service.importStudy(text, v.name as string | undefined);
        process.stderr.write(`imported study '${s.name}' with ${s.n_trials} trials\n`);
      } finally {
        await service.close();
      }
    } finally {
      await storage.close();
    }
    return 0;
  },
};
