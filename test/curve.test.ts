import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dealer, curveKeyPair } from "zeromq";
import { decode, encode } from "../src/transports/zmq/codec.js";
import { readServerKeys } from "../src/transports/zmq/curve.js";
import { CLI, type ServerProcess, startServer, tempDir, stopServers } from "./helpers.js";

// A failed assertion or hook must not leave a server running.
afterAll(stopServers);

function keygen(name: string, dir: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, "keygen", name, "--out", dir], { encoding: "utf8", timeout: 120_000, killSignal: "SIGKILL" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Sends one request and resolves with the reply, or null when none comes within `ms`. */
async function tryRequest(sock: Dealer, op: string, args: Record<string, unknown>, ms: number): Promise<any> {
  const id = `${op}-${Math.random()}`;
  await sock.send(encode({ v: 1, id, op, ...args }));
  const timer = new Promise<null>((resolve) => setTimeout(() => resolve(null), ms));
  const reply = sock.receive().then(([f]) => decode(f as Buffer), () => null);
  return Promise.race([reply, timer]);
}

describe("CURVE encryption and client allow-list", () => {
  const dir = tempDir("tuneport-curve-");
  const clients = join(dir, "clients");
  let server: ServerProcess;
  const sockets: Dealer[] = [];
  let serverPub: string;

  beforeAll(async () => {
    expect(keygen("server", dir).code).toBe(0);
    expect(keygen("alice", clients).code).toBe(0);
    serverPub = readServerKeys(join(dir, "server.key")).publicKey;
    server = await startServer(join(dir, "db.sqlite"), ["--curve-secret", join(dir, "server.key"), "--curve-allow", clients]);
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    expect(await server.stop()).toBe(0);
  });

  function dealer(opts: ConstructorParameters<typeof Dealer>[0]): Dealer {
    const s = new Dealer({ linger: 0, ...opts });
    sockets.push(s);
    s.connect(server.endpoint);
    return s;
  }

  it("keygen writes a public file and a 0600 secret file, and never overwrites", () => {
    expect(statSync(join(dir, "server.key")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, "server.pub"), "utf8")).toMatch(/public-key = "[^"]{40}"/);
    expect(readFileSync(join(dir, "server.pub"), "utf8")).not.toMatch(/secret-key/);
    const again = keygen("server", dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists; not overwriting/);
    const two = spawnSync(process.execPath, [CLI, "keygen", "a", "b", "--out", dir], { encoding: "utf8", timeout: 120_000, killSignal: "SIGKILL" });
    expect(two.status).toBe(2);
    expect(two.stderr).toMatch(/expected one NAME, got 2: one key pair per command/);
  });

  it("serves a client whose key is on the allow-list", async () => {
    const alice = readServerKeys(join(clients, "alice.key"));
    const s = dealer({ curveServerKey: serverPub, curvePublicKey: alice.publicKey, curveSecretKey: alice.secretKey });
    const r = await tryRequest(s, "create_study", { name: "secure" }, 5_000);
    expect(r).toMatchObject({ ok: true, result: { created: true } });
    const a = await tryRequest(s, "ask", { study: "secure" }, 5_000);
    expect(a.ok).toBe(true);
  });

  it("refuses an unknown client key at the handshake: no ask, no tell", async () => {
    const stranger = curveKeyPair();
    const s = dealer({ curveServerKey: serverPub, curvePublicKey: stranger.publicKey, curveSecretKey: stranger.secretKey });
    expect(await tryRequest(s, "ask", { study: "secure" }, 1_500)).toBeNull();
    // The refusal is logged when the server's ZAP handler runs and read from its stdout pipe: poll for it.
    const refused = () => server.lines.find((l) => l.includes(stranger.publicKey) && l.includes("not on the allow-list"));
    await expect.poll(refused, { timeout: 90_000 }).toBeDefined();
    const line = refused();
    expect(line?.match(/"component":/g)).toEqual(['"component":']); // one component key, not zmq's and zap's
    expect(JSON.parse(line as string).component).toBe("zap");
  });

  it("gives a plaintext client nothing", async () => {
    const s = dealer({});
    expect(await tryRequest(s, "list_studies", {}, 1_500)).toBeNull();
  });

  it("nothing the refused clients sent was applied", async () => {
    const alice = readServerKeys(join(clients, "alice.key"));
    const s = dealer({ curveServerKey: serverPub, curvePublicKey: alice.publicKey, curveSecretKey: alice.secretKey });
    const r = await tryRequest(s, "get_study", { study: "secure" }, 5_000);
    expect(r.result.study.n_trials).toBe(1);
  });

  it("plot and mcp --connect reach it with --curve-server and --curve-secret, and without keys say they may be needed", () => {
    const keys = ["--curve-server", join(dir, "server.pub"), "--curve-secret", join(clients, "alice.key")];
    const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", input: "", timeout: 120_000, killSignal: "SIGKILL" });
    // The server answers: the study has no finished trial to draw yet.
    const plot = cli("plot", "secure", "--connect", server.endpoint, "--out", join(dir, "p.png"), ...keys);
    expect(plot.stderr).toMatch(/no finished trial/);
    expect(plot.stderr).not.toMatch(/no reply/);
    // An agent's MCP session over the encrypted connection: it starts, and ends when stdin closes.
    const mcp = cli("mcp", "--connect", server.endpoint, "--log-level", "silent", ...keys);
    expect([mcp.status, mcp.stderr]).toEqual([0, ""]);
    const bare = cli("plot", "secure", "--connect", server.endpoint, "--timeout", "2", "--out", join(dir, "p.png"));
    expect(bare.status).toBe(1);
    expect(bare.stderr).toMatch(/no reply to 'hello'.*does it require CURVE keys\? pass --curve-server and --curve-secret/);
    const half = cli("plot", "secure", "--connect", server.endpoint, "--curve-server", join(dir, "server.pub"));
    expect(half.status).toBe(2);
    expect(half.stderr).toMatch(/--curve-server and --curve-secret go together/);
    const pubAsKey = cli("plot", "secure", "--connect", server.endpoint, "--curve-server", join(dir, "server.pub"), "--curve-secret", join(clients, "alice.pub"));
    expect(pubAsKey.stderr).toMatch(/holds no secret key \(pass this client's \.key file/);
  });
});

describe("serve's CURVE options", () => {
  it("refuses a secret key file whose public key is another pair's, naming the file", () => {
    const other = tempDir("tuneport-curve-mixed-");
    expect(keygen("a", other).code).toBe(0);
    expect(keygen("b", other).code).toBe(0);
    const a = readFileSync(join(other, "a.key"), "utf8");
    const bPublic = /public-key = "([^"]+)"/.exec(readFileSync(join(other, "b.pub"), "utf8"))?.[1] as string;
    // A function, not a string: Z85 keys hold '$', and a replacement string reads "$&", "$'" and "$`" as patterns.
    writeFileSync(join(other, "mixed.key"), a.replace(/public-key = "[^"]+"/, () => `public-key = "${bPublic}"`));
    const r = spawnSync(process.execPath, [CLI, "serve", "--storage", join(other, "db.sqlite"), "--bind", "tcp://127.0.0.1:0", "--curve-secret", join(other, "mixed.key"), "--curve-allow", join(other, "b.pub")], {
      encoding: "utf8",
      timeout: 120_000,
      killSignal: "SIGKILL",
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/mixed\.key: its public-key is not the public key of its secret-key/);
  });

  it("refuses half a CURVE configuration", async () => {
    const r = spawnSync(process.execPath, [CLI, "serve", "--storage", join(tempDir(), "db.sqlite"), "--bind", "tcp://127.0.0.1:0", "--curve-allow", "x"], {
      encoding: "utf8",
      // A server that wrongly starts is killed, not left running.
      timeout: 120_000,
      killSignal: "SIGKILL",
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--curve-secret and --curve-allow go together/);
  });

  /** A fresh CURVE key set: the server's pair and one client's public key in `clients/`. */
  function curveKeys(client: string): { dir: string; args: string[] } {
    const dir = tempDir("tuneport-curve-warn-");
    expect([keygen("server", dir).code, keygen(client, join(dir, "clients")).code]).toEqual([0, 0]);
    return { dir, args: ["--curve-secret", join(dir, "server.key"), "--curve-allow", join(dir, "clients")] };
  }

  /** Whether a server started with `args` logged a line matching `warning` while starting (it is stopped again). */
  async function warns(args: string[], warning: RegExp): Promise<boolean> {
    const server = await startServer(join(tempDir(), "db.sqlite"), args);
    // Read the lines once the server has stopped and its stdout is read to the end (stop waits for it).
    expect(await server.stop()).toBe(0);
    return server.lines.some((l) => warning.test(l));
  }

  it("warns of a secret key file other users can read, and not of keygen's own (0600)", async () => {
    const { dir, args } = curveKeys("carol");
    const warning = /the CURVE secret key .*server\.key can be read by other users \(mode 644\): chmod 600 it/;
    expect(await warns(args, warning)).toBe(false);
    chmodSync(join(dir, "server.key"), 0o644);
    expect(await warns(args, warning)).toBe(true);
  });

  it("warns that a tokenless loopback dashboard takes actions while CURVE closes ZeroMQ, and not once it has a token", async () => {
    const warning = /the dashboard takes actions .* without a token, while the other doors ask for credentials/;
    const curveArgs = [...curveKeys("bob").args, "--dashboard", "0"];
    expect(await warns(curveArgs, warning)).toBe(true);
    expect(await warns([...curveArgs, "--dashboard-token", "dashboard-token-0123456789"], warning)).toBe(false);
  });
});
